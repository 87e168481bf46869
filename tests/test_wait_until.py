"""``wait_until``: the states table against the AWS API, the exact sensors it lowers to, and a real local run."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import botocore.session
import pytest

from generator.compile.build import airflow_major, build_dag
from generator.compile.lower import lower
from generator.compile.pipelines import process
from generator.core.provider_profile import installed_profile
from generator.task_types.wait_states import KINDS, known_states
from tests.test_local_run import local_runs, states

VALID = Path(__file__).parent / "cases" / "valid_wait_until"
LOCAL = "tests/local_run/waits.yaml"
SENSORS = "airflow.providers.amazon.aws.sensors"


def api_states(service: str, shape: str) -> list[str]:
    """The enum of a status shape; Redshift's ClusterStatus is a string whose documentation lists the values."""
    model = botocore.session.get_session().get_service_model(service)
    if "." not in shape:
        return list(model.shape_for(shape).enum)
    structure, member = shape.split(".")
    documentation = model.shape_for(structure).members[member].documentation
    return re.findall(r"<code>([^<]+)</code>", documentation)


@pytest.mark.parametrize("name", list(KINDS))
def test_every_state_of_the_table_is_the_aws_apis(name: str) -> None:
    kind = KINDS[name]
    found = api_states(*kind.api)
    assert sorted(set(known_states(kind)) - set(kind.pseudo)) == sorted(found)
    assert set(kind.states) | set(kind.failed) | set(kind.other) <= set(found) | set(kind.pseudo)
    assert not set(kind.other) & set(kind.states)
    if not kind.failed_configurable:  # a sensor that raises on its failure states never reaches them as targets
        assert not set(kind.failed) & set(kind.states)


def test_the_failure_states_are_the_sensors_own() -> None:
    from airflow.providers.amazon.aws.hooks.emr import EmrServerlessHook
    from airflow.providers.amazon.aws.sensors.athena import AthenaSensor
    from airflow.providers.amazon.aws.sensors.glue import GlueJobSensor
    from airflow.providers.amazon.aws.sensors.lambda_function import LambdaFunctionStateSensor
    from airflow.providers.amazon.aws.sensors.step_function import StepFunctionExecutionSensor

    assert set(KINDS["emr_serverless_job"].failed) == EmrServerlessHook.JOB_FAILURE_STATES
    assert set(KINDS["emr_serverless_application"].failed) == EmrServerlessHook.APPLICATION_FAILURE_STATES
    assert set(KINDS["athena_query"].failed) == set(AthenaSensor.FAILURE_STATES)
    assert set(KINDS["athena_query"].states) == set(AthenaSensor.SUCCESS_STATES)
    assert set(KINDS["step_function"].states) == set(StepFunctionExecutionSensor.SUCCESS_STATES)
    assert set(KINDS["step_function"].failed) == set(StepFunctionExecutionSensor.FAILURE_STATES)
    assert set(KINDS["lambda_function"].failed) == set(LambdaFunctionStateSensor.FAILURE_STATES)
    sensor = GlueJobSensor(task_id="t", job_name="j", run_id="r")
    assert (list(KINDS["glue_job"].states), list(KINDS["glue_job"].failed)) == (
        list(getattr(sensor, "success_states", None) or GlueJobSensor.SUCCESS_STATES),
        list(getattr(sensor, "errored_states", None) or GlueJobSensor.FAILURE_STATES),
    )


