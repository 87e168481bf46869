"""``s3_wait``: wait until an object (or any object matching a pattern) exists in S3.

Lowers to ``S3KeySensor`` in reschedule mode (the worker slot is freed between
checks), or deferrable (the triggerer checks; no slot at all).  The object is
``bucket`` + ``key``, or a ``key`` that is a full ``s3://bucket/key`` URI.  A
``*`` in the key makes it a pattern (fnmatch: ``*``, ``?``, ``[...]``) unless
``wildcard: false`` says the ``*`` is part of the key.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from generator.core.diagnostics import Diagnostic
from generator.core.lowering_context import LowerContext
from generator.core.model import OperatorTask, TaskSpec
from generator.core.schema_parts import BOOLEAN, TEMPLATED_STRING, prop
from generator.core.value_formats import TEMPLATE_START

NAME = "s3_wait"
SUMMARY = "Wait until an object (or an object matching a pattern) exists in S3."
OPERATORS = ("airflow.providers.amazon.aws.sensors.s3.S3KeySensor",)

PROPERTIES = {
    "bucket": prop(
        {
            "type": "string",
            "pattern": r"^([a-z0-9][a-z0-9.-]{1,61}[a-z0-9]|.*\{\{.*\}\}.*)$",
            "title": "bucket name (3-63 lowercase letters, digits, '.', '-'; Jinja allowed)",
        },
        "Bucket of the object (leave out when `key` is an s3:// URI).",
        "my-landing-bucket",
        "{{ params.bucket }}",
    ),
    "key": prop(
        TEMPLATED_STRING,
        "Key of the object, or a full s3:// URI; `*`, `?` and `[...]` match like shell patterns.",
        "incoming/{{ ds }}/_SUCCESS",
        "s3://my-landing-bucket/incoming/{{ ds }}/*.csv",
    ),
    "wildcard": prop(
        BOOLEAN,
        "Treat the key as a pattern (default: when it contains a `*`).",
        True,
    ),
    "deferrable": prop(
        BOOLEAN,
        "Let the triggerer wait instead of rescheduling the task between checks.",
        True,
        default=False,
    ),
}
REQUIRED = ("key",)


def check(task_id: str, task: dict[str, Any], at: Any) -> Iterator[Diagnostic]:
    key = task["key"]
    template = TEMPLATE_START.search(key)
    literal = key if template is None else key[: template.start()]
    if template is not None and "s3://".startswith(literal):
        return  # a template such as "{{ params.uri }}" decides at run time whether it is a URI
    is_uri = literal.startswith("s3://")
    if is_uri and "bucket" in task:
        yield Diagnostic(
            code="DG508",
            **at(("tasks", task_id, "bucket"), key=True),
            message=f"s3_wait '{task_id}' names the bucket twice: in bucket and in the key '{key}'",
            hint="keep bucket and write the key without s3://BUCKET/, or remove bucket",
        )
    elif not is_uri and "bucket" not in task:
        yield Diagnostic(
            code="DG508",
            **at(("tasks", task_id, "key")),
            message=f"s3_wait '{task_id}' has no bucket: '{key}' is a key, not an s3:// URI",
            hint=f"add bucket: BUCKET, or write key: s3://BUCKET/{key}",
        )


def lower(task: TaskSpec, ctx: LowerContext) -> list[OperatorTask]:
    settings = task.settings
    key = settings["key"]
    kwargs: dict[str, Any] = {
        **ctx.aws(),
        "bucket_key": key,
        "wildcard_match": settings.get("wildcard", "*" in key),
        "poke_interval": task.poll_interval,
        "timeout": task.timeout,
    }
    if "bucket" in settings:
        kwargs["bucket_name"] = settings["bucket"]
    if settings.get("deferrable", False):
        kwargs["deferrable"] = True
    else:
        kwargs["mode"] = "reschedule"
    return [OperatorTask(task_id=task.task_id, operator=OPERATORS[0], kwargs=kwargs)]
