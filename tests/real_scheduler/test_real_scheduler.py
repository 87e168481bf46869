"""Under a real scheduler: the seed pipelines succeed, failures end where they should, no cluster leaks.

One Airflow deployment runs every DAG of ``tests/real_scheduler/pipelines`` (the seeds and the failure
cases) at once (``conftest.py``); each test asserts on its own DAG run: final task states and tries from
the metadata DB, the emulator's final state through its AWS API.
"""

from __future__ import annotations

import pytest
from realsched.dags_folder import SEEDS
from realsched.deployment import FINISHED_TASK_STATES
from realsched.emulator import LIVE_CLUSTER_STATES, Cluster
from realsched.lane import (
    FAILING_STEP,
    KILLED,
    LOST_CLUSTER,
    RETRIED_STATE_MACHINE,
    RUN_ID,
    Lane,
)


def run_clusters(lane: Lane, dag_id: str) -> list[Cluster]:
    """The clusters the DAG's run created (the compiler tags each with the DAG id and the run id)."""
    return [cluster for cluster in lane.emulator.clusters_of(dag_id) if cluster.tags.get("dagen:run-id") == RUN_ID]


def states(lane: Lane, dag_id: str) -> dict[str, str]:
    return {task_id: row.state for task_id, row in lane.tasks[dag_id].items()}


def tries(lane: Lane, dag_id: str) -> dict[str, int]:
    return {task_id: row.try_number for task_id, row in lane.tasks[dag_id].items()}


def explain(lane: Lane, dag_id: str) -> str:
    """What a failed assertion shows: the run, its tasks and its clusters."""
    clusters = [
        f"{cluster.id} {cluster.name} {cluster.state} steps={[(s['name'], s['state']) for s in cluster.steps]}"
        for cluster in lane.emulator.clusters_of(dag_id)
    ]
    rows = {task_id: (row.state, row.try_number) for task_id, row in sorted(lane.tasks[dag_id].items())}
    return (
        f"{dag_id}: run {lane.run_states.get(dag_id)}; tasks (state, try) {rows}; clusters {clusters}"
        f"{'; ' + lane.timed_out if lane.timed_out else ''}; logs in {lane.folder}"
    )


@pytest.mark.parametrize("dag_id", [path.stem for path in SEEDS])
def test_a_seed_pipeline_succeeds_with_every_cluster_terminated_and_every_step_completed(
    lane: Lane, dag_id: str
) -> None:
    why = explain(lane, dag_id)
    assert lane.run_states.get(dag_id) == "success", why
    assert lane.tasks[dag_id] and set(states(lane, dag_id).values()) == {"success"}, why
    clusters = run_clusters(lane, dag_id)
    assert clusters, why
    assert [cluster.state for cluster in clusters] == ["TERMINATED"] * len(clusters), why
    steps = [step["state"] for cluster in clusters for step in cluster.steps]
    assert steps == ["COMPLETED"] * len(steps), why


def test_the_seeds_did_their_work_on_the_emulator(lane: Lane) -> None:
    """MovieLens ran its four steps and its curation execution; best sellers its notebook.

    A step can run twice: a retried EMR step submits its step again (a retry under Airflow 3.3.1's stale
    executor event, apache/airflow#72716, is one). An execution is never started twice for one success.
    """
    movielens = run_clusters(lane, "movielens_emr_step_functions")
    assert sorted({step["name"] for cluster in movielens for step in cluster.steps}) == [
        "extract_load_data",
        "preprocess_movies",
        "preprocess_ratings",
        "preprocess_tags",
    ]
    curation = lane.emulator.executions.get("mwaa-movielens-curation", [])
    assert [execution["state"] for execution in curation] == ["SUCCEEDED"]
    editor = lane.emulator_env["AIRFLOW_VAR_BEST_SELLERS_EDITOR_ID"]
    assert [execution["state"] for execution in lane.emulator.notebooks_of(editor)] == ["FINISHED"]
    salary = run_clusters(lane, "salary_batch_etl")
    assert {step["name"] for cluster in salary for step in cluster.steps} == {"average_salaries"}


