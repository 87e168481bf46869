"""``dagen run --local``: real Airflow (dag.test) against the local AWS emulator, green and failure paths.

Each run is one real ``dagen run`` (a child process with its own Airflow home
and emulator on 127.0.0.1); a run is made once per module and shared by the
tests that read it.  Every figure asserted comes from the run's report: Airflow's
task instances and the emulator's own record of what each task started.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator.local.command import LocalRunOutcome, main, run_local

REPO = Path(__file__).resolve().parent.parent
CURATE_ONLY = "tests/local_run/curate_only.yaml"
EVERY_TYPE = "tests/local_run/every_type.yaml"
PROVIDER_EXAMPLES = REPO / "tests" / "provider_examples"  # run by tests/test_provider_examples.py
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
        "terminate_notebooks": "success",
    },
    "pipelines/movielens_emr_step_functions.yaml": {
        "create_preprocess": "success",
        "extract_load_data": "success",
        "preprocess_movies": "success",
        "preprocess_ratings": "success",
        "preprocess_tags": "success",
        "curate": "success",
        "terminate_preprocess": "success",
    },
}


# Every task of tests/local_run/every_type.yaml (Airflow's ids: GROUP.TASK) in a green run.
EVERY_TYPE_GREEN = {
    "ingest.landed": "success",
    "ingest.any_csv": "success",
    "ingest.export_ready": "success",
    "process.daily_counts": "success",
    "process.daily_regions": "success",
    "process.clean": "success",
    "process.serverless_etl": "success",
    "process.eks_etl": "success",
    "process.load_partitions": "success",
    "process.weekly_total": "success",
    "process.report_notebook": "success",
    "publish.summarise": "success",
    "publish.announce": "success",
    "publish.curate": "success",
    "publish.catalogue": "success",
    "publish.crawl": "success",
}
# One run, three faults: two failures of new task types, one lost start response.
EVERY_TYPE_FAULTS = ("--fail", "serverless_etl", "--fail", "load_partitions", "--flaky", "eks_etl")


class _Timings:
    """Prints each run's duration in pytest's terminal summary (no -s needed; nothing is asserted on time)."""

    def __init__(self) -> None:
        self.rows: list[str] = []

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        terminalreporter.section("dagen run --local timings")
        for row in self.rows:
            terminalreporter.write_line(row)


# Options of `dagen run` that the runs below pass, and the run_local keyword each one fills.
RUN_OPTIONS = {"--param": "params", "--fail": "fail", "--flaky": "flaky", "--absent": "absent"}


# Local runs a module makes at once: each mostly waits on its polls, so two share these 2-core machines well.
PARALLEL_RUNS = 2


def local_runs(request: pytest.FixtureRequest, patch: pytest.MonkeyPatch, ahead: Iterable[tuple[str, ...]] = ()) -> Any:
    """``run(spec, *options)``: the outcome of ``dagen run SPEC --local OPTIONS``, made once per key.

    The ``ahead`` keys (``(spec, *options)``: the runs the module's tests ask for) start at once in the
    background, :data:`PARALLEL_RUNS` at a time; ``run`` waits for its own.  ``patch`` must outlive the
    fixture that calls this (a module's ``monkeypatch_module``): the runs still going are waited for first.
    """
    cache = request.config.cache
    assert cache is not None
    # The migrated Airflow DB is cached across test sessions, per lane.
    patch.setenv("DAGEN_CACHE_DIR", str(cache.mkdir("dagen-local-run")))
    patch.chdir(REPO)
    timings = _Timings()
    request.config.pluginmanager.register(timings, f"dagen-local-run-timings-{id(timings)}")
    pool = ThreadPoolExecutor(PARALLEL_RUNS, thread_name_prefix="dagen-local-run")
    request.addfinalizer(lambda: pool.shutdown(cancel_futures=True))
    started: dict[tuple[str, ...], Future[LocalRunOutcome]] = {}

    def make(key: tuple[str, ...]) -> LocalRunOutcome:
        argv = list(key[1:])
        kwargs: dict[str, Any] = {name: [] for name in RUN_OPTIONS.values()}
        while argv:
            flag, value = argv.pop(0), argv.pop(0)
            if flag == "--logical-date":
                kwargs["logical_date"] = value
            else:
                kwargs[RUN_OPTIONS[flag]].append(value)
        began = time.monotonic()
        outcome = run_local(key[0], **kwargs)
        report = outcome.report
        dag_seconds = f"DAG run {report['timings']['dag_test']:.1f}s, " if report else ""
        timings.rows.append(
            f"{' '.join(key)}: exit {outcome.exit_code}, {dag_seconds}whole run {time.monotonic() - began:.1f}s"
        )
        return outcome

    def start(key: tuple[str, ...]) -> Future[LocalRunOutcome]:
        if key not in started:
            started[key] = pool.submit(make, key)
        return started[key]

    for key in ahead:
        start(tuple(key))

    def run(spec: str, *options: str) -> LocalRunOutcome:
        return start((spec, *options)).result()

    return run


# The runs the tests below ask for, in their order: started ahead, two at a time.
AHEAD = [
    *((spec,) for spec in sorted(GREEN)),
    (CURATE_ONLY, "--param", "data_bucket=from-the-command-line"),
    ("pipelines/movielens_emr_step_functions.yaml", "--fail", "preprocess_movies"),
    (CURATE_ONLY, "--fail", "curate"),
    ("pipelines/emr_notebook_best_sellers.yaml", "--fail", "find_best_sellers"),
    (CURATE_ONLY, "--flaky", "curate"),
    (EVERY_TYPE,),
    (EVERY_TYPE, *EVERY_TYPE_FAULTS),
]


@pytest.fixture(scope="module")
def runs(request: pytest.FixtureRequest, monkeypatch_module: pytest.MonkeyPatch) -> Any:
    """``runs(spec, *options)``: the outcome of ``dagen run SPEC --local OPTIONS``, made once per module."""
    return local_runs(request, monkeypatch_module, AHEAD)


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
    # Airflow 3's dag.test() cannot finish a run with a Deadline Alert: the runner leaves the SLA out, and says so
    assert "sla 2h: not evaluated (the scheduler checks SLAs; none runs here)" in outcome.output
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
    assert states(outcome) == {"curate": "failed"}
    executions = emulator(outcome)["executions"]
    # Each try starts its own execution (retries 1 in the spec): a retry re-runs the work.
    assert [(execution["state"], execution["cause"]) for execution in executions] == [
        ("FAILED", INJECTED.format("curate"))
    ] * 2
    assert len({execution["name"] for execution in executions}) == 2
    assert "failed: curate (try 2)" in outcome.output
    assert f"cause: execution {executions[-1]['name']} FAILED: {INJECTED.format('curate')}" in outcome.output


def test_failed_notebook_execution_is_reported_with_its_cause(runs: Any) -> None:
    outcome = runs("pipelines/emr_notebook_best_sellers.yaml", "--fail", "find_best_sellers")
    assert outcome.exit_code == 1
    assert states(outcome) == {
        "create_notebooks": "success",
        "find_best_sellers": "failed",
        "terminate_notebooks": "success",
    }
    seen = emulator(outcome)
    assert [cluster["state"] for cluster in seen["clusters"]] == ["TERMINATED"]
    executions = seen["notebook_executions"]
    # 3 tries (retries 2 from pipelines/defaults.yaml), each with a new notebook execution
    assert [(execution["state"], execution["cause"]) for execution in executions] == [
        ("FAILED", INJECTED.format("find_best_sellers"))
    ] * 3
    assert "failed: find_best_sellers (try 3)" in outcome.output
    assert f"cause: notebook execution {executions[-1]['id']} FAILED" in outcome.output


def test_airflow_marks_the_run_failed_when_a_task_before_the_teardown_fails(runs: Any) -> None:
    outcome = runs("pipelines/emr_notebook_best_sellers.yaml", "--fail", "find_best_sellers")
    assert outcome.report is not None and outcome.report["state"] == "failed"


def test_a_retry_after_a_lost_start_response_adopts_the_execution(runs: Any) -> None:
    """Try 1 starts the execution, then fails (its response is lost); try 2 finds it and waits for it."""
    outcome = runs(CURATE_ONLY, "--flaky", "curate")
    assert outcome.exit_code == 0, outcome.output
    assert outcome.report is not None
    rows = {row["task_id"]: row for row in outcome.report["tasks"]}
    assert (rows["curate"]["state"], rows["curate"]["try_number"]) == ("success", 2)
    assert "took effect but its response was lost" in rows["curate"]["errors"][0]
    assert outcome.report["lost_responses"] == [["curate", "start_execution"]]
    (execution,) = emulator(outcome)["executions"]  # started by try 1, awaited by try 2: never a duplicate
    assert execution["state"] == "SUCCEEDED"
    assert "ExecutionAlreadyExists" not in "".join(rows["curate"]["errors"])


# ----------------------------------------------------------------------------- bad input


def test_every_task_type_is_in_a_spec_that_runs_locally() -> None:
    from generator.task_types import TASK_TYPES

    seen: set[str] = set()
    for spec in sorted((REPO / "tests" / "local_run").glob("*.yaml")) + sorted(PROVIDER_EXAMPLES.glob("*.yaml")):
        tasks = list((yaml.safe_load(spec.read_text(encoding="utf-8")).get("tasks") or {}).values())
        while tasks:
            task = tasks.pop()
            seen.add(task.get("type", "group"))
            tasks.extend((task.get("tasks") or {}).values())
    assert set(TASK_TYPES) - seen == set()


def test_the_docs_name_the_task_types_that_can_be_made_to_fail() -> None:
    from generator.local.fault_types import FAILABLE

    lines = (REPO / "docs" / "local-runs.md").read_text(encoding="utf-8").splitlines()
    row = next(line for line in lines if line.startswith("| `--fail"))
    named = row.rpartition(" For ")[2].split(" tasks.")[0]
    assert [part.strip(" ,") for part in named.replace(" and ", ", ").split("`") if part.strip(" ,")] == list(FAILABLE)


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
        (
            ["run", "tests/local_run/redshift_warehouse.yaml", "--local", "--flaky", "create_warehouse"],
            2,
            "dagen: --flaky create_warehouse: a kind: redshift create task cannot be made to fail locally (supported: "
            "emr_step, emr_notebook, step_function, glue_job, athena_query, emr_serverless_job, emr_eks_job, "
            "lambda_invoke, redshift_sql, s3_to_redshift, redshift_to_s3, glue_data_quality, glue_crawler, cluster)",
        ),
        (
            ["run", EVERY_TYPE, "--local", "--fail", "summarise"],
            2,
            "dagen: --fail summarise: a python task cannot be made to fail locally (supported: emr_step, "
            "emr_notebook, step_function, glue_job, athena_query, emr_serverless_job, emr_eks_job, lambda_invoke, "
            "redshift_sql, s3_to_redshift, redshift_to_s3, glue_data_quality, s3_copy)",
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


# ----------------------------------------------------------------------------- every task type


def _by_origin(items: list[dict[str, Any]]) -> dict[str | None, list[dict[str, Any]]]:
    out: dict[str | None, list[dict[str, Any]]] = {}
    for item in items:
        out.setdefault(item["origin"], []).append(item)
    return out


def _day(outcome: LocalRunOutcome) -> str:
    """The run's ``{{ ds }}``, read back from the key the emulator put for the landed-file sensor."""
    (landed,) = [item["uri"] for item in emulator(outcome)["objects"] if item["provided_for"] == "ingest.landed"]
    return landed.removeprefix("s3://dagen-landing/incoming/").removesuffix("/_SUCCESS")


def test_every_task_type_runs_green(runs: Any) -> None:
    outcome = runs(EVERY_TYPE)
    assert outcome.exit_code == 0, outcome.output
    assert outcome.report is not None and outcome.report["state"] == "success"
    assert states(outcome) == EVERY_TYPE_GREEN
    assert all(row["try_number"] == 1 for row in outcome.report["tasks"])
    assert "DAG run succeeded" in outcome.output


def test_every_task_type_reaches_the_emulator_with_rendered_values(runs: Any) -> None:
    outcome = runs(EVERY_TYPE)
    assert outcome.report is not None
    seen, day = emulator(outcome), _day(outcome)
    variables = {name: value for name, (value, _note) in outcome.report["variables"].items()}
    # The sensors found what the emulator put at the keys Airflow rendered for this run.
    assert {item["provided_for"]: item["uri"] for item in seen["objects"] if item["provided_for"]} == {
        "ingest.landed": f"s3://dagen-landing/incoming/{day}/_SUCCESS",
        "ingest.any_csv": f"s3://dagen-landing/incoming/{day}/dagen-local.csv",
    }
    assert seen["http_requests"] == [
        {
            "conn_id": "orders_api",
            "method": "GET",
            "path": f"/v1/exports/{day}/status",
            "status": 200,
            "origin": "ingest.export_ready",
        }
    ]
    queries = {query["origin"]: query for query in seen["queries"]}
    assert {origin: (q["state"], q["output_location"]) for origin, q in queries.items()} == {
        "process.daily_counts": ("SUCCEEDED", "s3://dagen-local-athena/every_type/"),
        "process.daily_regions": ("SUCCEEDED", "s3://dagen-local-athena-results/dagen-local-analytics-workgroup/"),
        "process.weekly_total": ("SUCCEEDED", "s3://dagen-local-athena/every_type/"),
    }
    assert queries["process.daily_counts"]["query"] == f"SELECT count(*) FROM orders WHERE day = DATE '{day}'"
    week_start = (date.fromisoformat(day) - timedelta(days=6)).isoformat()
    assert queries["process.weekly_total"]["query"] == (  # sql/weekly_total.sql, rendered
        "-- The last seven days of orders, per region (read by every_type.yaml's weekly_total task).\n"
        "SELECT region, count(*) AS orders\nFROM orders\n"
        f"WHERE day BETWEEN DATE '{week_start}' AND DATE '{day}'\nGROUP BY region"
    )
    # The seed task types beside them: a notebook on the shared cluster, the state machine, the Glue job
    # and crawler the runner created because the spec names them.
    (notebook,) = seen["notebook_executions"]
    assert (notebook["path"], notebook["state"], notebook["origin"]) == (
        "reports/orders.ipynb",
        "FINISHED",
        "process.report_notebook",
    )
    (execution,) = seen["executions"]
    assert (execution["state"], execution["input"], execution["origin"]) == (
        "SUCCEEDED",
        {"day": day},
        "publish.curate",
    )
    (job_run,) = seen["job_runs"]
    assert (job_run["job"], job_run["state"], job_run["origin"]) == (
        "catalogue-orders",
        "SUCCEEDED",
        "publish.catalogue",
    )
    (crawl,) = seen["crawls"]
    assert (crawl["crawler"], crawl["state"], crawl["origin"]) == ("orders-curated", "SUCCEEDED", "publish.crawl")
    # The long-running cluster: the step ran on it, and the pipeline left it running.
    (cluster,) = seen["clusters"]
    assert (cluster["id"], cluster["state"], cluster["origin"]) == (variables["shared_emr_cluster_id"], "WAITING", None)
    (step,) = seen["steps"]
    assert (step["cluster"], step["state"], step["origin"]) == (cluster["id"], "COMPLETED", "process.clean")
    (serverless,) = seen["serverless_job_runs"]
    assert (serverless["on"], serverless["state"], serverless["origin"]) == (
        variables["spark_application_id"],
        "SUCCESS",
        "process.serverless_etl",
    )
    (eks,) = seen["eks_job_runs"]
    assert (eks["on"], eks["state"], eks["origin"]) == (
        variables["emr_eks_virtual_cluster_id"],
        "COMPLETED",
        "process.eks_etl",
    )
    (invocation,) = seen["invocations"]
    assert (invocation["function"], invocation["state"], invocation["origin"]) == (
        "load-partitions",
        "SUCCEEDED",
        "process.load_partitions",
    )
    assert invocation["payload"] == {"table": "orders", "day": day, "regions": ["eu", "us"]}


def test_every_type_python_task_notifications_and_outlet(runs: Any) -> None:
    outcome = runs(EVERY_TYPE)
    assert outcome.report is not None
    seen, day = emulator(outcome), _day(outcome)
    alerts = outcome.report["variables"]["alerts_topic_arn"][0]
    written = {item["uri"]: item["origin"] for item in seen["objects"] if not item["provided_for"]}
    assert written == {
        f"s3://dagen-landing/summaries/{day}.json": "publish.summarise",  # the python task, through aws_default
        "s3://dagen-local-data/notifications/success/every_type": None,  # the on_run_success callback
    }
    assert [(m["topic"], m["subject"], m["message"], m["origin"]) for m in seen["messages"]] == [
        ("arn:aws:sns:us-east-1:123456789012:pipeline-events", None, f"every_type finished {day}", "publish.announce"),
        (alerts, "[Airflow] every_type run succeeded", seen["messages"][1]["message"], None),
    ]
    assert seen["emails"] == [
        {
            "from": "dagen-local@localhost",
            "to": ["team@example.com"],
            "subject": "[Airflow] every_type run succeeded",
            "origin": None,
        }
    ]
    assert outcome.report["asset_events"] == [
        {"uri": "s3://dagen-local-data/curated/orders", "task_id": "publish.announce"}
    ]


def test_injected_faults_of_new_task_types_fail_their_tasks_and_stop_downstream(runs: Any) -> None:
    outcome = runs(EVERY_TYPE, *EVERY_TYPE_FAULTS)
    assert outcome.exit_code == 1
    assert outcome.report is not None and outcome.report["state"] == "failed"
    assert states(outcome) == {
        **EVERY_TYPE_GREEN,
        "process.serverless_etl": "failed",
        "process.load_partitions": "failed",
        "publish.summarise": "upstream_failed",
        "publish.announce": "upstream_failed",
        "publish.curate": "upstream_failed",
        "publish.catalogue": "upstream_failed",
        "publish.crawl": "upstream_failed",
    }
    tries = {row["task_id"]: row["try_number"] for row in outcome.report["tasks"]}
    assert (tries["process.serverless_etl"], tries["process.load_partitions"], tries["process.eks_etl"]) == (2, 2, 2)
    assert "DAG run FAILED" in outcome.output


def test_a_retried_serverless_job_runs_a_new_job_run(runs: Any) -> None:
    """Each try has its own client token: the retry of a FAILED job run starts another (docs/task-types.md)."""
    outcome = runs(EVERY_TYPE, *EVERY_TYPE_FAULTS)
    runs_seen = emulator(outcome)["serverless_job_runs"]
    assert [(run["state"], run["cause"], run["origin"]) for run in runs_seen] == [
        ("FAILED", INJECTED.format("serverless_etl"), "process.serverless_etl")
    ] * 2
    run = runs_seen[-1]
    assert "failed: process.serverless_etl (try 2)" in outcome.output
    assert f"cause: EMR Serverless job run {run['id']} FAILED: {INJECTED.format('serverless_etl')}" in outcome.output


def test_a_retried_lambda_invokes_again(runs: Any) -> None:
    invocations = emulator(runs(EVERY_TYPE, *EVERY_TYPE_FAULTS))["invocations"]
    assert [(item["state"], item["cause"], item["origin"]) for item in invocations] == [
        ("FAILED", INJECTED.format("load_partitions"), "process.load_partitions")
    ] * 2


def test_a_lost_start_response_costs_no_second_eks_job_run(runs: Any) -> None:
    outcome = runs(EVERY_TYPE, *EVERY_TYPE_FAULTS)
    assert outcome.report is not None
    assert outcome.report["lost_responses"] == [["process.eks_etl", "start_job_run"]]
    rows = {row["task_id"]: row for row in outcome.report["tasks"]}
    assert (rows["process.eks_etl"]["state"], rows["process.eks_etl"]["try_number"]) == ("success", 2)
    (run,) = emulator(outcome)["eks_job_runs"]
    assert (run["state"], run["origin"]) == ("COMPLETED", "process.eks_etl")


def test_failure_notifications_reach_sns_email_and_the_retry_callback(runs: Any) -> None:
    outcome = runs(EVERY_TYPE, *EVERY_TYPE_FAULTS)
    assert outcome.report is not None
    seen = emulator(outcome)
    alerts = outcome.report["variables"]["alerts_topic_arn"][0]
    messages = _by_origin(seen["messages"])
    assert {
        origin: [(m["topic"].rsplit(":", 1)[-1], m["subject"]) for m in items] for origin, items in messages.items()
    } == {
        "process.serverless_etl": [("data-alerts", "[Airflow] every_type.process.serverless_etl failed")],
        "process.load_partitions": [("data-alerts", "[Airflow] every_type.process.load_partitions failed")],
        None: [(alerts.rsplit(":", 1)[-1], "[Airflow] every_type run failed")],
    }
    assert sorted((m["origin"], m["to"], m["subject"]) for m in seen["emails"]) == [
        ("process.load_partitions", ["oncall@example.com"], "every_type.process.load_partitions failed"),
        ("process.serverless_etl", ["oncall@example.com"], "every_type.process.serverless_etl failed"),
    ]
    retries = sorted(item["uri"] for item in seen["objects"] if "/notifications/retry/" in item["uri"])
    assert retries == [
        f"s3://dagen-local-data/notifications/retry/process.{task}/1"
        for task in ("eks_etl", "load_partitions", "serverless_etl")
    ]


@pytest.mark.parametrize(
    ("spec", "folder"),
    [
        ("pipelines/salary_batch_etl.yaml", "pipelines"),
        ("pipelines/team/nested.yaml", "pipelines"),  # the loader reads pipelines/ recursively
        (EVERY_TYPE, "tests/local_run"),  # no pipelines/ above it: the spec's own folder
    ],
)
def test_python_tasks_import_from_the_pipelines_folder_holding_the_spec(spec: str, folder: str) -> None:
    from generator.local.run import pipelines_folder_of

    assert pipelines_folder_of(REPO / spec) == REPO / folder


# ----------------------------------------------------------------------------- the run-wide time limit

# A child that starts a grandchild deaf to SIGINT, then takes SIGINT for a task failure and goes on, as Airflow does.
STUBBORN_CHILD = """
import signal, subprocess, sys, time
from generator.local.child import exit_on_interrupt
deaf = "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(600)"
print(subprocess.Popen([sys.executable, "-c", deaf]).pid, flush=True)
{handler}
while True:
    try:
        time.sleep(600)
    except BaseException:
        pass
"""


def _running(pid: int) -> bool:
    """Whether ``pid`` still runs a few seconds on (a killed process not yet reaped is a zombie: it does not)."""
    import psutil

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return False
        except psutil.NoSuchProcess:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.parametrize(
    ("handler", "log_tail"),
    [
        (
            "exit_on_interrupt()",
            ["dagen run --local: stopped by dagen run (its time limit, Ctrl-C, SIGTERM or SIGHUP)"],
        ),
        ("signal.signal(signal.SIGINT, signal.SIG_IGN)", []),  # deaf too: SIGKILL after the grace period
    ],
    ids=["the child exits on SIGINT", "a child deaf to SIGINT is killed"],
)
def test_the_deadline_stops_the_child_and_all_it_started(
    handler: str, log_tail: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import sys

    from generator.local import child

    monkeypatch.setattr(child, "GRACE_SECONDS", 1)
    started = time.monotonic()
    with (tmp_path / "log").open("w", encoding="utf-8") as log:
        end = child.run_child(
            [sys.executable, "-c", STUBBORN_CHILD.format(handler=handler)],
            env=dict(os.environ),
            log=log,
            cwd=REPO,
            deadline=started + 3,
        )
    assert end == child.ChildEnd(None, "timeout")
    grandchild, *tail = (tmp_path / "log").read_text(encoding="utf-8").splitlines()
    assert tail == log_tail
    assert not _running(int(grandchild))


def test_a_run_past_its_time_limit_is_stopped_with_one_line_and_leaves_nothing_running(runs: Any) -> None:
    import shutil

    import psutil

    outcome = run_local(CURATE_ONLY, timeout="2")  # the run takes far longer: Airflow alone starts in more
    assert outcome.exit_code == 124
    first, last = outcome.output.splitlines()
    log = first.rpartition("(log: ")[2].rstrip(")")
    assert first == f"dagen run --local {CURATE_ONLY}: starting the emulator and Airflow (log: {log})"
    assert (
        last
        == f"dagen: the local run hit its time limit (--timeout 2s) and was stopped, with all it started (log: {log})"
    )
    run_dir = str(Path(log).parent)
    assert [
        proc.pid for proc in psutil.process_iter(["cmdline"]) if run_dir in " ".join(proc.info["cmdline"] or [])
    ] == []
    shutil.rmtree(run_dir)


@pytest.mark.parametrize("value", ["soon", "0", "0s", "-5", "1.5m"])
def test_a_bad_time_limit_is_a_one_line_error(
    value: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(REPO)
    assert main(["run", "pipelines/salary_batch_etl.yaml", "--local", f"--timeout={value}"]) == 2
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == (
        "",
        f"dagen: invalid --timeout '{value}': a duration such as 90s, 30m or 1h (at least 1s)\n",
    )


@pytest.mark.parametrize(
    ("value", "seconds"), [("90", 90), ("90s", 90), ("30m", 1800), ("1h30m", 5400), (" 2h ", 7200)]
)
def test_the_time_limit_takes_the_specs_durations(value: str, seconds: int) -> None:
    from generator.local.command import parse_timeout

    assert parse_timeout(value) == seconds


def test_the_time_limit_covers_a_first_runs_metadata_db_migration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("DAGEN_CACHE_DIR", str(tmp_path))  # a cold cache: the run migrates a metadata DB first
    outcome = run_local(CURATE_ONLY, timeout="1")  # `airflow db migrate` alone takes longer
    assert outcome.exit_code == 124
    assert outcome.output == (
        "dagen: the local run hit its time limit (--timeout 1s) and was stopped, with all it started "
        "(while migrating the cached Airflow metadata DB)"
    )
    assert list(tmp_path.rglob("airflow.db")) == []
