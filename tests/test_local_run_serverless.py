"""``dagen run --local --target mwaa-serverless``: the MWAA Serverless workflow, built by dag-factory, in real Airflow.

On the Airflow 3 lane: each seed pipeline's workflow runs green on the local AWS emulator (four real runs in
all, each made once per module and shared), a failing EMR step fails the run while its cluster is still
terminated, and a spec the target refuses gets its located diagnostics.  On the Airflow 2 lane: the target is
refused in one line (MWAA Serverless runs Airflow 3).  Each lane defines only its own tests.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from generator.compile.build import airflow_major
from generator.compile.pipelines import MWAA_SERVERLESS
from generator.local.command import LocalRunOutcome, run_local
from tests.test_local_run import REPO, emulator, monkeypatch_module  # noqa: F401 - a fixture

SALARY = "pipelines/salary_batch_etl.yaml"
INJECTED = "injected by dagen run --fail average_salaries"
# Every task of each seed pipeline's workflow, in the workflow's order, with its final state in a green run:
# the MWAA DAG's tasks, plus a `<task>_wait` sensor after each EMR step and notebook start, plus the final check.
GREEN = {
    SALARY: [
        "create_etl",
        "create_etl_wait",
        "average_salaries",
        "average_salaries_wait",
        "terminate_etl",
        "dagen_work_succeeded",
    ],
    "pipelines/emr_notebook_best_sellers.yaml": [
        "create_notebooks",
        "create_notebooks_wait",
        "find_best_sellers",
        "find_best_sellers_wait",
        "terminate_notebooks",
        "dagen_work_succeeded",
    ],
    "pipelines/movielens_emr_step_functions.yaml": [
        "create_preprocess",
        "create_preprocess_wait",
        "extract_load_data",
        "extract_load_data_wait",
        "preprocess_movies",
        "preprocess_movies_wait",
        "preprocess_ratings",
        "preprocess_ratings_wait",
        "preprocess_tags",
        "preprocess_tags_wait",
        "curate",
        "terminate_preprocess",
        "dagen_work_succeeded",
    ],
}


def docs_rows() -> list[tuple[str, str, int]]:
    """The task rows of docs/mwaa-serverless.md's local run (durations aside)."""
    docs = (REPO / "docs" / "mwaa-serverless.md").read_text(encoding="utf-8")
    block = docs.split("--fail average_salaries\n", 1)[1].split("```", 1)[0]
    found = re.findall(r"^  (\w+) +(\w+) +[0-9.]+s +(\d+)$", block, re.MULTILINE)
    return [(task, state, int(try_number)) for task, state, try_number in found]


def rows(outcome: LocalRunOutcome) -> list[tuple[str, str, int]]:
    assert outcome.report is not None, outcome.output
    return [(row["task_id"], row["state"], row["try_number"]) for row in outcome.report["tasks"]]


@pytest.fixture(scope="module")
def runs(request: pytest.FixtureRequest, monkeypatch_module: pytest.MonkeyPatch) -> Any:  # noqa: F811
    """``runs(spec, *fail)``: the outcome of ``dagen run --local --target mwaa-serverless SPEC [--fail TASK]...``."""
    cache = request.config.cache
    assert cache is not None
    monkeypatch_module.setenv("DAGEN_CACHE_DIR", str(cache.mkdir("dagen-local-run")))  # test_local_run's cache
    monkeypatch_module.chdir(REPO)
    done: dict[tuple[str, ...], LocalRunOutcome] = {}

    def run(spec: str, *fail: str) -> LocalRunOutcome:
        if (spec, *fail) not in done:
            done[(spec, *fail)] = run_local(spec, target=MWAA_SERVERLESS, fail=fail)
        return done[(spec, *fail)]

    return run