def test_a_failing_spark_step_fails_the_run_and_its_cluster_is_still_terminated(lane: Lane) -> None:
    dag_id = "rs_step_fails"
    why = explain(lane, dag_id)
    assert lane.run_states.get(dag_id) == "failed", why
    assert states(lane, dag_id) == {
        "create_work": "success",
        FAILING_STEP: "failed",
        "after_failure": "upstream_failed",
        "terminate_work": "success",
    }, why
    assert tries(lane, dag_id)[FAILING_STEP] == 2, why  # the spec's retries: 1
    [cluster] = run_clusters(lane, dag_id)
    assert cluster.state == "TERMINATED", why
    assert [(step["name"], step["state"]) for step in cluster.steps] == [
        (FAILING_STEP, "FAILED"),
        (FAILING_STEP, "FAILED"),
    ], why


def test_a_create_cluster_retried_after_runjobflow_returned_uses_one_cluster_and_leaves_none_running(
    lane: Lane,
) -> None:
    """Try 1 of create_work started the cluster but never got its id (--lose-response cluster:...)."""
    dag_id = "rs_lost_create"
    why = explain(lane, dag_id)
    assert tries(lane, dag_id).get("create_work", 0) >= 2, why  # the first try did fail
    clusters = run_clusters(lane, dag_id)
    assert clusters and {cluster.name for cluster in clusters} == {LOST_CLUSTER}, why
    used = [cluster for cluster in clusters if cluster.steps]
    assert len(used) == 1, why
    assert [cluster for cluster in clusters if cluster.state in LIVE_CLUSTER_STATES] == [], why
    assert lane.run_states.get(dag_id) == "success", why


def test_a_step_functions_execution_failing_on_try_1_is_started_again_on_try_2(lane: Lane) -> None:
    dag_id = "rs_execution_retry"
    why = explain(lane, dag_id)
    arn = lane.emulator_env.get("AIRFLOW_VAR_RS_RETRY_STATE_MACHINE_ARN", "")
    assert arn.endswith(f":{RETRIED_STATE_MACHINE}"), f"the fault names another state machine than {arn!r}"
    executions = lane.emulator.executions.get(RETRIED_STATE_MACHINE, [])
    why += f"; executions {executions}"
    assert [execution["state"] for execution in executions] == ["FAILED", "SUCCEEDED"], why
    assert lane.run_states.get(dag_id) == "success", why


def test_a_notebook_execution_failing_on_try_1_is_started_again_on_try_2(lane: Lane) -> None:
    dag_id = "rs_notebook_retry"
    executions = lane.emulator.notebooks_of(lane.emulator_env["AIRFLOW_VAR_RS_NOTEBOOK_EDITOR_ID"])
    why = f"{explain(lane, dag_id)}; notebook executions {executions}"
    assert [execution["state"] for execution in executions] == ["FAILED", "FINISHED"], why
    assert lane.run_states.get(dag_id) == "success", why
    assert [cluster.state for cluster in run_clusters(lane, dag_id)] == ["TERMINATED"], why


def test_a_worker_killed_in_the_middle_of_a_deferred_emr_step_leaves_a_defined_state_and_no_cluster(
    lane: Lane,
) -> None:
    dag_id, task_id, _ = KILLED
    why = f"{explain(lane, dag_id)}; kill {lane.kill}"
    assert lane.kill.killed and lane.kill.effective, why  # killed while running the task, its step in flight
    assert lane.run_states.get(dag_id) in ("success", "failed"), why
    assert set(states(lane, dag_id).values()) <= set(FINISHED_TASK_STATES), why
    # Airflow noticed: the killed try ended, and the task was retried (or failed when out of retries).
    assert tries(lane, dag_id)[task_id] > lane.kill.try_number or states(lane, dag_id)[task_id] == "failed", why
    assert states(lane, dag_id)["terminate_work"] == "success", why
    clusters = run_clusters(lane, dag_id)
    assert clusters and [cluster for cluster in clusters if cluster.state in LIVE_CLUSTER_STATES] == [], why


def test_every_run_ended_and_the_lane_left_nothing_running(lane: Lane) -> None:
    assert not lane.timed_out, lane.timed_out
    assert lane.left_running == [], "processes still running after the lane stopped (then killed)"


def test_nothing_of_the_deployment_tried_to_leave_loopback(lane: Lane) -> None:
    """Every Python process of the deployment runs under the network guard; none of its logs shows a refusal."""
    assert lane.refused == []
