"""Task groups, long-running clusters, asset schedules and notifications, built by Airflow in each lane."""

from __future__ import annotations

import json
import os
import shutil
import sys
import types
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from generator.compile.build import airflow_major
from generator.compile.notifications import PipelineNotifier
from tests.airflow_compat import dagbag, graph

FEATURES = Path(__file__).parent / "specs_features"


@pytest.fixture(scope="module")
def bag(repo: Path, tmp_path_factory: pytest.TempPathFactory):
    dags = tmp_path_factory.mktemp("features") / "dags"
    dags.mkdir()
    shutil.copy(repo / "dags" / "pipelines_loader.py", dags)
    shutil.copytree(FEATURES, dags / "pipelines")
    sys.path.insert(0, str(dags / "pipelines"))  # the bundle's pipelines/ modules, as on MWAA workers
    try:
        yield dagbag(dags)
    finally:
        sys.path.remove(str(dags / "pipelines"))


def test_all_feature_specs_build(bag) -> None:
    assert bag.import_errors == {}
    assert sorted(bag.dag_ids) == ["curation_consumer", "curation_producer", "either_consumer"]
    assert not any("dagen:invalid-spec" in dag.tags for dag in bag.dags.values())


def test_groups_prefix_ids_and_group_dependencies_expand(bag) -> None:
    dag = bag.dags["curation_producer"]
    shape = graph(dag)
    assert {task_id: task["upstream"] for task_id, task in shape.items()} == {
        "prepare.clean": [],
        "prepare.enrich": ["prepare.clean"],
        "prepare.notebook": ["prepare.clean"],
        # `depends_on: [prepare]` is the group's last tasks
        "publish.curate": ["prepare.enrich", "prepare.notebook"],
    }
    assert {task.task_id: task.task_group.group_id for task in dag.tasks} == {
        "prepare.clean": "prepare",
        "prepare.enrich": "prepare",
        "prepare.notebook": "prepare",
        "publish.curate": "publish",
    }
    assert dag.task_group.children["prepare"].tooltip == "Prepare the raw data"
    # a task that starts work and waits for it is one task, inside its group
    assert type(dag.get_task("prepare.notebook")).__name__ == "RetrySafeEmrNotebookExecutionOperator"
    assert type(dag.get_task("publish.curate")).__name__ == "RetrySafeStepFunctionStartExecutionOperator"


def test_existing_cluster_is_used_not_managed(bag) -> None:
    dag = bag.dags["curation_producer"]
    assert not any(task.is_setup or task.is_teardown for task in dag.tasks)
    assert dag.get_task("prepare.clean").job_flow_id == "{{ var.value.shared_emr_cluster_id }}"
    assert dag.get_task("prepare.notebook").cluster_id == "{{ var.value.shared_emr_cluster_id }}"


def asset_uris(value) -> list[str]:
    """URIs inside an asset/dataset condition, across both Airflow majors."""
    children = getattr(value, "objects", None)
    if children is None:
        return [value.uri]
    return [uri for child in children for uri in asset_uris(child)]


def test_asset_schedules_and_outlets(bag) -> None:
    producer = bag.dags["curation_producer"]
    # Airflow normalises s3:// URIs (no trailing slash) the same way on both sides, so they still match
    # on the task that waits for the execution: the data exists once it ended
    assert [outlet.uri for outlet in producer.get_task("publish.curate").outlets] == ["s3://warehouse/curated"]
    consumer, either = bag.dags["curation_consumer"], bag.dags["either_consumer"]
    assert "Triggered" in type(consumer.timetable).__name__
    assert type(
        consumer.timetable.asset_condition
        if hasattr(consumer.timetable, "asset_condition")
        else consumer.timetable.dataset_condition
    ).__name__ in ("AssetAll", "DatasetAll")
    condition = (
        either.timetable.asset_condition
        if hasattr(either.timetable, "asset_condition")
        else either.timetable.dataset_condition
    )
    assert type(condition).__name__ in ("AssetAny", "DatasetAny")
    assert asset_uris(condition) == ["s3://warehouse/curated", "s3://warehouse/raw"]


def notifier(callback) -> PipelineNotifier:
    callbacks = callback if isinstance(callback, list) else [callback]
    (only,) = callbacks
    assert isinstance(only, PipelineNotifier)
    return only


def test_notifications_are_wired_per_event(bag) -> None:
    dag = bag.dags["curation_producer"]
    task = dag.get_task("prepare.clean")
    on_failure = notifier(task.on_failure_callback)
    assert (on_failure.event, on_failure.aws_conn_id) == ("on_task_failure", "aws_default")
    assert on_failure.targets == [
        {"sns": "arn:aws:sns:us-east-1:123456789012:data-alerts"},
        {"email": ["oncall@example.com"], "subject": "{{ dag.dag_id }} needs attention"},
    ]
    assert notifier(task.on_retry_callback).targets == [{"callback": "lib.alerts.note_retry"}]
    assert notifier(dag.on_failure_callback).event == "on_run_failure"
    assert notifier(dag.on_success_callback).targets == [{"callback": "lib.alerts.celebrate"}]
    assert bag.dags["curation_consumer"].on_failure_callback is None


