"""The S3 operations (copy, delete, create bucket, list, keys unchanged) and s3_wait's richer forms.

Exact lowered kwargs of every form (tests/specs/s3_operations.yaml), the DAG they build in this lane's Airflow,
the size and age checks of ``S3ObjectChecksSensor`` against real objects on moto's S3, and a real local run
of tests/local_run/s3_operations.yaml.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from generator.compile.build import airflow_major, build_dag
from generator.compile.lower import lower
from generator.compile.pipelines import process
from generator.core.provider_profile import MODERN, installed_profile
from tests.test_local_run import local_runs, states

SPEC = "tests/specs/s3_operations.yaml"
LOCAL = "tests/local_run/s3_operations.yaml"
AWS = {"aws_conn_id": "aws_data", "region_name": "eu-west-1"}
WAIT = {"poke_interval": 15, "timeout": 3600}
S3 = "airflow.providers.amazon.aws.operators.s3."


def lowered(repo: Path) -> dict[str, Any]:
    (result,) = process([repo / SPEC], profile=MODERN, airflow_major=3)
    assert result.spec is not None, result.diagnostics
    return {task.task_id: (task.operator, task.kwargs) for task in lower(result.spec, MODERN).tasks}


def test_exact_kwargs_of_every_form(repo: Path) -> None:
    tasks = lowered(repo)
    assert tasks["make_exports"] == (
        S3 + "S3CreateBucketOperator",
        {**AWS, "bucket_name": "exports-{{ ds_nodash }}"},
    )
    assert tasks["copy_orders"] == (
        S3 + "S3CopyObjectOperator",
        {
            **AWS,
            "source_bucket_key": "s3://landing-bucket/incoming/{{ ds }}/orders.csv",
            "dest_bucket_key": "s3://exports-{{ ds_nodash }}/orders.csv",
        },
    )
    assert tasks["list_csv"] == (
        S3 + "S3ListOperator",
        {
            **AWS,
            "bucket": "landing-bucket",
            "prefix": "incoming/{{ ds }}/*.csv",
            "delimiter": "/",
            "apply_wildcard": True,
        },
    )
    assert tasks["list_all"] == (S3 + "S3ListOperator", {**AWS, "bucket": "landing-bucket", "prefix": ""})
    assert tasks["drop_staging"] == (
        S3 + "S3DeleteObjectsOperator",
        {**AWS, "bucket": "landing-bucket", "prefix": "staging/{{ ds }}/"},
    )
    assert tasks["drop_markers"] == (
        S3 + "S3DeleteObjectsOperator",
        {**AWS, "bucket": "audit-bucket", "keys": ["{{ ds }}/_SUCCESS", "{{ ds }}/_STARTED"]},
    )
    unchanged = "airflow.providers.amazon.aws.sensors.s3.S3KeysUnchangedSensor"
    assert tasks["settled"] == (
        unchanged,
        {
            **AWS,
            "bucket_name": "landing-bucket",
            "prefix": "incoming/{{ ds }}/",
            "inactivity_period": 600,
            "min_objects": 2,
            "allow_delete": False,
            **WAIT,
        },
    )
    assert tasks["settled_deferred"] == (
        unchanged,
        {
            **AWS,
            "bucket_name": "audit-bucket",
            "prefix": "{{ ds }}/",
            "inactivity_period": 3600,
            "min_objects": 1,
            "allow_delete": True,
            **WAIT,
            "deferrable": True,
        },
    )


def test_exact_kwargs_of_the_s3_wait_forms(repo: Path) -> None:
    tasks = lowered(repo)
    sensor, checks = (
        "airflow.providers.amazon.aws.sensors.s3.S3KeySensor",
        "generator.runtime.s3_checks.S3ObjectChecksSensor",
    )
    assert tasks["both_landed"] == (
        sensor,
        {
            **AWS,
            "bucket_key": ["incoming/{{ ds }}/orders.csv", "incoming/{{ ds }}/customers.csv"],
            "wildcard_match": False,
            **WAIT,
            "bucket_name": "{{ params.bucket }}",
            "mode": "reschedule",
        },
    )
    assert tasks["parts_landed"] == (
        sensor,
        {
            **AWS,
            "bucket_key": r"incoming/{{ ds }}/part-[0-9]+\.parquet$",
            "use_regex": True,
            **WAIT,
            "bucket_name": "landing-bucket",
            "mode": "reschedule",
        },
    )
    assert tasks["big_fresh_csv"] == (
        checks,
        {
            **AWS,
            "bucket_key": "s3://landing-bucket/incoming/{{ ds }}/*.csv",
            "wildcard_match": True,
            **WAIT,
            "min_size": 1024,
            "max_age": 21600,
            "mode": "reschedule",
        },
    )
    assert tasks["big_marker"] == (
        checks,
        {
            **AWS,
            "bucket_key": ["s3://landing-bucket/incoming/{{ ds }}/_SUCCESS", "s3://audit-bucket/{{ ds }}/_SUCCESS"],
            "wildcard_match": False,
            **WAIT,
            "min_size": 1,
            "mode": "reschedule",
        },
    )


def test_a_task_maps_over_what_s3_list_returns(repo: Path) -> None:
    tasks = lowered(repo)
    operator, items = tasks["load_csv_items"]
    assert items["op_args"] == ['{"key": "@@dagen:item@@"}', "list_csv", 50, "skip", "load_csv"]
    assert tasks["load_csv"][1]["expand"] == {"payload": "load_csv_items.output"}


def test_the_dag_builds_in_this_lane(repo: Path) -> None:
    (result,) = process([repo / SPEC], profile=installed_profile(), airflow_major=airflow_major())
    assert result.config is not None, result.diagnostics
    dag = build_dag(result.dag_id, result.config)
    wait = dag.get_task("big_fresh_csv")
    assert type(wait).__name__ == "S3ObjectChecksSensor"
    assert (wait.min_size, wait.max_age, wait.mode, wait.wildcard_match) == (1024, 21600, "reschedule", True)
    assert wait.check_fn == wait.objects_pass
    assert dag.get_task("list_csv").apply_wildcard is True
    assert dag.get_task("settled").inactivity_period == 600
    assert sorted(dag.get_task("drop_staging").upstream_task_ids) == ["copy_orders", "load_csv", "settled"]


# ----------------------------------------------------------------------------- the checks on real objects


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Any:
    import boto3
    from moto import mock_aws

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="landing")
        client.put_object(Bucket="landing", Key="in/small.csv", Body=b"x" * 10)
        client.put_object(Bucket="landing", Key="in/big.csv", Body=b"x" * 2048)
        yield client


def poke(context_end: datetime, **kwargs: Any) -> bool:
    from generator.runtime.s3_checks import S3ObjectChecksSensor

    sensor = S3ObjectChecksSensor(task_id="wait", aws_conn_id=None, bucket_name="landing", **kwargs)
    return bool(sensor.poke({"data_interval_end": context_end}))


def test_size_and_age_checks_on_moto_objects(s3: Any) -> None:
    now = datetime.now(timezone.utc)
    assert poke(now, bucket_key="in/big.csv", min_size=2048) is True
    assert poke(now, bucket_key="in/big.csv", min_size=2049) is False
    assert poke(now, bucket_key="in/small.csv", min_size=11) is False
    assert poke(now, bucket_key="in/missing.csv", min_size=0) is False
    # a pattern: one matching object big enough is enough
    assert poke(now, bucket_key="in/*.csv", wildcard_match=True, min_size=1000) is True
    assert poke(now, bucket_key="in/*.csv", wildcard_match=True, min_size=4096) is False
    # age: counted back from the data interval end
    assert poke(now + timedelta(minutes=30), bucket_key="in/big.csv", max_age=3600) is True
    assert poke(now + timedelta(hours=2), bucket_key="in/big.csv", max_age=3600) is False
    assert poke(now + timedelta(hours=2), bucket_key="in/*.csv", wildcard_match=True, max_age=3600) is False
    # several keys: every one must pass
    assert poke(now, bucket_key=["in/big.csv", "in/small.csv"], min_size=5) is True
    assert poke(now, bucket_key=["in/big.csv", "in/small.csv"], min_size=100) is False


# ----------------------------------------------------------------------------- a real local run

GREEN = {
    "make_bucket": "success",
    "landed": "success",
    "copy_orders": "success",
    "copy_customers": "success",
    "list_exports": "success",
    "load_each_items": "success",
    "load_each[0]": "success",
    "load_each[1]": "success",
    "settled": "success",
    "drop_landed": "success",
    "drop_exports": "success",
    # after the deletes both prefixes list no keys: the tasks mapped over them map nothing
    "exports_left": "success",
    "each_export_left_items": "success",
    "each_export_left": "skipped",
    "landing_left": "success",
    "each_landing_left_items": "success",
    "each_landing_left": "skipped",
}


@pytest.fixture(scope="module")
def runs(request: pytest.FixtureRequest) -> Any:
    with pytest.MonkeyPatch.context() as patch:
        yield local_runs(request, patch)


def test_local_run_is_green_and_leaves_nothing_behind(runs: Any) -> None:
    outcome = runs(LOCAL)
    assert outcome.exit_code == 0, outcome.output
    assert states(outcome) == GREEN
    report = outcome.report
    assert {row["try_number"] for row in report["tasks"] if row["state"] == "success"} == {1}  # no retry
    # the bucket s3_create_bucket makes is not made by the run beforehand: only the landing bucket is
    assert report["buckets"] == ["dagen-s3ops-landing"]
    ds = report["logical_date"][:10]
    landing, exports = f"s3://dagen-s3ops-landing/incoming/{ds}", f"s3://dagen-s3ops-exports/{ds}"
    objects = {(o["uri"], o["origin"], o["provided_for"]) for o in report["emulator"]["objects"]}
    assert objects == {
        (f"{landing}/orders.csv", None, "landed"),  # put by the run, min_size bytes, for the s3_wait
        (f"{landing}/customers.csv", None, "landed"),
        (f"{exports}/orders.csv", "copy_orders", None),
        (f"{exports}/customers.csv", "copy_customers", None),
    }
    invoked = []
    for invocation in report["emulator"]["invocations"]:
        payload = invocation["payload"]
        invoked.append((json.loads(payload) if isinstance(payload, str) else payload, invocation["origin"]))
    assert sorted(invoked, key=str) == sorted(
        [({"key": f"{ds}/customers.csv"}, "load_each[0]"), ({"key": f"{ds}/orders.csv"}, "load_each[1]")], key=str
    )
