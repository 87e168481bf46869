"""``dagen run --local``: real Airflow (dag.test) against the local AWS emulator, green and failure paths.

Each run is one real ``dagen run`` (a child process with its own Airflow home
and emulator on 127.0.0.1); a run is made once per module and shared by the
tests that read it.  Every figure asserted comes from the run's report: Airflow's
task instances and the emulator's own record of what each task started.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from generator.run_command import LocalRunOutcome, main, run_local

REPO = Path(__file__).resolve().parent.parent
CURATE_ONLY = "tests/local_run/curate_only.yaml"
INJECTED = "injected by dagen run --fail {}"

# Every task's final state in a green run of each seed pipeline.
GREEN = {
    "pipelines/salary_batch_etl.yaml": {
        "create_etl": "success",
        "average_salaries": "success",
        "terminate_etl": "success",
    },
    "pipelines/emr_notebook_best_sellers.yaml": {
        "create_notebooks": "success",
        "find_best_sellers": "success",
        "find_best_sellers_wait": "success",
        "terminate_notebooks": "success",
    },
    "pipelines/movielens_emr_step_functions.yaml": {
        "create_preprocess": "success",
        "extract_load_data": "success",
        "preprocess_movies": "success",
        "preprocess_ratings": "success",
        "preprocess_tags": "success",
        "curate": "success",
        "curate_wait": "success",
        "terminate_preprocess": "success",
    },
}


class _Timings:
    """Prints each run's duration in pytest's terminal summary (no -s needed; nothing is asserted on time)."""

    def __init__(self) -> None:
        self.rows: list[str] = []

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        terminalreporter.section("dagen run --local timings")
        for row in self.rows:
            terminalreporter.write_line(row)


@pytest.fixture(scope="module")
def runs(request: pytest.FixtureRequest, monkeypatch_module: pytest.MonkeyPatch) -> Any:
    """``runs(spec, *options)``: the outcome of ``dagen run SPEC --local OPTIONS``, made once per module."""
    cache = request.config.cache
    assert cache is not None
    # The migrated Airflow DB is cached across test sessions, per lane.
    monkeypatch_module.setenv("DAGEN_CACHE_DIR", str(cache.mkdir("dagen-local-run")))
    monkeypatch_module.chdir(REPO)
    timings = _Timings()
    request.config.pluginmanager.register(timings, f"dagen-local-run-timings-{id(timings)}")
    done: dict[tuple[str, ...], LocalRunOutcome] = {}

    def run(spec: str, *options: str) -> LocalRunOutcome:
        key = (spec, *options)
        if key not in done:
            argv = list(options)
            kwargs: dict[str, list[str]] = {"params": [], "fail": [], "flaky": []}
            while argv:
                flag, value = argv.pop(0), argv.pop(0)
                kwargs[{"--param": "params", "--fail": "fail", "--flaky": "flaky"}[flag]].append(value)
            started = time.monotonic()
            done[key] = run_local(spec, **kwargs)
            report = done[key].report
            dag_seconds = f"DAG run {report['timings']['dag_test']:.1f}s, " if report else ""
            timings.rows.append(
                f"{' '.join(key)}: exit {done[key].exit_code}, {dag_seconds}whole run {time.monotonic() - started:.1f}s"
            )
        return done[key]

    return run


@pytest.fixture(scope="module")
def monkeypatch_module() -> Any:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def states(outcome: LocalRunOutcome) -> dict[str, str]:
    assert outcome.report is not None, outcome.output
    return {row["task_id"]: row["state"] for row in outcome.report["tasks"]}


def emulator(outcome: LocalRunOutcome) -> dict[str, list[dict[str, Any]]]:
    assert outcome.report is not None, outcome.output
    return outcome.report["emulator"]  # type: ignore[no-any-return]


# ----------------------------------------------------------------------------- green runs


@pytest.mark.parametrize("spec", sorted(GREEN))
def test_seed_pipeline_runs_green(runs: Any, spec: str) -> None:
    outcome = runs(spec)
    assert outcome.exit_code == 0, outcome.output
    assert outcome.report is not None and outcome.report["state"] == "success"
    assert states(outcome) == GREEN[spec]
    assert all(row["try_number"] == 1 for row in outcome.report["tasks"])
    seen = emulator(outcome)
    assert [cluster["state"] for cluster in seen["clusters"]] == ["TERMINATED"]
    assert seen["clusters"][0]["origin"] == next(task for task in GREEN[spec] if task.startswith("create_"))
    assert all(step["state"] == "COMPLETED" for step in seen["steps"])
    # Every step ran on the cluster the run created (the cluster id reached the step through XCom).
    assert {step["cluster"] for step in seen["steps"]} <= {seen["clusters"][0]["id"]}
    assert all(execution["state"] == "FINISHED" for execution in seen["notebook_executions"])
    assert all(execution["state"] == "SUCCEEDED" for execution in seen["executions"])
    assert "DAG run succeeded" in outcome.output
    assert "whole local run" in outcome.output


def test_salary_step_gets_default_params(runs: Any) -> None:
    (step,) = emulator(runs("pipelines/salary_batch_etl.yaml"))["steps"]
    assert step["name"] == "average_salaries"
    assert step["origin"] == "average_salaries"
    assert step["args"] == [
        "spark-submit",
        "--deploy-mode",
        "client",
        "--py-files",
        "s3://airflow-salary-prediction-de/spark_jobs/spark_job_common.py",
        "s3://airflow-salary-prediction-de/spark_jobs/salary_averages.py",
        "--features",
        "s3://airflow-salary-prediction-de/data/train_features.csv",
        "--salaries",
        "s3://airflow-salary-prediction-de/data/train_salaries.csv",
        "--output",
        "s3://airflow-salary-prediction-de/output/average_salary/",
    ]


def test_movielens_steps_run_in_parallel_then_curation_succeeds(runs: Any) -> None:
    seen = emulator(runs("pipelines/movielens_emr_step_functions.yaml"))
    assert seen["clusters"][0]["step_concurrency"] == 3
    assert sorted(step["name"] for step in seen["steps"]) == [
        "extract_load_data",
        "preprocess_movies",
        "preprocess_ratings",
        "preprocess_tags",
    ]
    (execution,) = seen["executions"]
    assert execution["state_machine"].endswith(":stateMachine:mwaa-movielens-curation")
    assert execution["origin"] == "curate"
    # The definition uses glue:startJobRun.sync, which moto cannot run: the emulator completes it.
    assert execution["completed_by_emulator"] is True
    assert execution["input"]["bucket"] == "mwaa-movielens-demo"
    assert execution["input"]["run_id"].startswith("manual__")
    assert execution["name"].startswith("curate-")


def test_notebook_gets_its_params_as_json(runs: Any) -> None:
    outcome = runs("pipelines/emr_notebook_best_sellers.yaml")
    (execution,) = emulator(outcome)["notebook_executions"]
    assert outcome.report is not None
    editor, _note = outcome.report["variables"]["best_sellers_editor_id"]
    assert execution["editor_id"] == editor
    assert execution["path"] == "find_best_sellers.ipynb"
    assert execution["params"] == {
        "CATEGORIES": ["Apparel", "Automotive", "Baby", "Beauty", "Books"],
        "FROM_DATE": "2015-08-25",
        "TO_DATE": "2015-08-31",
        "INPUT_LOCATION": "s3://amazon-reviews-pds/parquet/",
        "OUTPUT_LOCATION": "s3://dagen-local-data/best_sellers_output_location/",
        "JOBS_LOCATION": "s3://airflow-best-sellers-demo/spark_jobs",
    }


# ----------------------------------------------------------------------------- params


def test_param_from_the_command_line_reaches_the_execution_input(runs: Any) -> None:
    """Defaults are asserted on the salary step above; here ``--param`` replaces one."""
    outcome = runs(CURATE_ONLY, "--param", "data_bucket=from-the-command-line")
    assert outcome.exit_code == 0, outcome.output
    (execution,) = emulator(outcome)["executions"]
    assert execution["input"]["bucket"] == "from-the-command-line"
    assert execution["state"] == "SUCCEEDED"


# ----------------------------------------------------------------------------- failures


def test_failed_step_terminates_the_cluster_and_stops_downstream(runs: Any) -> None:
    outcome = runs("pipelines/movielens_emr_step_functions.yaml", "--fail", "preprocess_movies")
    assert outcome.exit_code == 1
    assert outcome.report is not None and outcome.report["state"] == "failed"
    assert states(outcome) == {
        **GREEN["pipelines/movielens_emr_step_functions.yaml"],
        "preprocess_movies": "failed",
        "curate": "upstream_failed",
        "curate_wait": "upstream_failed",
    }
    seen = emulator(outcome)
    assert [cluster["state"] for cluster in seen["clusters"]] == ["TERMINATED"]
    movies = [step for step in seen["steps"] if step["name"] == "preprocess_movies"]
    # The task's retries resubmit the step (3 tries: retries 2 from pipelines/defaults.yaml).
    assert [step["state"] for step in movies] == ["FAILED"] * 3
    assert {step["cause"] for step in movies} == {INJECTED.format("preprocess_movies")}
    assert seen["executions"] == []
    assert "DAG run FAILED" in outcome.output
    assert "failed: preprocess_movies (try 3)" in outcome.output
    assert f"cause: step {movies[0]['id']} FAILED: {INJECTED.format('preprocess_movies')}" in outcome.output


def test_failed_state_machine_execution_fails_the_run_with_its_cause(runs: Any) -> None:
    outcome = runs(CURATE_ONLY, "--fail", "curate")
    assert outcome.exit_code == 1
    assert outcome.report is not None and outcome.report["state"] == "failed"
    assert states(outcome) == {"curate": "success", "curate_wait": "failed"}
    (execution,) = emulator(outcome)["executions"]
    assert (execution["state"], execution["cause"]) == ("FAILED", INJECTED.format("curate"))
    assert "failed: curate_wait" in outcome.output
    assert f"cause: execution {execution['name']} FAILED: {INJECTED.format('curate')}" in outcome.output


def test_failed_notebook_execution_is_reported_with_its_cause(runs: Any) -> None:
    outcome = runs("pipelines/emr_notebook_best_sellers.yaml", "--fail", "find_best_sellers")
    assert outcome.exit_code == 1
    assert states(outcome) == {
        "create_notebooks": "success",
        "find_best_sellers": "success",
        "find_best_sellers_wait": "failed",
        "terminate_notebooks": "success",
    }
    seen = emulator(outcome)
    assert [cluster["state"] for cluster in seen["clusters"]] == ["TERMINATED"]
    (execution,) = seen["notebook_executions"]
    assert (execution["state"], execution["cause"]) == ("FAILED", INJECTED.format("find_best_sellers"))
    assert "failed: find_best_sellers_wait" in outcome.output
    assert f"cause: notebook execution {execution['id']} FAILED" in outcome.output


def test_airflow_marks_the_run_failed_when_a_task_before_the_teardown_fails(runs: Any) -> None:
    outcome = runs("pipelines/emr_notebook_best_sellers.yaml", "--fail", "find_best_sellers")
    assert outcome.report is not None and outcome.report["state"] == "failed"


def test_retried_start_gets_a_new_execution_name(runs: Any) -> None:
    """Try 1 starts the execution, then fails (its response is lost); try 2 must not hit ExecutionAlreadyExists."""
    outcome = runs(CURATE_ONLY, "--flaky", "curate")
    assert outcome.exit_code == 0, outcome.output
    assert outcome.report is not None
    rows = {row["task_id"]: row for row in outcome.report["tasks"]}
    assert (rows["curate"]["state"], rows["curate"]["try_number"]) == ("success", 2)
    assert "took effect but its response was lost" in rows["curate"]["errors"][0]
    assert outcome.report["lost_responses"] == [["curate", "start_execution"]]
    first, second = emulator(outcome)["executions"]
    assert first["name"] != second["name"]
    assert first["state"] == "RUNNING"  # started by try 1, never awaited
    assert second["state"] == "SUCCEEDED"
    assert "ExecutionAlreadyExists" not in "".join(rows["curate"]["errors"])


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["run", "pipelines/nope.yaml", "--local"], 2, "dagen: no such file or folder: pipelines/nope.yaml"),
        (["run", "pipelines", "--local"], 2, "dagen: dagen run takes one pipeline spec file, not a folder: pipelines"),
        (
            ["run", "pipelines/salary_batch_etl.yaml"],
            2,
            "dagen: dagen run needs --local (the only mode: a local AWS emulator)",
        ),
        (
            ["run", "pipelines/salary_batch_etl.yaml", "--local", "--fail", "average_salary"],
            2,
            "dagen: unknown task 'average_salary' in --fail; did you mean 'average_salaries'? "
            "tasks of salary_batch_etl: average_salaries",
        ),
        (
            ["run", "pipelines/salary_batch_etl.yaml", "--local", "--param", "data_bucket"],
            2,
            "dagen: malformed --param 'data_bucket': expected NAME=VALUE",
        ),
        (
            ["run", "pipelines/salary_batch_etl.yaml", "--local", "--param", "data_bucke=x"],
            2,
            "dagen: unknown param 'data_bucke' in --param; did you mean 'data_bucket'? "
            "declared: data_bucket, scripts_uri",
        ),
        (
            ["run", "pipelines/emr_notebook_best_sellers.yaml", "--local", "--param", "from_date=yesterday"],
            2,
            "dagen: invalid --param from_date=yesterday: 'yesterday' is not a 'date'",
        ),
    ],
)
def test_bad_command_lines_are_one_line_errors(
    argv: list[str], code: int, message: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(REPO)
    assert main(argv) == code
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", message + "\n")


def test_invalid_spec_gives_the_validate_diagnostics(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same located diagnostics as ``dagen validate`` prints for the file, exit 1, no traceback."""
    from generator.cli import main as dagen

    monkeypatch.chdir(REPO)
    spec = "tests/cases/dg301_unknown_dependency/pipeline.yaml"
    assert dagen(["validate", spec]) == 1
    expected = capsys.readouterr().out
    assert main(["run", spec, "--local"]) == 1
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == (expected, "")
    assert "DG301" in captured.out