RESCHEDULE = {"aws_conn_id": "aws_default", "poke_interval": 30, "timeout": 21600, "mode": "reschedule"}
EXPECTED = {
    "job_done": (
        f"{SENSORS}.emr.EmrServerlessJobSensor",
        {
            "application_id": "00fabcd1234efgh5",
            "job_run_id": "{{ ti.xcom_pull(task_ids='start_job') }}",
            "target_states": ["SUCCESS"],
        },
    ),
    "app_started": (
        f"{SENSORS}.emr.EmrServerlessApplicationSensor",
        {"application_id": "00fabcd1234efgh5", "target_states": ["STARTED", "CREATED"]},
    ),
    "cluster_ready": (
        f"{SENSORS}.emr.EmrJobFlowSensor",
        {
            "job_flow_id": "{{ params.cluster_id }}",
            "target_states": ["WAITING", "RUNNING"],
            "failed_states": ["TERMINATING", "TERMINATED", "TERMINATED_WITH_ERRORS"],
        },
    ),
    "step_done": (
        f"{SENSORS}.emr.EmrStepSensor",
        {"job_flow_id": "{{ params.cluster_id }}", "step_id": "s-1XXXXXXXXXXXA", "target_states": ["COMPLETED"]},
    ),
    "notebook_done": (
        f"{SENSORS}.emr.EmrNotebookExecutionSensor",
        {"notebook_execution_id": "ex-J0DXXXXXXXXXX", "target_states": ["FINISHED"], "poke_interval": 60},
    ),
    "execution_done": (
        f"{SENSORS}.step_function.StepFunctionExecutionSensor",
        {"execution_arn": "arn:aws:states:us-east-1:123456789012:execution:etl:{{ ds_nodash }}"},
    ),
    "crawled": (f"{SENSORS}.glue_crawler.GlueCrawlerSensor", {"crawler_name": "raw-events"}),
    "glue_done": (
        f"{SENSORS}.glue.GlueJobSensor",
        {"job_name": "clean-events", "run_id": "{{ var.value.clean_events_run_id }}"},
    ),
    "warehouse_up": (
        f"{SENSORS}.redshift_cluster.RedshiftClusterSensor",
        {"cluster_identifier": "analytics", "target_status": "available"},
    ),
    "function_active": (
        f"{SENSORS}.lambda_function.LambdaFunctionStateSensor",
        {"function_name": "load-partitions", "qualifier": "live", "target_states": ["Active"]},
    ),
    "query_done": (
        f"{SENSORS}.athena.AthenaSensor",
        {"query_execution_id": "{{ var.value.query_id }}", "max_retries": 1, "sleep_time": 1},
    ),
}


def test_each_kind_lowers_to_its_sensor_with_exact_arguments() -> None:
    (result,) = process([VALID / "pipeline.yaml"], profile=installed_profile(), airflow_major=airflow_major())
    assert result.spec is not None, result.diagnostics
    lowered = {task.task_id: task for task in lower(result.spec, installed_profile()).tasks}
    for task_id, (operator, kwargs) in EXPECTED.items():
        expected = {**RESCHEDULE, "timeout": 7200 if task_id == "notebook_done" else 21600, **kwargs}
        assert (lowered[task_id].operator, lowered[task_id].kwargs) == (operator, expected), task_id


def test_the_dag_loads_with_every_sensor() -> None:
    (result,) = process([VALID / "pipeline.yaml"], profile=installed_profile(), airflow_major=airflow_major())
    assert result.config is not None, result.diagnostics
    dag = build_dag(result.dag_id, result.config)
    by_id = {task.task_id: task for task in dag.tasks}
    for task_id, (operator, _) in EXPECTED.items():
        assert f"{type(by_id[task_id]).__module__}.{type(by_id[task_id]).__name__}" == operator
    assert by_id["job_done"].upstream_task_ids == {"start_job"}
    assert by_id["cluster_ready"].mode == "reschedule"
    assert by_id["cluster_ready"].target_states == ["WAITING", "RUNNING"]
    assert by_id["warehouse_up"].target_status == "available"


def test_the_task_types_page_lists_the_codes_table(repo: Path) -> None:
    rows = []
    for name, kind in KINDS.items():
        ids = ", ".join(f"`{key}`" + (" (optional)" if key in kind.optional_ids else "") for key in kind.ids)
        waits = ", ".join(f"`{state}`" for state in kind.states)
        failed = ", ".join(f"`{state}`" for state in kind.failed) or "nothing"
        rows.append(f"| `{name}` | {ids} | {waits} | {failed}{' (replaceable)' if kind.failed_configurable else ''} |")
    table = "| `resource` | identifying keys | `states` may name | fails at once on |\n|---|---|---|---|\n"
    table += "\n".join(rows) + "\n"
    assert table in (repo / "docs" / "task-types.md").read_text(encoding="utf-8")


