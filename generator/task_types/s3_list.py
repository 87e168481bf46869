"""``s3_list``: list the keys under an S3 prefix; the list is the task's XCom.

Lowers to ``S3ListOperator`` (bucket, prefix, optional delimiter).  A ``suffix``
keeps only the keys that end with it: the prefix becomes ``PREFIX*SUFFIX`` with
``apply_wildcard`` (the operator lists under PREFIX and keeps the keys that
match, ``*`` spanning ``/``), so neither may hold a pattern character (DG539).

The return value is the list of keys (without ``s3://bucket/``), so a later task
can map over it: ``for_each: {output_of: THIS_TASK}`` and ``{{ item }}`` is one
key.  **Retry**: listing changes nothing; a retry lists again.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from generator.core.diagnostics import Diagnostic
from generator.core.lowering_context import LowerContext
from generator.core.model import OperatorTask, TaskSpec
from generator.core.schema_parts import TEMPLATED_STRING, prop
from generator.task_types.s3_delete import S3_LOCATION, split_uri

NAME = "s3_list"
SUMMARY = "List the keys under an S3 prefix (the list can be mapped over)."
OPERATORS = ("airflow.providers.amazon.aws.operators.s3.S3ListOperator",)

PROPERTIES = {
    "prefix": prop(
        S3_LOCATION, "List the keys under this s3://BUCKET/PREFIX.", "s3://my-landing-bucket/incoming/{{ ds }}/"
    ),
    "delimiter": prop(
        TEMPLATED_STRING, "Leave out keys with this after the prefix (`/`: only the prefix's own level).", "/"
    ),
    "suffix": prop(TEMPLATED_STRING, "Keep only the keys that end with this.", ".csv"),
}
REQUIRED = ("prefix",)
PATTERN_CHARACTERS = "*?["


def check(task_id: str, task: dict[str, Any], at: Any) -> Iterator[Diagnostic]:
    if "suffix" not in task:
        return
    for key in ("prefix", "suffix"):
        found = sorted({c for c in task[key] if c in PATTERN_CHARACTERS})
        if found:
            yield Diagnostic(
                code="DG539",
                **at(("tasks", task_id, key)),
                message=f"s3_list '{task_id}': the {key} '{task[key]}' holds {' '.join(found)}, which the suffix "
                "filter would read as a pattern",
                hint="list without suffix and filter downstream, or name the prefix and suffix literally",
            )


def lower(task: TaskSpec, ctx: LowerContext) -> list[OperatorTask]:
    settings = task.settings
    bucket, prefix = split_uri(settings["prefix"])
    kwargs: dict[str, Any] = {**ctx.aws(), "bucket": bucket, "prefix": prefix}
    if "delimiter" in settings:
        kwargs["delimiter"] = settings["delimiter"]
    if "suffix" in settings:
        kwargs["prefix"] = f"{prefix}*{settings['suffix']}"
        kwargs["apply_wildcard"] = True
    return [OperatorTask(task_id=task.task_id, operator=OPERATORS[0], kwargs=kwargs)]
