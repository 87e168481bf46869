"""The task types of issue 9 doing their job in this lane's Airflow: real operators, a real AWS API (moto's
server on loopback), a real HTTP server, and a real slow endpoint for the Lambda timeout.

Each test builds tests/specs/catalogue_more.yaml exactly as the loader does (fresh operators every time: a
fresh build is what each try of a task gets), renders a task's templates the way Airflow does for a run, and
executes or pokes it.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import types
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from generator.compile.build import airflow_major, build_dag
from generator.compile.pipelines import process
from generator.core.provider_profile import installed_profile

RUN_ID = "scheduled__2024-01-01T00:00:00+00:00"
PARAMS = {"bucket": "landing-bucket", "partitions": ["a", "b"]}


def build(spec: Path) -> Any:
    (result,) = process([spec], profile=installed_profile(), airflow_major=airflow_major())
    assert result.config is not None, result.diagnostics
    return build_dag(result.dag_id, result.config)


@pytest.fixture
def catalogue(repo: Path) -> Callable[[], Any]:
    return lambda: build(repo / "tests" / "specs" / "catalogue_more.yaml")


def run_context(dag: Any, task: Any, *, try_number: int = 1, max_tries: int = 1, run_id: str = RUN_ID) -> dict:
    """What Airflow puts in the template context for one try (the names the specs' templates read)."""
    ti = types.SimpleNamespace(
        dag_id=dag.dag_id,
        task_id=task.task_id,
        map_index=-1,
        try_number=try_number,
        max_tries=max_tries,
        xcom_push=lambda **_: None,  # operator links are stored through it
    )
    return {
        "dag": dag,
        "ti": ti,
        "task_instance": ti,
        "run_id": run_id,
        "ds": "2024-01-01",
        "ds_nodash": "20240101",
        "params": dict(PARAMS),
        "macros": types.SimpleNamespace(uuid=uuid),
        "var": {"value": types.SimpleNamespace(orders_token="t0ken", athena_workgroup="analytics")},
    }


def rendered(dag: Any, task_id: str, **context_args: Any) -> tuple[Any, dict]:
    task = dag.get_task(task_id)
    context = run_context(dag, task, **context_args)
    task.render_template_fields(context)
    return task, context


def deferred(task: Any, context: dict) -> Any:
    """Execute until the operator defers (both EMR job operators and Athena wait in the triggerer)."""
    try:
        from airflow.sdk.exceptions import TaskDeferred  # Airflow 3
    except ImportError:
        from airflow.exceptions import TaskDeferred  # type: ignore[no-redef,attr-defined]  # Airflow 2
    with pytest.raises(TaskDeferred) as raised:
        task.execute(context)
    return raised.value


@pytest.fixture(scope="module")
def aws() -> Iterator[str]:
    """moto's server on loopback; the pipeline's connection (aws_data) points at it."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    patch = pytest.MonkeyPatch()
    patch.setenv("AWS_ACCESS_KEY_ID", "testing")
    patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    patch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    for conn_id in ("AWS_DATA", "AWS_ARCHIVE"):
        extra = {"endpoint_url": endpoint, "region_name": "eu-west-1"}
        patch.setenv(f"AIRFLOW_CONN_{conn_id}", json.dumps({"conn_type": "aws", "extra": extra}))
    try:
        yield endpoint
    finally:
        patch.undo()
        server.stop()


def client(endpoint: str, service: str) -> Any:
    import boto3

    return boto3.client(service, endpoint_url=endpoint, region_name="eu-west-1")


def spy(task: Any, method: str) -> list[dict]:
    """Record the requests the operator's own boto3 client sends (then sends them on)."""
    conn = task.hook.conn
    calls: list[dict] = []
    real = getattr(conn, method)

    def record(**kwargs: Any) -> Any:
        calls.append(kwargs)
        return real(**kwargs)

    setattr(conn, method, record)
    return calls


def test_emr_serverless_retry_sends_the_first_tries_token(catalogue: Callable[[], Any], aws: str) -> None:
    emr = client(aws, "emr-serverless")
    app = emr.create_application(name="etl", releaseLabel="emr-7.5.0", type="SPARK")["applicationId"]
    requests = []
    for try_number in (1, 2):  # each try parses the DAG file again: new operator objects
        dag = catalogue()
        task, context = rendered(
            dag, "serverless_etl", try_number=try_number, max_tries=dag.get_task("serverless_etl").retries
        )
        task.application_id = app
        calls = spy(task, "start_job_run")
        deferred(task, context)
        requests += calls
    first = requests[0]
    # try 2 first asks for try 1's job run with try 1's token (stock moto, unlike AWS, then starts another)
    assert len(requests) > 1 and {request["clientToken"] for request in requests} == {first["clientToken"]}
    assert first["name"] == "etl-2024-01-01"
    assert first["jobDriver"] == {
        "sparkSubmit": {
            "entryPoint": "s3://code-bucket/jobs/etl.py",
            "entryPointArguments": ["--day", "2024-01-01", "--bucket", "landing-bucket"],
            "sparkSubmitParameters": "--conf spark.executor.memory=4g --conf spark.dynamicAllocation.enabled=true "
            "--conf spark.executor.cores=2 --py-files s3://code-bucket/jobs/common.zip",
        }
    }
    assert first["configurationOverrides"] == {
        "applicationConfiguration": [
            {
                "classification": "spark-defaults",
                "properties": {"spark.driver.extraJavaOptions": "-Dlog4j.debug=false -Dday=2024-01-01"},
            }
        ],
        "monitoringConfiguration": {"s3MonitoringConfiguration": {"logUri": "s3://logs-bucket/serverless/"}},
    }


def test_emr_on_eks_retry_sends_the_first_tries_token(catalogue: Callable[[], Any], aws: str) -> None:
    eks = client(aws, "emr-containers")
    cluster = eks.create_virtual_cluster(
        name="analytics",
        containerProvider={"type": "EKS", "id": "analytics-eks", "info": {"eksInfo": {"namespace": "spark"}}},
    )["id"]
    requests = []
    for try_number in (1, 2):
        dag = catalogue()
        task, context = rendered(dag, "eks_etl", try_number=try_number, max_tries=dag.get_task("eks_etl").retries)
        task.virtual_cluster_id = cluster
        calls = spy(task, "start_job_run")
        deferred(task, context)
        requests += calls
    first = requests[0]
    # try 2 first asks for try 1's job run with try 1's token (stock moto, unlike AWS, then starts another)
    assert len(requests) > 1 and {request["clientToken"] for request in requests} == {first["clientToken"]}
    assert first["releaseLabel"] == "emr-7.5.0-latest" and first["name"] == "eks-2024-01-01"
    assert first["jobDriver"]["sparkSubmitJobDriver"]["sparkSubmitParameters"] == (
        "--conf spark.executor.instances=2 --conf spark.executor.memory=2g"
    )


def test_athena_query_runs_rendered_with_its_result_location(catalogue: Callable[[], Any], aws: str) -> None:
    athena = client(aws, "athena")
    athena.create_work_group(Name="analytics")
    task, context = rendered(catalogue(), "daily_counts")
    deferred(task, context)
    (execution_id,) = athena.list_query_executions(WorkGroup="analytics")["QueryExecutionIds"]
    execution = athena.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]
    assert execution["Query"] == (
        "INSERT INTO daily_counts SELECT DATE '2024-01-01', count(*) FROM events WHERE day = DATE '2024-01-01'"
    )
    assert execution["QueryExecutionContext"] == {"Database": "analytics", "Catalog": "AwsDataCatalog"}
    # Athena names the result file after the query, under the rendered location
    assert (
        execution["ResultConfiguration"]["OutputLocation"] == f"s3://athena-results/catalogue_more/{execution_id}.csv"
    )
    assert execution["WorkGroup"] == "analytics"


