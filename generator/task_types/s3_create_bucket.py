"""``s3_create_bucket``: create an S3 bucket, or adopt it when it is already there.

Lowers to ``S3CreateBucketOperator``.  Both provider lines (9.0 and 9.34) first
ask ``HeadBucket`` (``S3Hook.check_for_bucket``) and create the bucket only when
that fails; a bucket this role can already see is logged as existing and left
as it is.  A bucket owned by another account answers HeadBucket with 403, so the
operator tries to create it and fails (``BucketAlreadyExists``): names are global.

**Retry**: a retry after the bucket was created finds it with HeadBucket and
succeeds without creating anything.  ``region`` (default: the connection's
region) is where the bucket is made; the name is checked against S3's bucket
naming rules unless it is templated (DG537).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from generator.core.diagnostics import Diagnostic
from generator.core.lowering_context import LowerContext
from generator.core.model import OperatorTask, TaskSpec
from generator.core.schema_parts import TEMPLATED_STRING, prop
from generator.core.value_formats import is_templated

NAME = "s3_create_bucket"
SUMMARY = "Create an S3 bucket (one that already exists and is ours is kept)."
OPERATORS = ("airflow.providers.amazon.aws.operators.s3.S3CreateBucketOperator",)

PROPERTIES = {
    "bucket": prop(
        TEMPLATED_STRING, "Name of the bucket (S3's naming rules; Jinja allowed).", "my-exports-{{ ds_nodash }}"
    ),
    "region": prop(
        {"type": "string", "pattern": r"^[a-z]{2}(-[a-z]+)+-[0-9]+$", "title": "AWS region"},
        "Region to create the bucket in (default: the connection's).",
        "eu-west-1",
    ),
}
REQUIRED = ("bucket",)

_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$")
_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def bucket_name_problem(name: str) -> str | None:
    """Why ``name`` breaks S3's rules for general purpose bucket names (None when it keeps them)."""
    if not _NAME.match(name):
        return "3-63 characters: lowercase letters, digits, '.' and '-', starting and ending with a letter or digit"
    if ".." in name:
        return "two periods in a row"
    if _IP.match(name):
        return "formatted like an IP address"
    reserved = next((p for p in _PREFIXES if name.startswith(p)), None) or next(
        (s for s in _SUFFIXES if name.endswith(s)), None
    )
    if reserved is not None:
        return f"'{reserved}' is reserved by S3"
    return None


def check(task_id: str, task: dict[str, Any], at: Any) -> Iterator[Diagnostic]:
    name = task["bucket"]
    problem = None if is_templated(name) else bucket_name_problem(name)
    if problem is not None:
        yield Diagnostic(
            code="DG537",
            **at(("tasks", task_id, "bucket")),
            message=f"s3_create_bucket '{task_id}': '{name}' is not a valid bucket name: {problem}",
            hint="bucket names are 3-63 lowercase letters, digits, '.' and '-', e.g. my-exports-2024",
        )


def lower(task: TaskSpec, ctx: LowerContext) -> list[OperatorTask]:
    kwargs: dict[str, Any] = {**ctx.aws(), "bucket_name": task.settings["bucket"]}
    if "region" in task.settings:
        kwargs["region_name"] = task.settings["region"]
    return [OperatorTask(task_id=task.task_id, operator=OPERATORS[0], kwargs=kwargs)]
