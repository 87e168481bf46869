"""Cleanups declared with ``cleans_up``: built as teardowns of the tasks they clean up after (both lanes).

``tests/local_run/cleanup.yaml`` makes a staging table, loads and reports on it, and drops it.  Its DAG is
checked as the loader builds it, then it runs on the emulator three times: green; with the load failing
(the drop still runs, the run is FAILED); with the create failing (nothing to drop: the drop does not run).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from generator.compile.build import airflow_major, build_dag
from generator.compile.pipelines import process
from generator.compile.serverless_workflow import to_workflow
from generator.core.provider_profile import installed_profile
from tests.airflow_compat import graph
from tests.test_local_run import emulator, local_runs, monkeypatch_module, states  # noqa: F401 - a fixture

SPEC = "tests/local_run/cleanup.yaml"
HEAD = 'start_date: 2024-01-01\nschedule: "@daily"\n'


def _result(repo: Path, spec: str = SPEC, target: str = "mwaa") -> Any:
    (result,) = process([repo / spec], profile=installed_profile(), airflow_major=airflow_major(), target=target)
    assert result.diagnostics == [] and result.config is not None
    return result


def _written(tmp_path: Path, text: str) -> Any:
    spec = tmp_path / "pipeline.yaml"
    spec.write_text(HEAD + text, encoding="utf-8")
    (result,) = process([spec], profile=installed_profile(), airflow_major=airflow_major())
    assert result.diagnostics == [] and result.config is not None
    return result


def test_the_cleanup_is_the_teardown_of_its_setup_after_all_the_work(repo: Path) -> None:
    result = _result(repo)
    # the drop names no depends_on: it waits for the last task of the work that follows its setup
    assert result.spec.task("drop_staging").depends_on == ("report",)
    assert graph(build_dag("cleanup", result.config)) == {
        "create_staging": {
            "operator": "AthenaOperator",
            "upstream": [],
            "trigger_rule": "all_success",
            "role": "setup",
        },
        "load": {
            "operator": "GlueJobOperator",
            "upstream": ["create_staging"],
            "trigger_rule": "all_success",
            "role": "work",
        },
        "report": {"operator": "AthenaOperator", "upstream": ["load"], "trigger_rule": "all_success", "role": "work"},
        "drop_staging": {
            "operator": "AthenaOperator",
            "upstream": ["create_staging", "report"],
            "trigger_rule": "all_done_setup_success",
            "role": "teardown",
        },
    }


def test_a_cleanup_after_a_fan_out_and_a_group_waits_for_every_member(tmp_path: Path) -> None:
    result = _written(
        tmp_path,
        "groups:\n  staging: {}\n"
        "tasks:\n"
        "  make:\n    type: lambda_invoke\n    function_name: make-{{ item }}\n    for_each: [eu, us]\n"
        "    group: staging\n"
        "  use:\n    type: lambda_invoke\n    function_name: use\n    depends_on: [make_eu]\n"
        "  other:\n    type: lambda_invoke\n    function_name: other\n"
        "  drop:\n    type: lambda_invoke\n    function_name: drop\n    cleans_up: [make]\n",
    )
    assert result.spec.task("drop").cleans_up == ("make_eu", "make_us")
    assert result.spec.task("drop").depends_on == ("make_us", "use")  # not `other`: it follows no setup
    dag = build_dag("pipeline", result.config)
    drop = dag.get_task("drop")
    assert drop.is_teardown and sorted(drop.upstream_task_ids) == ["staging.make_eu", "staging.make_us", "use"]
    assert {t.task_id for t in dag.tasks if t.is_setup} == {"staging.make_eu", "staging.make_us"}


def test_a_cleanup_may_follow_another_and_both_are_teardowns(tmp_path: Path) -> None:
    result = _written(
        tmp_path,
        "tasks:\n"
        "  make_bucket:\n    type: s3_create_bucket\n    bucket: dagen-scratch\n"
        "  make_table:\n    type: lambda_invoke\n    function_name: make-table\n    depends_on: [make_bucket]\n"
        "  query:\n    type: lambda_invoke\n    function_name: query\n    depends_on: [make_table]\n"
        "  drop_table:\n    type: lambda_invoke\n    function_name: drop-table\n    cleans_up: [make_table]\n"
        "  delete_bucket:\n    type: lambda_invoke\n    function_name: delete-bucket\n"
        "    cleans_up: [make_bucket]\n    depends_on: [drop_table]\n",
    )
    shape = graph(build_dag("pipeline", result.config))
    assert {task: (node["role"], node["upstream"]) for task, node in shape.items()} == {
        "make_bucket": ("setup", []),
        "make_table": ("setup", ["make_bucket"]),
        "query": ("work", ["make_table"]),
        "drop_table": ("teardown", ["make_table", "query"]),
        "delete_bucket": ("teardown", ["drop_table", "make_bucket", "query"]),
    }


def test_a_cleanup_on_a_cluster_runs_before_the_clusters_teardown(tmp_path: Path) -> None:
    result = _written(
        tmp_path,
        "max_active_runs: 1\n"
        "clusters:\n  warehouse:\n    kind: redshift\n    node_type: ra3.large\n"
        "tasks:\n"
        "  make_table:\n    type: redshift_sql\n    cluster: warehouse\n    database: dev\n"
        "    sql: CREATE TABLE t (id INT)\n"
        "  load:\n    type: redshift_sql\n    cluster: warehouse\n    database: dev\n"
        "    sql: INSERT INTO t VALUES (1)\n    depends_on: [make_table]\n"
        "  drop_table:\n    type: redshift_sql\n    cluster: warehouse\n    database: dev\n"
        "    sql: DROP TABLE t\n    cleans_up: [make_table]\n",
    )
    shape = graph(build_dag("pipeline", result.config))
    assert {task: (node["role"], node["upstream"]) for task, node in shape.items()} == {
        "create_warehouse": ("setup", []),
        "make_table": ("setup", ["create_warehouse"]),
        "load": ("work", ["make_table"]),
        "drop_table": ("teardown", ["load", "make_table"]),
        "delete_warehouse": ("teardown", ["create_warehouse", "drop_table"]),
    }


def test_on_mwaa_serverless_a_cleanup_runs_all_done_and_stays_out_of_the_run_state(repo: Path) -> None:
    result = _result(repo, target="mwaa-serverless")
    tasks = to_workflow("cleanup", result.config)["tasks"]
    assert tasks["drop_staging"]["trigger_rule"] == "all_done"
    assert tasks["dagen_work_succeeded"]["dependencies"] == ["report"]


@pytest.fixture(scope="module")
def runs(request: pytest.FixtureRequest, monkeypatch_module: pytest.MonkeyPatch) -> Any:  # noqa: F811
    ahead = [(SPEC,), (SPEC, "--fail", "load"), (SPEC, "--fail", "create_staging")]  # the runs below, started ahead
    run = local_runs(request, monkeypatch_module, ahead)
    return lambda *options: run(SPEC, *options)


@pytest.mark.parametrize(
    ("options", "run_state", "expected"),
    [
        (
            (),
            "success",
            {"create_staging": "success", "load": "success", "report": "success", "drop_staging": "success"},
        ),
        (
            ("--fail", "load"),
            "failed",
            {"create_staging": "success", "load": "failed", "report": "upstream_failed", "drop_staging": "success"},
        ),
        (
            ("--fail", "create_staging"),
            "failed",
            {
                "create_staging": "failed",
                "load": "upstream_failed",
                "report": "upstream_failed",
                "drop_staging": "upstream_failed",  # nothing was made, so there is nothing to drop
            },
        ),
    ],
    ids=["green", "work-fails", "setup-fails"],
)
def test_the_cleanup_runs_after_any_work_and_never_turns_a_failed_run_green(
    runs: Any, options: tuple[str, ...], run_state: str, expected: dict[str, str]
) -> None:
    outcome = runs(*options)
    assert outcome.report is not None, outcome.output
    assert (outcome.exit_code == 0, outcome.report["state"]) == (run_state == "success", run_state)
    assert states(outcome) == expected
    queries = sorted((query["origin"], query["state"]) for query in emulator(outcome)["queries"])
    dropped = [("drop_staging", "SUCCEEDED")] if expected["drop_staging"] == "success" else []
    made = [("create_staging", "FAILED" if expected["create_staging"] == "failed" else "SUCCEEDED")]
    report = [("report", "SUCCEEDED")] if expected["report"] == "success" else []
    assert queries == sorted(made + dropped + report)
