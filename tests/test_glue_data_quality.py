"""``glue_data_quality``: Glue Data Quality rulesets evaluated on a Glue table, owned or named.

The exact operator arguments on both provider lines, the ruleset read from a ``.dqdl`` file, the exact
IAM policy, the emulator's Glue Data Quality API (boto3 against a real :class:`LocalAws`), the
retry-safe ruleset task against it, and real local runs: green, and with ``--fail`` ending FAILED on the
evaluation task.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from generator.compile.lower import lower
from generator.compile.pipelines import process
from generator.core.model import OperatorTask
from generator.core.provider_profile import LEGACY, MODERN, ProviderProfile
from generator.iam.builder import Arns
from generator.local.emulator import LocalAws
from generator.local.emulator.glue_data_quality import rules_of
from tests.test_iam import EXPECTED, policy_of
from tests.test_local_run import local_runs, states

SPEC = "tests/specs/data_quality.yaml"
LOCAL = "tests/local_run/glue_data_quality.yaml"
EVALUATE = "airflow.providers.amazon.aws.operators.glue.GlueDataQualityRuleSetEvaluationRunOperator"
RULESET = "generator.runtime.glue_data_quality.EnsureDataQualityRulesetOperator"
CUSTOMER_RULES = (
    'Rules = [\n    RowCount between 1 and 1000,\n    IsUnique "customer_id",\n'
    '    ColumnValues "country" in [ "FR", "DE" ]\n]\n'
)
TABLE = {"GlueTable": {"DatabaseName": "sales", "TableName": "orders"}}


def lowered(repo: Path, profile: ProviderProfile) -> dict[str, OperatorTask]:
    (result,) = process([repo / SPEC], profile=profile, airflow_major=3 if profile is MODERN else 2)
    assert result.spec is not None, result.diagnostics
    return {task.task_id: task for task in lower(result.spec, profile).tasks}


def evaluation(profile: ProviderProfile, table: str, names: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "aws_conn_id": "aws_default",
        "datasource": {"GlueTable": {"DatabaseName": "sales", "TableName": table}},
        "role": "arn:aws:iam::123456789012:role/glue-dq",
        "rule_set_names": names,
        "timeout": 360,  # minutes: the task's 6 h
        "verify_result_status": True,
        "show_results": profile is MODERN,  # 9.0 needs pandas to show them
        "wait_for_completion": True,
        "waiter_delay": 30,
        "waiter_max_attempts": 720,
        "deferrable": True,
        **extra,
    }


@pytest.mark.parametrize("profile", [MODERN, LEGACY], ids=["9.34", "9.0"])
def test_an_owned_ruleset_gets_a_ruleset_task_before_the_evaluation(repo: Path, profile: ProviderProfile) -> None:
    tasks = lowered(repo, profile)
    assert list(tasks) == [
        "check_orders_ruleset",
        "check_orders",
        "check_customers_ruleset",
        "check_customers",
        "check_existing",
    ]
    assert (tasks["check_orders_ruleset"].operator, tasks["check_orders_ruleset"].kwargs) == (
        RULESET,
        {
            "aws_conn_id": "aws_default",
            "name": "orders-checks",
            "ruleset": 'Rules = [ RowCount > 0, IsComplete "id" ]\n',
            "data_quality_ruleset_kwargs": {"TargetTable": {"DatabaseName": "sales", "TableName": "orders"}},
        },
    )
    assert (tasks["check_orders"].operator, tasks["check_orders"].kwargs) == (
        EVALUATE,
        evaluation(profile, "orders", ["orders-checks"]),
    )


@pytest.mark.parametrize("profile", [MODERN, LEGACY], ids=["9.34", "9.0"])
def test_rules_from_a_file_a_name_role_and_no_failure_on_rules(repo: Path, profile: ProviderProfile) -> None:
    tasks = lowered(repo, profile)
    assert tasks["check_customers_ruleset"].kwargs == {
        "aws_conn_id": "aws_default",
        "name": "customers-{{ ds_nodash }}",
        "ruleset": CUSTOMER_RULES,  # read from dq/customers.dqdl when the spec is compiled
        "data_quality_ruleset_kwargs": {"TargetTable": {"DatabaseName": "sales", "TableName": "customers"}},
        "description": "Checks of the customers table",
    }
    expected = evaluation(profile, "customers", ["customers-{{ ds_nodash }}"], number_of_workers=2)
    assert tasks["check_customers"].kwargs == {**expected, "role": "glue-dq", "verify_result_status": False}


@pytest.mark.parametrize("profile", [MODERN, LEGACY], ids=["9.34", "9.0"])
def test_existing_rulesets_are_evaluated_without_a_ruleset_task(repo: Path, profile: ProviderProfile) -> None:
    task = lowered(repo, profile)["check_existing"]
    # timeout 90s: Glue stops the run after 2 minutes; 9 polls of 10 s
    assert task.kwargs == evaluation(
        profile, "orders", ["orders-checks", "orders-freshness"], timeout=2, waiter_delay=10, waiter_max_attempts=9
    )


def test_exact_policy_of_the_data_quality_tasks(repo: Path) -> None:
    # the owned rulesets: Get/Create/Update on each by name (templated: widened); the evaluations: start and
    # results on their rulesets, run status on dataQualityRuleset/*, GetTable, the role passed to Glue only
    expected = json.loads((EXPECTED / "glue_data_quality.json").read_text())
    assert policy_of(repo, SPEC, arns=Arns(region="eu-west-1", account="123456789012")) == expected


# ----------------------------------------------------------------------------- the emulator


@pytest.fixture(scope="module")
def glue() -> Iterator[Any]:
    with LocalAws() as aws:
        yield aws.client("glue")


def error_code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def test_the_emulator_keeps_rulesets_by_name(glue: Any) -> None:
    glue.create_data_quality_ruleset(
        Name="emu-rules", Ruleset="Rules = [ RowCount > 0 ]", TargetTable={"DatabaseName": "d", "TableName": "t"}
    )
    with pytest.raises(ClientError) as duplicate:
        glue.create_data_quality_ruleset(Name="emu-rules", Ruleset="Rules = [ RowCount > 1 ]")
    assert error_code(duplicate) == "AlreadyExistsException"
    glue.update_data_quality_ruleset(Name="emu-rules", Ruleset="Rules = [ RowCount > 2 ]")
    found = glue.get_data_quality_ruleset(Name="emu-rules")
    assert (found["Ruleset"], found["TargetTable"]) == (
        "Rules = [ RowCount > 2 ]",
        {"DatabaseName": "d", "TableName": "t"},
    )
    assert "emu-rules" in [ruleset["Name"] for ruleset in glue.list_data_quality_rulesets()["Rulesets"]]
    glue.delete_data_quality_ruleset(Name="emu-rules")
    for call in (glue.get_data_quality_ruleset, glue.update_data_quality_ruleset, glue.delete_data_quality_ruleset):
        with pytest.raises(ClientError) as missing:
            call(
                Name="emu-rules",
                **({"Ruleset": "Rules = [ RowCount > 0 ]"} if call is glue.update_data_quality_ruleset else {}),
            )
        assert error_code(missing) == "EntityNotFoundException"


def test_an_evaluation_run_succeeds_in_two_polls_with_a_pass_per_rule(glue: Any) -> None:
    glue.create_data_quality_ruleset(
        Name="emu-eval", Ruleset='Rules = [ RowCount > 0, ColumnValues "s" in [ "A", "B" ] ]'
    )
    start = {"DataSource": TABLE, "Role": "glue-dq", "RulesetNames": ["emu-eval"], "ClientToken": "emu-token"}
    run_id = glue.start_data_quality_ruleset_evaluation_run(**start)["RunId"]
    assert glue.start_data_quality_ruleset_evaluation_run(**start)["RunId"] == run_id  # idempotent on the token
    assert glue.get_data_quality_ruleset_evaluation_run(RunId=run_id)["Status"] == "RUNNING"
    run = glue.get_data_quality_ruleset_evaluation_run(RunId=run_id)
    assert (run["Status"], len(run["ResultIds"])) == ("SUCCEEDED", 1)
    (result,) = glue.batch_get_data_quality_result(ResultIds=run["ResultIds"])["Results"]
    assert (result["RulesetName"], result["RulesetEvaluationRunId"], result["Score"]) == ("emu-eval", run_id, 1.0)
    assert result["RuleResults"] == [
        {"Name": "Rule_1", "Description": "RowCount > 0", "Result": "PASS"},
        {"Name": "Rule_2", "Description": 'ColumnValues "s" in [ "A", "B" ]', "Result": "PASS"},
    ]


def test_an_evaluation_of_a_missing_ruleset_is_refused(glue: Any) -> None:
    with pytest.raises(ClientError) as missing:
        glue.start_data_quality_ruleset_evaluation_run(DataSource=TABLE, Role="glue-dq", RulesetNames=["emu-none"])
    assert error_code(missing) == "EntityNotFoundException"


def test_the_rules_of_a_dqdl_ruleset_split_at_top_level_commas() -> None:
    assert rules_of('Rules = [ A > 0, B in [1, 2], C "x,y", (D > 1) and (E < 2) ]') == [
        "A > 0",
        "B in [1, 2]",
        'C "x,y"',
        "(D > 1) and (E < 2)",
    ]


def test_the_ruleset_task_creates_updates_then_leaves_the_ruleset(glue: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.providers.amazon.aws.hooks.glue import GlueDataQualityHook

    from generator.runtime.glue_data_quality import EnsureDataQualityRulesetOperator

    monkeypatch.setattr(GlueDataQualityHook, "conn", property(lambda hook: glue))  # the emulator's client

    def ensure(rules: str) -> None:
        operator = EnsureDataQualityRulesetOperator(
            task_id="check_ruleset",
            name="emu-owned",
            ruleset=rules,
            data_quality_ruleset_kwargs={"TargetTable": {"DatabaseName": "sales", "TableName": "orders"}},
        )
        assert operator.execute({}) == "emu-owned"

    ensure("Rules = [ RowCount > 0 ]\n")
    created = glue.get_data_quality_ruleset(Name="emu-owned")
    ensure("Rules = [ RowCount > 0 ]")  # a retry: same rules, nothing called
    assert glue.get_data_quality_ruleset(Name="emu-owned")["LastModifiedOn"] == created["LastModifiedOn"]
    ensure("Rules = [ RowCount > 5 ]")
    updated = glue.get_data_quality_ruleset(Name="emu-owned")
    assert (updated["Ruleset"], updated["TargetTable"]["TableName"]) == ("Rules = [ RowCount > 5 ]", "orders")
    assert updated["LastModifiedOn"] > created["LastModifiedOn"]


# ----------------------------------------------------------------------------- local runs


@pytest.fixture(scope="module")
def runs(request: pytest.FixtureRequest) -> Any:
    with pytest.MonkeyPatch.context() as patch:
        yield local_runs(request, patch)


def _evaluations(outcome: Any) -> list[tuple[str, str, str | None]]:
    seen = outcome.report["emulator"]["dq_evaluations"]
    return sorted((run["origin"], run["state"], run["cause"]) for run in seen)


def test_a_local_run_creates_the_ruleset_then_evaluates_it_twice(runs: Any) -> None:
    outcome = runs(LOCAL)
    assert states(outcome) == {"check_quality_ruleset": "success", "check_quality": "success", "check_again": "success"}
    assert (outcome.exit_code, outcome.report["state"]) == (0, "success"), outcome.output
    assert _evaluations(outcome) == [("check_again", "SUCCEEDED", None), ("check_quality", "SUCCEEDED", None)]


def test_a_failed_rule_fails_the_evaluation_task(runs: Any) -> None:
    outcome = runs(LOCAL, "--fail", "check_quality")
    assert states(outcome) == {
        "check_quality_ruleset": "success",
        "check_quality": "failed",
        "check_again": "upstream_failed",
    }
    assert (outcome.exit_code, outcome.report["state"]) == (1, "failed"), outcome.output
    cause = "injected by dagen run --fail check_quality"
    assert _evaluations(outcome) == [("check_quality", "SUCCEEDED", cause)]