if airflow_major() >= 3:

    @pytest.mark.parametrize("spec", sorted(GREEN))
    def test_seed_pipeline_workflow_runs_green(runs: Any, spec: str) -> None:
        outcome = runs(spec)
        assert outcome.exit_code == 0, outcome.output
        assert outcome.report is not None and outcome.report["state"] == "success"
        assert rows(outcome) == [(task_id, "success", 1) for task_id in GREEN[spec]]
        seen = emulator(outcome)
        (cluster,) = seen["clusters"]
        assert (cluster["state"], cluster["origin"]) == ("TERMINATED", GREEN[spec][0])
        # every step ran on the run's cluster (its id reached the steps and sensors through XCom) and completed
        assert {(step["cluster"], step["state"]) for step in seen["steps"]} <= {(cluster["id"], "COMPLETED")}
        assert [execution["state"] for execution in seen["notebook_executions"]] == (
            ["FINISHED"] if "notebook" in spec else []
        )
        assert [execution["state"] for execution in seen["executions"]] == (
            ["SUCCEEDED"] if "movielens" in spec else []
        )
        first = outcome.output.splitlines()[0]
        assert first.startswith(f"dagen run --local --target mwaa-serverless {spec}: starting the emulator")
        assert "DAG run succeeded" in outcome.output

    def test_the_run_is_dag_factorys_build_of_the_workflow(tmp_path: Path) -> None:
        """The DAGs folder holds the workflow YAML and a DAG file calling dag-factory's loader; what it builds
        has only the provider's operators (no dagen runtime), a terminate that runs whatever happened, and the
        final check after the work."""
        from generator.compile.pipelines import process
        from generator.compile.serverless_workflow import workflow_yaml
        from generator.core.provider_profile import installed_profile
        from generator.local.serverless_run import write_dag_files
        from generator.local.workflow_dag import DAG_FILE, workflow_dag

        (result,) = process([REPO / SALARY], profile=installed_profile(), airflow_major=3, target=MWAA_SERVERLESS)
        write_dag_files(tmp_path, result, MWAA_SERVERLESS)
        assert sorted(path.name for path in tmp_path.iterdir()) == sorted([DAG_FILE, "salary_batch_etl.yaml"])
        assert (tmp_path / "salary_batch_etl.yaml").read_text() == workflow_yaml("salary_batch_etl", result.config)
        assert "load_yaml_dags(globals_dict=globals()" in (tmp_path / DAG_FILE).read_text()
        dag = workflow_dag(tmp_path, "salary_batch_etl")
        graph = {
            task.task_id: (
                type(task).__module__,
                type(task).__name__,
                sorted(task.upstream_task_ids),
                task.trigger_rule,
            )
            for task in dag.tasks
        }
        emr, sensors = "airflow.providers.amazon.aws.operators.emr", "airflow.providers.amazon.aws.sensors.emr"
        assert graph == {
            "create_etl": (emr, "EmrCreateJobFlowOperator", [], "all_success"),
            "create_etl_wait": (sensors, "EmrJobFlowSensor", ["create_etl"], "all_success"),
            "average_salaries": (emr, "EmrAddStepsOperator", ["create_etl_wait"], "all_success"),
            "average_salaries_wait": (sensors, "EmrStepSensor", ["average_salaries"], "all_success"),
            "terminate_etl": (emr, "EmrTerminateJobFlowOperator", ["average_salaries_wait"], "all_done"),
            "dagen_work_succeeded": (
                "airflow.providers.standard.operators.empty",
                "EmptyOperator",
                ["average_salaries_wait"],
                "all_success",
            ),
        }
        assert not any(task.is_setup or task.is_teardown for task in dag.tasks)

    def test_a_failed_step_fails_the_run_and_its_cluster_is_still_terminated(runs: Any) -> None:
        outcome = runs(SALARY, "average_salaries")
        assert outcome.exit_code == 1
        assert outcome.report is not None and outcome.report["state"] == "failed"
        # the step is added once; its sensor sees it FAILED on each of its 3 tries (retries 2, defaults.yaml)
        assert rows(outcome) == [
            ("create_etl", "success", 1),
            ("create_etl_wait", "success", 1),
            ("average_salaries", "success", 1),
            ("average_salaries_wait", "failed", 3),
            ("terminate_etl", "success", 1),
            ("dagen_work_succeeded", "upstream_failed", 0),
        ]
        seen = emulator(outcome)
        (cluster,) = seen["clusters"]
        assert cluster["state"] == "TERMINATED"
        (step,) = seen["steps"]
        assert (step["name"], step["cluster"], step["state"], step["cause"]) == (
            "average_salaries",
            cluster["id"],
            "FAILED",
            INJECTED,
        )
        assert "DAG run FAILED" in outcome.output
        assert docs_rows() == rows(outcome)  # what docs/mwaa-serverless.md shows
        assert "failed: average_salaries_wait (try 3): AirflowException: EMR job failed" in outcome.output
        assert f"    cause: step {step['id']} FAILED: {INJECTED}" in outcome.output.splitlines()

    def test_a_spec_the_target_refuses_gets_located_diagnostics_and_no_run(tmp_path: Path) -> None:
        spec = tmp_path / "needs_code.yaml"
        spec.write_text("start_date: 2024-01-01\ntasks:\n  list_files:\n    type: python\n    callable: lib.f\n")
        outcome = run_local(str(spec), target=MWAA_SERVERLESS)
        assert (outcome.exit_code, outcome.report) == (1, None)
        first, hint, total = outcome.output.splitlines()
        assert first.endswith(
            "needs_code.yaml:4:11: DG801 task 'list_files' cannot run on MWAA Serverless: a python task runs a "
            "Python callable, which needs a code package uploaded with the workflow"
        )
        assert hint.startswith("    hint: ")
        assert total == "1 error(s) in 1 of 1 file(s)"

else:

    def test_the_serverless_target_is_refused_on_airflow_2() -> None:
        outcome = run_local(str(REPO / SALARY), target=MWAA_SERVERLESS)
        assert (outcome.exit_code, outcome.report) == (2, None)
        assert outcome.output == (
            "dagen: --target mwaa-serverless runs only on Airflow 3 (MWAA Serverless runs Airflow 3); "
            "this is Airflow 2.10.3"
        )