def test_identifiers_pulled_from_xcom_are_checked_like_any_other(tmp_path: Path) -> None:
    spec = tmp_path / "pipeline.yaml"
    spec.write_text(
        'start_date: 2024-01-01\nschedule: "@daily"\ntasks:\n'
        "  count: {type: athena_query, query: SELECT 1, database: analytics, workgroup: analytics}\n"
        "  counted:\n    type: wait_until\n    depends_on: [count]\n    resource: athena_query\n"
        "    query_execution_id: \"{{ ti.xcom_pull(task_ids='cuont') }}\"\n    states: [SUCCEEDED]\n",
        encoding="utf-8",
    )
    (result,) = process([spec], profile=installed_profile(), airflow_major=airflow_major())
    message = "'counted' reads the XCom of 'cuont', which is not a task of this pipeline"
    assert [(d.code, d.line, d.message, d.hint) for d in result.diagnostics] == [
        ("DG317", 9, message, "did you mean 'count'?")
    ]


@pytest.fixture(scope="module")
def runs(request: pytest.FixtureRequest) -> Any:
    with pytest.MonkeyPatch.context() as patch:
        yield local_runs(request, patch)


def test_local_run_waits_for_what_its_tasks_started(runs: Any) -> None:
    outcome = runs(LOCAL)
    assert outcome.exit_code == 0, outcome.output
    assert states(outcome) == {
        "serverless_etl": "success",
        "serverless_done": "success",
        "application_ready": "success",
        "daily_counts": "success",
        "counts_done": "success",
        "load_partitions": "success",
        "function_active": "success",
        "run_etl": "success",
        "etl_done": "success",
        "load_sales": "success",
        "load_done": "success",
    }
    assert all(row["try_number"] == 1 for row in outcome.report["tasks"])
    seen = outcome.report["emulator"]
    # what the waits waited for: each started once, and ended in the state waited for
    assert [run["state"] for run in seen["serverless_job_runs"]] == ["SUCCESS"]
    assert [query["state"] for query in seen["queries"]] == ["SUCCEEDED"]
    assert [execution["state"] for execution in seen["executions"]] == ["SUCCEEDED"]
    assert [run["state"] for run in seen["job_runs"]] == ["SUCCEEDED"]
    assert [invocation["function"] for invocation in seen["invocations"]] == ["load-partitions"]


def test_waits_on_what_the_emulator_does_not_have_fail_at_once(runs: Any, tmp_path_factory: Any) -> None:
    spec = tmp_path_factory.mktemp("waits") / "missing_resources.yaml"
    tasks = {
        "cluster": "resource: emr_cluster, job_flow_id: j-NOTTHERE, states: [WAITING]",
        "notebook": "resource: emr_notebook, notebook_execution_id: ex-NOTTHERE, states: [FINISHED]",
        "crawler": "resource: glue_crawler, crawler_name: not-there, states: [SUCCEEDED]",
    }
    body = "".join(f"  {task_id}: {{type: wait_until, {keys}}}\n" for task_id, keys in tasks.items())
    spec.write_text(
        'schedule: "@daily"\nstart_date: 2024-01-01\ntask_defaults: {poll_interval: 2s, timeout: 10m}\ntasks:\n' + body,
        encoding="utf-8",
    )
    outcome = runs(str(spec))
    assert outcome.exit_code == 1, outcome.output
    assert states(outcome) == dict.fromkeys(tasks, "failed")
    assert all(row["try_number"] == 1 for row in outcome.report["tasks"])
    for message in (
        "Cluster id 'j-NOTTHERE' is not valid",
        "Notebook execution 'ex-NOTTHERE' does not exist",
        "Crawler not-there not found",
    ):
        assert message in outcome.output
    assert outcome.report["timings"]["dag_test"] < 120  # at once: far within the tasks' 10-minute timeout
