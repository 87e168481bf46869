"""Conditions and trigger rules: the spec's control-flow vocabulary, shared by ``run_if`` and ``branch``.

A condition is one of

* a Jinja expression, written as a template: ``"{{ params.full_refresh }}"``;
* ``{s3_exists: URI}``: an object exists at the key (a URI ending in ``/``: any object under the prefix);
* ``{python: module.function, kwargs: {...}}``: a function under ``pipelines/`` returns true.

Every kind is evaluated when the task runs (:mod:`generator.runtime.conditions`, named here by path only),
never when the loader parses the DAGs folder.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from generator.core.schema_parts import IDENTIFIER_PATTERN, S3_URI, TASK_ID_PATTERN, Schema, obj, prop

DOTTED_PATH = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$"
EXPRESSION_PATTERN = r"^\s*\{\{.*\}\}\s*$"

CONDITION: Schema = {
    "title": "condition: a {{ expression }}, {s3_exists: URI} or {python: module.function}",
    "anyOf": [
        {
            "type": "string",
            "pattern": EXPRESSION_PATTERN,
            "title": "a Jinja expression between {{ and }}, true or false when the task runs",
        },
        obj(
            {
                "s3_exists": prop(
                    S3_URI,
                    "Holds when this object exists (a URI ending in '/': any object under the prefix).",
                    "s3://landing/sales/{{ ds }}/_SUCCESS",
                )
            },
            required=("s3_exists",),
            title="S3 condition",
        ),
        obj(
            {
                "python": prop(
                    {"type": "string", "pattern": DOTTED_PATH, "title": "dotted path module.function, from pipelines/"},
                    "A function under pipelines/ that returns true or false.",
                    "lib.checks.is_business_day",
                ),
                "kwargs": prop(
                    {"type": "object"}, "Its keyword arguments (Jinja in strings is rendered).", {"day": "{{ ds }}"}
                ),
            },
            required=("python",),
            title="Python condition",
        ),
    ],
}

TASK_ID: Schema = {"type": "string", "pattern": TASK_ID_PATTERN, "title": "task id"}
NAME: Schema = {"type": "string", "pattern": IDENTIFIER_PATTERN, "title": "name"}
SCALAR: Schema = {"type": ["string", "integer", "number", "boolean"], "title": "string, number or boolean"}
MAX_ITEMS = 1024  # Airflow's default max_map_length
FOR_EACH: Schema = {
    "title": "a list of items, {param: NAME}, {matrix: {FIELD: [...]}} or {output_of: TASK}",
    "anyOf": [
        {"type": "array", "minItems": 1, "maxItems": 1000, "items": SCALAR, "uniqueItems": True},
        obj(
            {
                "param": prop(
                    NAME,
                    "A param whose default is the list of items.",
                    "categories",
                )
            },
            required=("param",),
            title="items of a param's default",
        ),
        obj(
            {
                "matrix": prop(
                    {
                        "type": "object",
                        "minProperties": 1,
                        "propertyNames": {"pattern": IDENTIFIER_PATTERN},
                        "additionalProperties": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": 1000,
                            "items": SCALAR,
                            "uniqueItems": True,
                        },
                    },
                    "Fields and their values: one task per combination, `{{ item.FIELD }}` its value.",
                    {"category": ["Books", "Toys"], "region": ["eu", "us"]},
                )
            },
            required=("matrix",),
            title="matrix",
        ),
        obj(
            {
                "output_of": prop(
                    TASK_ID,
                    "An upstream task whose return value is the list (mapped when the run gets there).",
                    "list_files",
                ),
                "max_items": prop(
                    {"type": "integer", "minimum": 1, "maximum": MAX_ITEMS},
                    "Fail the run's mapping when the list is longer than this.",
                    100,
                    default=256,
                ),
                "if_empty": prop(
                    {"enum": ["skip", "fail"]},
                    "An empty list: skip the task (and what needs it), or fail the run's mapping.",
                    "fail",
                    default="skip",
                ),
            },
            required=("output_of",),
            title="map at run time",
        ),
    ],
}


# Airflow's rules a spec may set (the rest mean nothing a pipeline needs).
TRIGGER_RULES = (
    "all_success",
    "all_done",
    "all_failed",
    "one_success",
    "one_failed",
    "none_failed",
    "none_failed_min_one_success",
)
# Rules under which a task runs although an upstream task failed.
RUNS_AFTER_FAILURE = frozenset({"all_done", "all_failed", "one_success", "one_failed"})
# Rules a task on a transient cluster may have: Airflow runs what follows a setup (create_<cluster>) only on
# all_success (a join after a branch gets its rule on create_<cluster> itself).
CLUSTER_SAFE_RULES = frozenset({"all_success"})
JOIN_RULE = "none_failed_min_one_success"

CONDITION_CALLABLE = "generator.runtime.conditions.condition_holds"
BRANCH_CALLABLE = "generator.runtime.conditions.chosen_paths"
MAPPED_VALUES = "generator.runtime.fan_out.mapped_values"
SHORT_CIRCUIT = {
    True: "airflow.providers.standard.operators.python.ShortCircuitOperator",
    False: "airflow.operators.python.ShortCircuitOperator",
}
BRANCH = {
    True: "airflow.providers.standard.operators.python.BranchPythonOperator",
    False: "airflow.operators.python.BranchPythonOperator",
}


# `{{ item }}` / `{{ item.FIELD }}` written alone between the braces: a for_each item (spec.fan_out replaces it
# when the spec is compiled; in a task mapped at run time it becomes item_mark(FIELD) for runtime.fan_out to fill).
ITEM_PLACEHOLDER = re.compile(r"\{\{\s*item(?:\.([A-Za-z_][A-Za-z0-9_]*))?\s*\}\}")


def item_mark(field: str | None) -> str:
    """What stands for ``{{ item }}`` (``field`` None) or ``{{ item.field }}`` until the items are known."""
    return f"@@dagen:item{'.' + field if field else ''}@@"


def cleanup_ids(rules: Mapping[str, str | None], upstream: Mapping[str, Iterable[str]]) -> set[str]:
    """Last tasks with ``trigger_rule: all_done``: cleanups, built as teardowns (out of the run's state).

    ``rules``: each task's rule as the spec sets it; ``upstream``: each task's direct upstream tasks.
    """
    needed = {dep for deps in upstream.values() for dep in deps}
    return {task_id for task_id, rule in rules.items() if rule == "all_done" and task_id not in needed}


def run_if_task_id(task_id: str) -> str:
    """The generated task that checks a task's ``run_if``."""
    return f"run_if_{task_id}"


def map_items_task_id(task_id: str) -> str:
    """The generated task that makes the items a task is mapped over (``for_each: {output_of: ...}``)."""
    return f"{task_id}_items"


def condition_data(condition: Any, aws_conn_id: str) -> dict[str, Any]:
    """A condition as the runtime reads it: one kind and its value (the expression rendered by Airflow)."""
    if isinstance(condition, str):
        return {"expression": condition}
    if "s3_exists" in condition:
        return {"s3_exists": condition["s3_exists"], "aws_conn_id": aws_conn_id}
    return {"python": condition["python"], "kwargs": condition.get("kwargs", {})}


def condition_text(condition: Any) -> str:
    """One line for previews: what the condition tests."""
    if isinstance(condition, str):
        return condition.strip()
    if "s3_exists" in condition:
        return f"s3_exists {condition['s3_exists']}"
    arguments = json.dumps(condition.get("kwargs", {}), sort_keys=True) if condition.get("kwargs") else ""
    return f"python {condition['python']}({arguments})" if arguments else f"python {condition['python']}()"