def test_athena_query_file_runs_the_sql_of_the_file_rendered(catalogue: Callable[[], Any], aws: str) -> None:
    """daily_summary's SQL is tests/specs/sql/daily_summary.sql, read when the spec was compiled."""
    athena = client(aws, "athena")
    task, context = rendered(catalogue(), "daily_summary")
    calls = spy(task, "start_query_execution")
    deferred(task, context)
    (request,) = calls
    assert request["QueryString"] == (
        "-- The statement of catalogue_more's daily_summary task (query_file): Jinja is rendered when the task "
        "runs.\n"
        "INSERT INTO daily_summary\n"
        "SELECT DATE '2024-01-01' AS day, source, count(*) AS events\n"
        "FROM landing-bucket_db.events\n"
        "WHERE day = DATE '2024-01-01'\n"
        "  AND partition_1 = 'a'\n"
        "  AND partition_2 = 'b'\n"
        "GROUP BY source"
    )
    execution = athena.get_query_execution(QueryExecutionId=task.query_execution_id)["QueryExecution"]
    assert execution["Query"] == request["QueryString"]
    assert execution["QueryExecutionContext"] == {"Database": "reporting", "Catalog": "AwsDataCatalog"}
    assert execution["WorkGroup"] == "primary"


def test_s3_wait_finds_keys_patterns_and_literal_stars(catalogue: Callable[[], Any], aws: str) -> None:
    s3 = client(aws, "s3")
    s3.create_bucket(Bucket="landing-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    dag = catalogue()
    waits = {task_id: rendered(dag, task_id) for task_id in ("landed", "landed_csv", "landed_star_in_name")}
    assert not any(task.poke(context) for task, context in waits.values())
    s3.put_object(Bucket="landing-bucket", Key="incoming/2024-01-01/_SUCCESS", Body=b"")
    s3.put_object(Bucket="landing-bucket", Key="incoming/2024-01-01/orders.csv", Body=b"id\n")
    s3.put_object(Bucket="landing-bucket", Key="odd/nameXwith-star", Body=b"")  # a '*' would match this
    assert waits["landed"][0].poke(waits["landed"][1])
    assert waits["landed_csv"][0].poke(waits["landed_csv"][1])
    assert not waits["landed_star_in_name"][0].poke(waits["landed_star_in_name"][1])  # wildcard: false
    s3.put_object(Bucket="landing-bucket", Key="odd/name*with-star", Body=b"")
    assert waits["landed_star_in_name"][0].poke(waits["landed_star_in_name"][1])


def _read_request(conn: socket.socket) -> bytes:
    """One whole HTTP request (headers and Content-Length body), however the client split it into packets."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0
    )
    while len(body) < length:
        body += conn.recv(65536)
    return head + b"\r\n\r\n" + body


@pytest.fixture
def unanswered_endpoint() -> Iterator[tuple[str, list[bytes]]]:
    """An HTTP endpoint that reads each request and never answers (a Lambda that runs too long)."""
    listener = socket.create_server(("127.0.0.1", 0))
    received: list[bytes] = []
    connections: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            connections.append(conn)
            received.append(_read_request(conn))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", received
    finally:
        stop.set()
        thread.join()
        for conn in connections:
            conn.close()
        listener.close()


def test_lambda_is_invoked_once_even_when_the_response_never_comes(
    tmp_path: Path, unanswered_endpoint: tuple[str, list[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint, received = unanswered_endpoint
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_DEFAULT",
        json.dumps({"conn_type": "aws", "extra": {"endpoint_url": endpoint, "region_name": "eu-west-1"}}),
    )
    spec = tmp_path / "slow_lambda.yaml"
    spec.write_text(
        'start_date: 2024-01-01\nschedule: "@daily"\ntasks:\n'
        "  load:\n    type: lambda_invoke\n    function_name: load\n    payload: {day: '{{ ds }}'}\n    timeout: 2s\n",
        encoding="utf-8",
    )
    dag = build(spec)
    task, context = rendered(dag, "load")
    assert task.hook.conn.meta.config.read_timeout == 2
    with pytest.raises(Exception, match="Read timeout"):  # botocore's ReadTimeoutError
        task.execute(context)
    # botocore's default would have sent the invoke again (a second run of the function); this client never does
    assert len(received) == 1 and received[0].startswith(b"POST /2015-03-31/functions/load/invocations")
    assert received[0].endswith(b'{"day": "2024-01-01"}')


def test_lambda_payload_keeps_json_types(catalogue: Callable[[], Any]) -> None:
    task, _ = rendered(catalogue(), "load_partitions")
    assert json.loads(task.payload) == {
        "table": "daily_counts",
        "day": "2024-01-01",
        "partitions": ["a", "b"],
        "fixed": [1, 2],
    }
    assert task.botocore_config == {"read_timeout": 300, "retries": {"total_max_attempts": 1}}


class _Api(BaseHTTPRequestHandler):
    """An export API: /v1/exports/DAY/status answers what the test set in `state`."""

    state: dict[str, Any] = {}

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        status, body = self.state.get(self.path.split("?")[0], (404, {"error": "unknown export"}))
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        self.state.setdefault("seen", []).append((self.path, self.headers.get("Authorization")))

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    _Api.state = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("AIRFLOW_CONN_ORDERS_API", f"http://127.0.0.1:{server.server_address[1]}")
    try:
        yield _Api.state
    finally:
        server.shutdown()
        server.server_close()


def test_http_wait_polls_until_the_declared_response(catalogue: Callable[[], Any], api: dict[str, Any]) -> None:
    task, context = rendered(catalogue(), "export_ready")
    path = "/v1/exports/2024-01-01/status"
    assert task.poke(context) is False  # 404: not yet
    api[path] = (202, {"export": {"state": "RUNNING"}})
    assert task.poke(context) is False  # 2xx, but not the 200 the spec waits for
    api[path] = (200, {"export": {"state": "RUNNING"}})
    assert task.poke(context) is False  # 200, but the JSON says it is not done
    api[path] = (200, {"export": {"state": "COMPLETED"}})
    assert task.poke(context) is True
    assert api["seen"][-1] == (f"{path}?day=2024-01-01&limit=1&verbose=True", "Bearer t0ken")
    api[path] = (500, {"error": "down"})
    with pytest.raises(Exception, match="500"):  # the provider's AirflowException
        task.poke(context)  # other errors fail the task (after its retries) instead of waiting for hours


def test_python_task_calls_the_pipelines_function_with_typed_kwargs(repo: Path, tmp_path: Path) -> None:
    import shutil

    dags = tmp_path / "dags"
    dags.mkdir()
    shutil.copy(repo / "dags" / "pipelines_loader.py", dags)
    shutil.copytree(repo / "tests" / "specs", dags / "pipelines")
    dag = build(dags / "pipelines" / "catalogue_more.yaml")
    dag_file = types.SimpleNamespace(fileloc=str(dags / "pipelines_loader.py"), dag_id=dag.dag_id)
    with mock.patch.object(sys, "path", list(sys.path)), mock.patch.dict(sys.modules):
        summarise, context = rendered(dag, "summarise")
        assert summarise.execute({**context, "dag": dag_file}) == {
            "table": "daily_counts",
            "day": "2024-01-01",
            "partitions": ["a", "b"],  # a list param stays a list
            "ds": "2024-01-01",  # a context value the function's signature names
        }
        ping, context = rendered(dag, "ping")
        assert ping.execute({**context, "dag": dag_file}) == "pong 2024-01-01 ping"
        assert sys.modules["catalogue_lib.tasks"].__file__ == str(dags / "pipelines" / "catalogue_lib" / "tasks.py")
