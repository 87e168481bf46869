"""The Glue Data Catalog: what a crawl writes in the emulator, and the ``glue_partition_wait`` type.

A crawl of Hive-style S3 data (``key=value`` folders) is checked with boto3 against a real
:class:`~generator.local.emulator.LocalAws` on loopback: the database, the table, its partitions, a
re-crawl that adds one, and GetPartitions with an expression (as GlueCatalogPartitionSensor calls it).
The type's exact lowered kwargs, the DAG they build in this lane's Airflow, its located diagnostics, and a
real local run of a wait that times out (the green run is example_glue's, in test_provider_examples).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from generator.compile.build import airflow_major, build_dag
from generator.compile.lower import lower
from generator.compile.pipelines import process
from generator.core.provider_profile import MODERN, installed_profile
from generator.local.emulator import LocalAws
from tests.test_local_run import local_runs, states

ROLE = "arn:aws:iam::123456789012:role/test"
SPEC = "tests/specs/glue_partition.yaml"
TIMES_OUT = "tests/local_run/glue_partition_timeout.yaml"
SENSOR = "airflow.providers.amazon.aws.sensors.glue_catalog_partition.GlueCatalogPartitionSensor"


@pytest.fixture(scope="module")
def aws() -> Any:
    with LocalAws() as emulator:
        yield emulator


def _put(aws: LocalAws, bucket: str, *objects: tuple[str, str]) -> None:
    s3 = aws.client("s3")
    if bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=bucket)
    for key, body in objects:
        s3.put_object(Bucket=bucket, Key=key, Body=body.encode())


def _partitions(glue: Any, database: str, table: str, **kwargs: Any) -> list[tuple[list[str], str]]:
    found = glue.get_partitions(DatabaseName=database, TableName=table, **kwargs)["Partitions"]
    return sorted((p["Values"], p["StorageDescriptor"]["Location"]) for p in found)


def _metrics(glue: Any, name: str) -> tuple[int, int]:
    (metrics,) = glue.get_crawler_metrics(CrawlerNameList=[name])["CrawlerMetricsList"]
    return metrics["TablesCreated"], metrics["TablesUpdated"]


def test_a_crawl_writes_the_table_and_its_partitions(aws: LocalAws) -> None:
    _put(
        aws,
        "crawled",
        ("input/category=mixed/input.csv", "product,value\napple,0.5\n"),
        ("input/category=fruit/part-0.csv", "product,value\npear,1.0\n"),
        ("input/category=fruit/part-1.csv", "product,value\nplum,2.0\n"),  # the same partition twice
        ("other/ignored.csv", "a\n1\n"),  # outside the target
    )
    glue = aws.client("glue")
    glue.create_crawler(
        Name="catalog", Role=ROLE, DatabaseName="sales", Targets={"S3Targets": [{"Path": "s3://crawled/input"}]}
    )
    glue.start_crawler(Name="catalog")
    table = glue.get_table(DatabaseName="sales", Name="input")["Table"]
    assert (table["StorageDescriptor"], table["PartitionKeys"]) == (
        {
            "Location": "s3://crawled/input",
            "Columns": [{"Name": "product", "Type": "string"}, {"Name": "value", "Type": "string"}],
        },
        [{"Name": "category", "Type": "string"}],
    )
    assert _partitions(glue, "sales", "input") == [
        (["fruit"], "s3://crawled/input/category=fruit"),
        (["mixed"], "s3://crawled/input/category=mixed"),
    ]
    # moto evaluates the expression, as GlueCatalogPartitionSensor's GetPartitions needs
    assert _partitions(glue, "sales", "input", Expression="category='mixed'") == [
        (["mixed"], "s3://crawled/input/category=mixed")
    ]
    assert _partitions(glue, "sales", "input", Expression="category='none'") == []
    assert _metrics(glue, "catalog") == (1, 0)

    # a re-crawl adds the new partition once, keeps the others, and reports the table updated
    _put(aws, "crawled", ("input/category=dairy/input.csv", "product,value\nmilk,2.5\n"))
    glue.start_crawler(Name="catalog")
    assert [values for values, _ in _partitions(glue, "sales", "input")] == [["dairy"], ["fruit"], ["mixed"]]
    assert _metrics(glue, "catalog") == (0, 1)
    glue.start_crawler(Name="catalog")  # nothing new
    assert len(_partitions(glue, "sales", "input")) == 3
    assert _metrics(glue, "catalog") == (0, 0)


def test_a_crawl_names_tables_by_prefix_keeps_key_order_and_skips_empty_targets(aws: LocalAws) -> None:
    _put(aws, "events", ("raw/clicks/year=2024/month=06/a.json", "{}"), ("raw/clicks/year=2024/month=07/b.json", "{}"))
    glue = aws.client("glue")
    glue.create_crawler(
        Name="events",
        Role=ROLE,
        DatabaseName="events_db",
        TablePrefix="raw_",
        Targets={"S3Targets": [{"Path": "s3://events/raw/clicks/"}, {"Path": "s3://events/raw/empty/"}]},
    )
    glue.start_crawler(Name="events")
    assert [t["Name"] for t in glue.get_tables(DatabaseName="events_db")["TableList"]] == ["raw_clicks"]
    table = glue.get_table(DatabaseName="events_db", Name="raw_clicks")["Table"]
    assert table["PartitionKeys"] == [{"Name": "year", "Type": "string"}, {"Name": "month", "Type": "string"}]
    assert table["StorageDescriptor"]["Columns"] == []  # no CSV object: no columns
    assert _partitions(glue, "events_db", "raw_clicks", Expression="year='2024' AND month>'06'") == [
        (["2024", "07"], "s3://events/raw/clicks/year=2024/month=07")
    ]


# ----------------------------------------------------------------------------- the task type


def lowered(repo: Path, profile: Any = MODERN) -> dict[str, Any]:
    (result,) = process([repo / SPEC], profile=profile, airflow_major=3)
    assert result.spec is not None, result.diagnostics
    return {task.task_id: (task.operator, task.kwargs) for task in lower(result.spec, profile).tasks}


def test_exact_kwargs_of_every_form(repo: Path) -> None:
    aws = {"aws_conn_id": "aws_default", "region_name": "eu-west-1"}
    assert lowered(repo) == {
        "mixed_partition": (
            SENSOR,
            {
                **aws,
                "database_name": "sales",
                "table_name": "orders",
                "expression": "category='mixed'",
                "poke_interval": 60,
                "timeout": 7200,
                "mode": "reschedule",
            },
        ),
        "todays_partition": (
            SENSOR,
            {
                **aws,
                "database_name": "sales",
                "table_name": "orders",
                "expression": "ds='{{ ds }}'",
                "poke_interval": 30,
                "timeout": 21600,
                "mode": "reschedule",
            },
        ),
        "any_table": (
            SENSOR,
            {
                **aws,
                "database_name": "{{ params.database }}",
                "table_name": "{{ params.table }}",
                "expression": "year='{{ logical_date.year }}' AND region IN ('eu', 'us')",
                "poke_interval": 30,
                "timeout": 21600,
                "mode": "reschedule",
            },
        ),
    }


def test_the_dag_builds_in_this_lane(repo: Path) -> None:
    (result,) = process([repo / SPEC], profile=installed_profile(), airflow_major=airflow_major())
    assert result.config is not None, result.diagnostics
    dag = build_dag(result.dag_id, result.config)
    sensor = dag.get_task("mixed_partition")
    assert type(sensor).__name__ == "GlueCatalogPartitionSensor"
    assert (sensor.database_name, sensor.table_name, sensor.expression) == ("sales", "orders", "category='mixed'")
    assert (sensor.mode, sensor.poke_interval, sensor.timeout, sensor.deferrable) == ("reschedule", 60, 7200, False)


def test_a_wait_for_a_partition_that_never_appears_fails_at_its_timeout(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    outcome = local_runs(request, monkeypatch)(TIMES_OUT)
    assert outcome.exit_code == 1, outcome.output
    assert states(outcome) == {
        "create_bucket": "success",
        "upload_csv": "success",
        "crawl": "success",
        "wait_for_mixed": "success",
        "wait_for_missing": "failed",
        "after_missing": "upstream_failed",
    }
    assert "failed: wait_for_missing (try 1): AirflowSensorTimeout: Sensor has timed out; run duration of" in (
        outcome.output
    )