def test_notifier_publishes_to_sns_and_calls_callbacks(bag, sns_inbox) -> None:
    """The run-success notifier calls the spec's callback; the task-failure one publishes to a real SNS server."""
    _, receive = sns_inbox
    dag = bag.dags["curation_producer"]
    ti = types.SimpleNamespace(task_id="prepare.clean", try_number=2, log_url="http://airflow/log")
    context = {"dag": dag, "ti": ti, "task_instance": ti, "run_id": "manual__1"}
    failure = PipelineNotifier(
        event="on_task_failure", targets=[{"sns": "arn:aws:sns:us-east-1:123456789012:data-alerts"}]
    )
    failure(context)
    assert receive() == [
        {
            "Subject": "[Airflow] curation_producer.prepare.clean failed",
            "Message": "DAG curation_producer: failed\nRun: manual__1\nTask: prepare.clean (try 2)\nLog: http://airflow/log",
        }
    ]

    from lib import alerts

    alerts.RECEIVED.clear()
    notifier(dag.on_success_callback)(context)
    assert alerts.RECEIVED == [("celebrate", "curation_producer")]


def test_sla_is_each_airflows_own(bag) -> None:
    """Airflow 3: a Deadline Alert whose callback the triggerer runs; Airflow 2: task SLAs and sla_miss_callback."""
    dag = bag.dags["curation_producer"]
    targets = [
        {"sns": "arn:aws:sns:us-east-1:123456789012:data-alerts", "subject": "{{ dag.dag_id }} is late"},
        {"callback": "lib.alerts.chase"},
    ]
    if airflow_major() >= 3:
        from airflow.sdk import AsyncCallback, DeadlineAlert, DeadlineReference

        assert dag.deadline == [
            DeadlineAlert(
                reference=DeadlineReference.DAGRUN_LOGICAL_DATE,
                interval=timedelta(hours=3),
                callback=AsyncCallback(
                    "generator.compile.notifications.notify_sla_miss",
                    kwargs={"targets": targets, "aws_conn_id": "aws_default", "sla": "3h"},
                ),
            )
        ]
        assert dag.deadline[0].name == "sla"
    else:
        assert {task.task_id: task.sla for task in dag.tasks} == dict.fromkeys(dag.task_ids, timedelta(hours=3))
        told = notifier(dag.sla_miss_callback)
        assert (told.event, told.targets, told.sla) == ("on_sla_miss", targets, "3h")
    consumer = bag.dags["curation_consumer"]
    assert not getattr(consumer, "deadline", None)
    assert not any(getattr(task, "sla", None) for task in consumer.tasks)


EVERY_TYPE_GRAPH = Path(__file__).parent / "expected" / "graphs" / "every_type.yaml"  # DAGEN_UPDATE_GOLDEN=1
EVERY_TYPE_TASKS = [
    "ingest.any_csv",
    "ingest.export_ready",
    "ingest.landed",
    "process.clean",
    "process.daily_counts",
    "process.daily_regions",
    "process.eks_etl",
    "process.load_partitions",
    "process.report_notebook",
    "process.serverless_etl",
    "process.weekly_total",
    "publish.announce",
    "publish.catalogue",
    "publish.crawl",
    "publish.curate",
    "publish.summarise",
]


def test_the_every_type_spec_loads_in_a_dagbag_and_previews(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """tests/local_run/every_type.yaml (every task type and feature; run green by test_local_run) as MWAA loads it."""
    dags = tmp_path / "dags"
    dags.mkdir()
    shutil.copy(repo / "dags" / "pipelines_loader.py", dags)
    shutil.copytree(repo / "tests" / "local_run", dags / "pipelines")
    loaded = dagbag(dags)
    assert loaded.import_errors == {}
    dag = loaded.dags["every_type"]
    assert "dagen:invalid-spec" not in dag.tags
    assert sorted(dag.task_ids) == EVERY_TYPE_TASKS
    shape = graph(dag)
    if os.environ.get("DAGEN_UPDATE_GOLDEN") and airflow_major() >= 3:
        EVERY_TYPE_GRAPH.write_text(yaml.safe_dump(shape, sort_keys=True), encoding="utf-8")
    expected = yaml.safe_load(EVERY_TYPE_GRAPH.read_text(encoding="utf-8"))
    if airflow_major() < 3:  # the lane's providers 9.0 has no GlueCrawlerRunOperator
        expected["publish.crawl"]["operator"] = "GlueCrawlerOperator"
    assert shape == expected
    assert dag.get_task("process.weekly_total").query.startswith("-- The last seven days of orders")
    assert dag.dagrun_timeout == timedelta(hours=2)
    if airflow_major() >= 3:
        assert [alert.interval for alert in dag.deadline] == [timedelta(hours=1)]
    else:
        assert {task.sla for task in dag.tasks} == {timedelta(hours=1)}

    from generator.cli import main

    capsys.readouterr()  # what building the bag printed
    assert main(["preview", "tests/local_run/every_type.yaml", "--format", "json"]) == 0
    (preview,) = json.loads(capsys.readouterr().out)["dags"]
    assert sorted(task["task_id"] for task in preview["tasks"]) == EVERY_TYPE_TASKS
    assert (preview["sla"], preview["dagrun_timeout"]) == ("1h", "2h")
