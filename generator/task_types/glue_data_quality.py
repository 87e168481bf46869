"""``glue_data_quality``: evaluate AWS Glue Data Quality rulesets against a Glue table and wait for the result.

The evaluation lowers to the provider's ``GlueDataQualityRuleSetEvaluationRunOperator`` (both provider
lines have it): StartDataQualityRulesetEvaluationRun on the table (``database``, ``table``) as the
evaluation run's ``role`` (the MWAA role gets iam:PassRole on it, to Glue only), a wait (deferred, one
poll every ``poll_interval`` for as long as ``timeout``; Glue itself stops the run after ``timeout``,
rounded up to minutes), then BatchGetDataQualityResult.  With ``fail_on_rule_failure`` (the default) a
rule that FAILs (or ERRORs) fails the task (``verify_result_status``); without it the task succeeds and
only logs the results (as a table on provider 9.34 with pandas; 9.0 would fail the task without
pandas, so there ``show_results`` is off).  The task's XCom is the evaluation run's id.

The rulesets are named (``rulesets``: rulesets that exist already) or the pipeline owns one
(``ruleset``: its name and DQDL rules, inline under ``rules`` or in a ``.dqdl`` file beside the spec named
by ``rules_file``, read when the spec is compiled like ``athena_query``'s ``query_file``).  A task sets
exactly one of the two (DG548), and an owned ruleset one of ``rules`` and ``rules_file``.  An owned
ruleset adds a task ``<task>_ruleset`` before the evaluation
(:class:`generator.runtime.glue_data_quality.EnsureDataQualityRulesetOperator`): GetDataQualityRuleset,
then CreateDataQualityRuleset (targeting the table) when it is missing, UpdateDataQualityRuleset when its
rules differ from the spec's, nothing otherwise; so it is safe to run again.  DQDL must read
``Rules = [ ... ]`` (DG549: the operator refuses anything else when the task runs).

**A retry starts a new evaluation run.**  Evaluations only read the table, so running one again is safe;
the run of a failed try is not adopted (it may have failed for the very reason the task is retried).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from generator.core.diagnostics import Diagnostic
from generator.core.lowering_context import LowerContext
from generator.core.model import OperatorTask, TaskSpec
from generator.core.schema_parts import BOOLEAN, ROLE, TEMPLATED_STRING, Schema, obj, prop

NAME = "glue_data_quality"
SUMMARY = "Evaluate AWS Glue Data Quality rulesets on a Glue table and wait for the result (optionally owning one)."
EVALUATE_OPERATOR = "airflow.providers.amazon.aws.operators.glue.GlueDataQualityRuleSetEvaluationRunOperator"
RULESET_OPERATOR = "generator.runtime.glue_data_quality.EnsureDataQualityRulesetOperator"
OPERATORS = (EVALUATE_OPERATOR, RULESET_OPERATOR)
RULESET_SUFFIX = "_ruleset"  # <task>_ruleset: reserved (DG304) when the task sets ruleset
SOURCES = ("rules", "rules_file")  # of an owned ruleset: exactly one

# Glue's ruleset names: 1-255 characters, no control character but tab.
RULESET_NAME: Schema = {
    "type": "string",
    "minLength": 1,
    "maxLength": 255,
    "pattern": r"^[^\x00-\x08\x0a-\x1f\x7f]+$",
    "title": "Glue Data Quality ruleset name",
}
DQDL_FILE: Schema = {
    "type": "string",
    # As athena_query's SQL_FILE: relative, inside the spec's folder, no hidden part or Jinja; ends in .dqdl.
    "pattern": r"^(?!/)(?!.*(^|/)\.(?!/))[^\\{}\x00-\x1f]+\.dqdl$",
    "title": "path of a .dqdl file relative to the spec's folder (no '..', hidden part or Jinja)",
}
EXAMPLE_RULES = 'Rules = [ RowCount > 0, IsComplete "id" ]'
RULESET = obj(
    {
        "name": prop(
            RULESET_NAME, "Name of the ruleset (created when missing, updated when its rules differ).", "orders-checks"
        ),
        "rules": prop(
            TEMPLATED_STRING,
            "The DQDL ruleset: `Rules = [ rule, rule, ... ]`. Set this or `rules_file`.",
            EXAMPLE_RULES,
        ),
        "rules_file": prop(
            DQDL_FILE,
            "A `.dqdl` file holding the ruleset instead of `rules`, relative to the spec's folder; read when the "
            "spec is compiled.",
            "dq/orders.dqdl",
        ),
        "description": prop(TEMPLATED_STRING, "The ruleset's description.", "Checks of the orders table"),
    },
    required=("name",),
)

PROPERTIES = {
    "database": prop(TEMPLATED_STRING, "Glue database of the table evaluated.", "sales"),
    "table": prop(TEMPLATED_STRING, "Glue table evaluated.", "orders"),
    "role": prop(
        ROLE,
        "The role the evaluation run uses (name or ARN); the MWAA role gets iam:PassRole on it to Glue.",
        "arn:aws:iam::123456789012:role/glue-dq",
    ),
    "rulesets": prop(
        {"type": "array", "items": RULESET_NAME, "minItems": 1, "maxItems": 10, "uniqueItems": True},
        "Rulesets that exist already, evaluated in one run. Set this or `ruleset`.",
        ["orders-checks"],
    ),
    "ruleset": prop(
        RULESET,
        "One ruleset the pipeline owns, made or updated in a task `<task>_ruleset` before the evaluation.",
        {"name": "orders-checks", "rules": EXAMPLE_RULES},
    ),
    "fail_on_rule_failure": prop(
        BOOLEAN, "Fail the task when a rule fails (otherwise the results are only logged).", False, default=True
    ),
    "number_of_workers": prop(
        {"type": "integer", "minimum": 1, "maximum": 1000}, "G.1X workers of the evaluation run (Glue's default: 5).", 5
    ),
}
REQUIRED = ("database", "table", "role")
ONE_OF = (("rulesets", "ruleset"),)
FILE_KEYS = {("ruleset", "rules_file"): "rules"}  # read into ruleset.rules by generator.spec.files

_DQDL = re.compile(r"^Rules\s*=\s*\[(?P<rules>.*)\]$", re.DOTALL)


def ruleset_task_id(task_id: str) -> str:
    return f"{task_id}{RULESET_SUFFIX}"


def generated_task_ids(task_id: str, task: dict[str, Any]) -> dict[str, str]:
    """The ids of the tasks this type adds (reserved: a spec task of that id is DG304)."""
    if "ruleset" not in task:
        return {}
    return {ruleset_task_id(task_id): f"creates or updates the Glue Data Quality ruleset of '{task_id}'"}


def dqdl_problem(text: str) -> str | None:
    """Why ``text`` is not a DQDL ruleset the operator accepts, or None (the rules themselves are Glue's to parse)."""
    found = _DQDL.match(text.strip())
    if found is None:
        return "do not have the form Rules = [ ... ]"
    if not found["rules"].strip():
        return "name no rule"
    return None


def _one_of(task_id: str, task: dict[str, Any], keys: tuple[str, ...], at: Any, *base: str) -> Iterator[Diagnostic]:
    given = [key for key in keys if key in (task.get(base[0], {}) if base else task)]
    if len(given) == 1:
        return
    who = f"the ruleset of glue_data_quality '{task_id}'" if base else f"glue_data_quality '{task_id}'"
    yield Diagnostic(
        code="DG548",
        **at(("tasks", task_id, *base, *given[1:2]), key=True),
        message=f"{who} sets " + (f"neither {keys[0]} nor {keys[1]}" if not given else f"both {keys[0]} and {keys[1]}"),
        hint="write the DQDL under rules, or in a .dqdl file beside the spec named by rules_file"
        if base
        else "name rulesets that exist under rulesets, or give the one ruleset the pipeline owns under ruleset",
    )


def check(task_id: str, task: dict[str, Any], at: Any) -> Iterator[Diagnostic]:
    yield from _one_of(task_id, task, ONE_OF[0], at)
    ruleset = task.get("ruleset")
    if ruleset is None:
        return
    yield from _one_of(task_id, task, SOURCES, at, "ruleset")
    rules = ruleset.get("rules")
    # A ruleset that is one template ({{ var.value.rules }}) is only known when the task runs.
    templated = isinstance(rules, str) and rules.lstrip().startswith(("{{", "{%"))
    problem = dqdl_problem(rules) if isinstance(rules, str) and not templated else None
    if problem:
        yield Diagnostic(
            code="DG549",
            **at(("tasks", task_id, "ruleset", "rules")),
            message=f"the rules of ruleset '{ruleset['name']}' {problem}: Glue Data Quality reads DQDL",
            hint='write the rules as Rules = [ RowCount > 0, IsComplete "id" ]',
        )


def ruleset_task(task: TaskSpec, ctx: LowerContext) -> OperatorTask:
    """``<task>_ruleset``: the owned ruleset made when missing, updated when its rules differ."""
    settings = task.settings
    ruleset = settings["ruleset"]
    kwargs: dict[str, Any] = {
        **ctx.aws(),
        "name": ruleset["name"],
        "ruleset": ruleset["rules"],
        "data_quality_ruleset_kwargs": {
            "TargetTable": {"DatabaseName": settings["database"], "TableName": settings["table"]}
        },
    }
    if "description" in ruleset:
        kwargs["description"] = ruleset["description"]
    return OperatorTask(task_id=ruleset_task_id(task.task_id), operator=RULESET_OPERATOR, kwargs=kwargs)


def lower(task: TaskSpec, ctx: LowerContext) -> list[OperatorTask]:
    settings = task.settings
    names = [settings["ruleset"]["name"]] if "ruleset" in settings else list(settings["rulesets"])
    kwargs: dict[str, Any] = {
        **ctx.aws(),
        "datasource": {"GlueTable": {"DatabaseName": settings["database"], "TableName": settings["table"]}},
        "role": settings["role"],
        "rule_set_names": names,
        # Glue stops the run when the task stops waiting for it (minutes, rounded up).
        "timeout": max(1, -(-task.timeout // 60)),
        "verify_result_status": settings.get("fail_on_rule_failure", True),
        # the results as a log table; provider 9.0 fails the task when pandas is not installed (9.34 skips it)
        "show_results": ctx.profile.data_quality_results_without_pandas,
        "wait_for_completion": True,
        "waiter_delay": task.poll_interval,
        "waiter_max_attempts": ctx.max_attempts(task),
        "deferrable": True,
    }
    if "number_of_workers" in settings:
        kwargs["number_of_workers"] = settings["number_of_workers"]
    evaluate = OperatorTask(task_id=task.task_id, operator=EVALUATE_OPERATOR, kwargs=kwargs)
    return [ruleset_task(task, ctx), evaluate] if "ruleset" in settings else [evaluate]
