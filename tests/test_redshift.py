"""The Redshift task types: lowering, a DagBag load, the emulated Data API and real local runs.

``redshift_sql``, ``s3_to_redshift`` and ``redshift_to_s3`` all lower to ``RedshiftDataOperator``
(tests/specs/redshift.yaml holds every form); the emulator's Data API is driven with boto3 on
127.0.0.1; ``dagen run --local`` runs tests/local_run/redshift.yaml green, with ``--fail`` and ``--flaky``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from generator.compile.build import airflow_major
from generator.compile.lower import lower
from generator.compile.pipelines import process
from generator.core.provider_profile import installed_profile
from generator.local.emulator import LocalAws
from tests.airflow_compat import dagbag, graph
from tests.test_local_run import local_runs, monkeypatch_module, states  # noqa: F401 - a fixture

SPEC = "tests/specs/redshift.yaml"
LOCAL = "tests/local_run/redshift.yaml"
OPERATOR = "airflow.providers.amazon.aws.operators.redshift_data.RedshiftDataOperator"
ROLE = "arn:aws:iam::123456789012:role/redshift-s3-access"
ETL_SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:redshift/etl-AbCdEf"
READER_SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:redshift/reader-GhIjKl"
WAIT = {"wait_for_completion": True, "deferrable": True, "poll_interval": 15}

# Every task of tests/specs/redshift.yaml: its kwargs without the connection and region.
LOWERED: dict[str, dict[str, Any]] = {
    "create_table": {
        "cluster_identifier": "analytics",
        "database": "dev",
        "secret_arn": ETL_SECRET,
        "sql": "CREATE TABLE IF NOT EXISTS sales.daily (day DATE, amount BIGINT)",
        **WAIT,
        "statement_name": "create_daily",
    },
    "reload_day": {
        "cluster_identifier": "{{ var.value.redshift_cluster }}",
        "database": "{{ params.database }}",
        "db_user": "etl",
        "sql": [
            "DELETE FROM sales.daily WHERE day = :day",
            "INSERT INTO sales.daily SELECT * FROM sales.staged WHERE day = :day",
        ],
        **WAIT,
        "parameters": [{"name": "day", "value": "{{ ds }}"}],
    },
    "load_from_file": {  # sql_file read into sql when the spec is compiled
        "workgroup_name": "reporting",
        "database": "dev",
        "sql": "INSERT INTO sales.daily\nSELECT * FROM sales.staged WHERE day = '{{ ds }}'\n",
        **WAIT,
    },
    "count_rows": {
        "workgroup_name": "reporting",
        "database": "dev",
        "secret_arn": READER_SECRET,
        "sql": "SELECT COUNT(*) FROM sales.daily",
        **WAIT,
        "return_sql_result": True,
    },
    "audit": {
        "cluster_identifier": "analytics",
        "database": "audit",
        "sql": "INSERT INTO audit.runs VALUES ('{{ run_id }}')",
        **WAIT,
    },
    "append_sales": {
        "cluster_identifier": "analytics",
        "database": "dev",
        "sql": "COPY sales.staged FROM 's3://landing/sales/{{ ds }}/' "
        f"IAM_ROLE '{ROLE}' FORMAT AS CSV IGNOREHEADER 1",
        **WAIT,
    },
    "replace_stores": {
        "workgroup_name": "reporting",
        "database": "dev",
        "sql": [
            "DELETE FROM stores",
            "COPY stores FROM 's3://landing/stores.parquet' IAM_ROLE default FORMAT AS PARQUET",
        ],
        **WAIT,
    },
    "upsert_prices": {
        "cluster_identifier": "analytics",
        "database": "dev",
        "db_user": "loader",
        "sql": [
            "CREATE TABLE #prices_staged (LIKE sales.prices INCLUDING DEFAULTS)",
            "COPY #prices_staged FROM 's3://landing/prices/{{ ds }}/' IAM_ROLE '{{ var.value.redshift_role_arn }}'",
            "DELETE FROM sales.prices USING #prices_staged WHERE prices.day = #prices_staged.day "
            "AND prices.store_id = #prices_staged.store_id",
            "INSERT INTO sales.prices SELECT * FROM #prices_staged",
        ],
        **WAIT,
    },
    "export_day": {
        "workgroup_name": "reporting",
        "database": "dev",
        "secret_arn": READER_SECRET,
        "sql": "UNLOAD ($$SELECT * FROM sales.daily WHERE day = '{{ ds }}'$$) TO 's3://exports/sales/{{ ds }}/part_' "
        f"IAM_ROLE '{ROLE}' FORMAT AS PARQUET ALLOWOVERWRITE",
        **WAIT,
    },
    "export_stores": {  # CLEANPATH given: no ALLOWOVERWRITE added
        "cluster_identifier": "analytics",
        "database": "dev",
        "sql": f"UNLOAD ($$SELECT * FROM sales.stores$$) TO 's3://exports/stores/' IAM_ROLE '{ROLE}' "
        "FORMAT AS CSV HEADER CLEANPATH",
        **WAIT,
    },
}


def test_every_form_lowers_to_the_data_operator_with_exact_arguments(repo: Path) -> None:
    profile = installed_profile()
    (result,) = process([repo / SPEC], profile=profile, airflow_major=airflow_major())
    assert result.diagnostics == []
    aws = {"aws_conn_id": "aws_warehouse"}
    if profile.region_on_every_operator:
        aws["region_name"] = "eu-west-1"
    tasks = {task.task_id: task for task in lower(result.spec, profile).tasks}
    assert {task_id: task.operator for task_id, task in tasks.items()} == dict.fromkeys(LOWERED, OPERATOR)
    assert {task_id: task.kwargs for task_id, task in tasks.items()} == {
        task_id: {**aws, **kwargs} for task_id, kwargs in LOWERED.items()
    }


def test_the_spec_builds_in_a_dagbag(repo: Path, tmp_path: Path) -> None:
    dags = tmp_path / "dags"
    shutil.copytree(repo / "dags", dags)
    (dags / "pipelines" / "sql").mkdir(parents=True)
    shutil.copy(repo / SPEC, dags / "pipelines" / "redshift.yaml")
    shutil.copy(repo / "tests" / "specs" / "sql" / "redshift_load.sql", dags / "pipelines" / "sql")
    bag = dagbag(dags)
    assert bag.import_errors == {}
    dag = bag.dags["redshift"]
    assert {task_id: node["operator"] for task_id, node in graph(dag).items()} == dict.fromkeys(
        LOWERED, "RedshiftDataOperator"
    )
    reload_day = dag.get_task("reload_day")
    assert (reload_day.deferrable, reload_day.poll_interval, reload_day.db_user) == (True, 15, "etl")
    assert dag.get_task("count_rows").return_sql_result is True
    assert dag.get_task("export_day").workgroup_name == "reporting"


# ----------------------------------------------------------------------------- the emulated Data API


@pytest.fixture(scope="module")
def aws() -> Any:
    with LocalAws() as emulator:
        yield emulator


def _states(client: Any, statement_id: str, polls: int) -> list[str]:
    return [client.describe_statement(Id=statement_id)["Status"] for _ in range(polls)]


def test_a_statement_is_started_then_finished_and_recorded(aws: LocalAws) -> None:
    aws.attribute_to("create_table")
    client = aws.client("redshift-data")
    started = client.execute_statement(
        ClusterIdentifier="analytics", Database="dev", DbUser="etl", Sql="CREATE TABLE t (a INT)", StatementName="mk"
    )
    assert (started["ClusterIdentifier"], started["Database"], started["DbUser"]) == ("analytics", "dev", "etl")
    assert _states(client, started["Id"], 3) == ["STARTED", "FINISHED", "FINISHED"]
    described = client.describe_statement(Id=started["Id"])
    assert (described["QueryString"], described["HasResultSet"], described["DbUser"]) == (
        "CREATE TABLE t (a INT)",
        False,
        "etl",
    )
    (listed,) = client.list_statements(StatementName="mk")["Statements"]
    assert (listed["Id"], listed["StatementName"], listed["IsBatchStatement"]) == (started["Id"], "mk", False)
    (record,) = [r for r in aws.records_of("statement") if r.id == started["Id"]]
    assert (record.origin, record.parent) == ("create_table", "analytics")
    with pytest.raises(ClientError, match="Query does not have result"):
        client.get_statement_result(Id=started["Id"])


def test_a_batch_has_sub_statements_and_a_select_has_an_empty_result(aws: LocalAws) -> None:
    aws.attribute_to("reload_day")
    client = aws.client("redshift-data")
    batch = client.batch_execute_statement(
        WorkgroupName="reporting", Database="dev", Sqls=["DELETE FROM t", "SELECT * FROM t"]
    )["Id"]
    assert _states(client, batch, 2) == ["STARTED", "FINISHED"]
    subs = client.describe_statement(Id=batch)["SubStatements"]
    assert [(s["Id"], s["Status"], s["QueryString"], s["HasResultSet"]) for s in subs] == [
        (f"{batch}:1", "FINISHED", "DELETE FROM t", False),
        (f"{batch}:2", "FINISHED", "SELECT * FROM t", True),
    ]
    result = client.get_statement_result(Id=f"{batch}:2")
    assert (result["Records"], result["TotalNumRows"]) == ([], 0)
    with pytest.raises(ClientError, match="Batch statement does not have result"):
        client.get_statement_result(Id=batch)
    listed = client.list_statements(Status="FINISHED")["Statements"]
    assert (listed[0]["Id"], listed[0]["IsBatchStatement"], listed[0]["QueryStrings"]) == (
        batch,
        True,
        ["DELETE FROM t", "SELECT * FROM t"],
    )


def test_an_injected_failure_fails_the_statement_with_its_error(aws: LocalAws) -> None:
    aws.fail("broken_load", "injected by dagen run --fail broken_load")
    aws.attribute_to("broken_load")
    client = aws.client("redshift-data")
    batch = client.batch_execute_statement(ClusterIdentifier="analytics", Database="dev", Sqls=["A", "B"])["Id"]
    assert _states(client, batch, 3) == ["STARTED", "FAILED", "FAILED"]
    described = client.describe_statement(Id=batch)
    assert described["Error"] == "injected by dagen run --fail broken_load"
    assert [(s["Status"], s.get("Error")) for s in described["SubStatements"]] == [
        ("FINISHED", None),
        ("FAILED", "injected by dagen run --fail broken_load"),
    ]


def test_cancel_aborts_a_running_statement_only(aws: LocalAws) -> None:
    aws.attribute_to("cancelled")
    client = aws.client("redshift-data")
    statement = client.execute_statement(WorkgroupName="reporting", Database="dev", Sql="SELECT 1")["Id"]
    assert client.cancel_statement(Id=statement)["Status"] is True
    assert client.describe_statement(Id=statement)["Status"] == "ABORTED"
    with pytest.raises(ClientError, match="already in ABORTED state"):
        client.cancel_statement(Id=statement)


def test_bad_requests_are_refused_at_once(aws: LocalAws) -> None:
    client = aws.client("redshift-data")
    with pytest.raises(ClientError, match="Either ClusterIdentifier or WorkgroupName"):
        client.execute_statement(
            ClusterIdentifier="analytics", WorkgroupName="reporting", Database="dev", Sql="SELECT 1"
        )
    with pytest.raises(ClientError, match="Query does not exist"):
        client.describe_statement(Id="00000000-0000-4000-8000-000000000000")
    with pytest.raises(ClientError, match="DescribeTable is not emulated") as error:
        client.describe_table(ClusterIdentifier="analytics", Database="dev", Table="t")
    assert error.value.response["ResponseMetadata"]["RetryAttempts"] == 0


# ----------------------------------------------------------------------------- real local runs


@pytest.fixture(scope="module")
def runs(request: pytest.FixtureRequest, monkeypatch_module: pytest.MonkeyPatch) -> Any:  # noqa: F811
    return local_runs(request, monkeypatch_module, AHEAD)


def test_the_redshift_pipeline_runs_green_locally(runs: Any) -> None:
    outcome = runs(LOCAL)
    assert outcome.exit_code == 0, outcome.output
    assert states(outcome) == {
        "create_table": "success",
        "reload_day": "success",
        "load_from_file": "success",
        "count_rows": "success",
        "load_sales": "success",
        "export_day": "success",
    }


def test_a_failed_statement_fails_its_task_and_stops_downstream(runs: Any) -> None:
    outcome = runs(LOCAL, "--fail", "reload_day")
    assert outcome.exit_code == 1, outcome.output
    assert states(outcome) == {
        "create_table": "success",
        "reload_day": "failed",
        "load_from_file": "upstream_failed",
        "count_rows": "upstream_failed",
        "load_sales": "success",
        "export_day": "upstream_failed",
    }
    assert "terminated with status FAILED" in outcome.output
    assert "injected by dagen run --fail reload_day" in outcome.output


def test_a_lost_submission_response_is_retried_and_the_batch_submitted_again(runs: Any) -> None:
    # --flaky: the first BatchExecuteStatement takes effect, its response is lost; the retry submits it again
    outcome = runs(LOCAL, "--flaky", "load_sales")
    assert outcome.exit_code == 0, outcome.output
    tries = {row["task_id"]: (row["state"], row["try_number"]) for row in outcome.report["tasks"]}
    assert tries == {
        "create_table": ("success", 1),
        "reload_day": ("success", 1),
        "load_from_file": ("success", 1),
        "count_rows": ("success", 1),
        "load_sales": ("success", 2),
        "export_day": ("success", 1),
    }
    assert outcome.report["lost_responses"] == [["load_sales", "batch_execute_statement"]]


WAREHOUSE = "tests/local_run/redshift_warehouse.yaml"
# The runs the local-run tests ask for (the fixture `runs` starts them ahead, two at a time).
AHEAD = [
    (LOCAL,),
    (LOCAL, "--fail", "reload_day"),
    (LOCAL, "--flaky", "load_sales"),
    (WAREHOUSE,),
    (WAREHOUSE, "--fail", "summarise"),
]


def test_statements_on_a_cluster_the_pipeline_owns_use_its_identifier(repo: Path) -> None:
    (result,) = process([repo / WAREHOUSE], profile=installed_profile(), airflow_major=airflow_major())
    assert result.diagnostics == [] and result.config is not None
    tasks = result.config["tasks"]
    assert (
        tasks["load"]["cluster_identifier"]
        == tasks["summarise"]["cluster_identifier"]
        == (tasks["create_warehouse"]["cluster_identifier"])
    )
    assert tasks["create_warehouse"]["cluster_identifier"] == "redshift-warehouse-warehouse"
    assert result.config["dagen_teardowns"] == {"delete_warehouse": ["create_warehouse"]}


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ((), {"create_warehouse": "success", "load": "success", "summarise": "success", "delete_warehouse": "success"}),
        (
            ("--fail", "summarise"),
            {"create_warehouse": "success", "load": "success", "summarise": "failed", "delete_warehouse": "success"},
        ),
    ],
    ids=["green", "statement-fails"],
)
def test_the_owned_cluster_is_deleted_after_its_statements_even_when_one_fails(
    runs: Any, options: tuple[str, ...], expected: dict[str, str]
) -> None:
    outcome = runs(WAREHOUSE, *options)
    assert outcome.report is not None, outcome.output
    assert outcome.report["state"] == ("failed" if options else "success")
    assert states(outcome) == expected
