"""Test set-up shared by both Airflow lanes: an isolated AIRFLOW_HOME, no telemetry."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# Before anything imports airflow: a throw-away home, no examples, no dag-factory telemetry.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="dagen-airflow-home-"))
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__DAG_FACTORY__ENABLE_TELEMETRY"] = "False"
os.environ["DO_NOT_TRACK"] = "1"

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture
def sns_inbox(monkeypatch: pytest.MonkeyPatch):
    """A real moto server on loopback with the `data-alerts` topic delivering to a queue.

    Yields ``(connection_json, receive)``: the ``aws_default`` connection that points at the server (also
    exported as AIRFLOW_CONN_AWS_DEFAULT) and a function returning the messages published so far.
    """
    import json
    import urllib.request

    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        # moto's backends are process-global: start from an empty account, not an earlier test's queue
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))  # noqa: S310
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        connection = json.dumps({"conn_type": "aws", "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"}})
        monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", connection)
        sns = boto3.client("sns", endpoint_url=endpoint, region_name="us-east-1")
        topic = sns.create_topic(Name="data-alerts")["TopicArn"]
        sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
        queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

        def receive() -> list[dict[str, str]]:
            messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
            for message in messages:
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
            return [{key: json.loads(message["Body"])[key] for key in ("Subject", "Message")} for message in messages]

        yield connection, receive
    finally:
        server.stop()
