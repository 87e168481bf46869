"""``s3_wait``: wait until objects (or objects matching patterns) exist in S3, optionally big and fresh enough.

Lowers to ``S3KeySensor`` in reschedule mode (the worker slot is freed between
checks), or deferrable (the triggerer checks; no slot at all).  The object is
``bucket`` + ``key``, or a ``key`` that is a full ``s3://bucket/key`` URI;
``keys`` waits for several (every one must exist: the sensor's list of
``bucket_key``).  A ``*`` in a key makes it a pattern (fnmatch: ``*``, ``?``,
``[...]``) unless ``wildcard: false`` says the ``*`` is part of the key;
``pattern`` is a regular expression matched from the start of each key of
``bucket`` (``use_regex``: the sensor lists the whole bucket).

``min_size`` (bytes) and ``max_age`` (a duration before the run's data
interval end) lower to :class:`generator.runtime.s3_checks.S3ObjectChecksSensor`,
which takes them as plain values and makes its ``check_fn`` itself (no callable
in the compiled DAG); it reschedules between checks.  **Retry**: a sensor
creates nothing; a retry checks again.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from generator.core.diagnostics import Diagnostic
from generator.core.lowering_context import LowerContext
from generator.core.model import OperatorTask, TaskSpec
from generator.core.schema_parts import BOOLEAN, DURATION, TEMPLATED_STRING, prop
from generator.core.value_formats import TEMPLATE_START, is_templated, seconds

NAME = "s3_wait"
SUMMARY = "Wait until an object (or an object matching a pattern) exists in S3."
SENSOR = "airflow.providers.amazon.aws.sensors.s3.S3KeySensor"
CHECKS_SENSOR = "generator.runtime.s3_checks.S3ObjectChecksSensor"
OPERATORS = (SENSOR, CHECKS_SENSOR)

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
    "keys": prop(
        {"type": "array", "minItems": 1, "items": TEMPLATED_STRING},
        "Several keys (or s3:// URIs, or patterns): the task waits until every one exists.",
        ["incoming/{{ ds }}/orders.csv", "incoming/{{ ds }}/customers.csv"],
    ),
    "pattern": prop(
        TEMPLATED_STRING,
        "A regular expression matched from the start of each key of `bucket` (lists the whole bucket).",
        r"incoming/{{ ds }}/part-[0-9]+\.parquet$",
    ),
    "wildcard": prop(
        BOOLEAN,
        "Treat the key as a pattern (default: when it contains a `*`).",
        True,
    ),
    "min_size": prop({"type": "integer", "minimum": 0}, "Wait until the object has at least this many bytes.", 1048576),
    "max_age": prop(
        DURATION, "Wait for an object modified at most this long before the run's data interval end.", "6h"
    ),
    "deferrable": prop(
        BOOLEAN,
        "Let the triggerer wait instead of rescheduling the task between checks.",
        True,
        default=False,
    ),
}
REQUIRED = ()
ONE_OF = (("key", "keys", "pattern"),)
CHECKS = ("min_size", "max_age")


def _named(task: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    if "keys" in task:
        return [(("keys", index), key) for index, key in enumerate(task["keys"])]
    return [(("key",), task["key"])]


def _bucket_problems(task_id: str, task: dict[str, Any], at: Any) -> Iterator[Diagnostic]:
    for where, key in _named(task):
        template = TEMPLATE_START.search(key)
        literal = key if template is None else key[: template.start()]
        if template is not None and "s3://".startswith(literal):
            continue  # a template such as "{{ params.uri }}" decides at run time whether it is a URI
        is_uri = literal.startswith("s3://")
        if is_uri and "bucket" in task:
            yield Diagnostic(
                code="DG508",
                **at(("tasks", task_id, "bucket"), key=True),
                message=f"s3_wait '{task_id}' names the bucket twice: in bucket and in the key '{key}'",
                hint="keep bucket and write the key without s3://BUCKET/, or remove bucket",
            )
            return
        if not is_uri and "bucket" not in task:
            yield Diagnostic(
                code="DG508",
                **at(("tasks", task_id, *where)),
                message=f"s3_wait '{task_id}' has no bucket: '{key}' is a key, not an s3:// URI",
                hint=f"add bucket: BUCKET, or write key: s3://BUCKET/{key}",
            )
            return


def _form_problem(task_id: str, task: dict[str, Any]) -> tuple[tuple[Any, ...], str, str] | None:
    """(where, message, hint) of a combination of s3_wait keys that does not work, or None."""
    given = [key for key in ONE_OF[0] if key in task]
    checks = [key for key in CHECKS if key in task]
    if len(given) != 1:
        return (
            (*given[1:2],),
            f"s3_wait '{task_id}' sets {' and '.join(given) if given else 'none of key, keys and pattern'}: "
            "it waits for one of them",
            "set key (one object), keys (several) or pattern (a regular expression over bucket's keys)",
        )
    if "pattern" in task:
        if "bucket" not in task:
            return (("pattern",), f"s3_wait '{task_id}' has a pattern but no bucket", "add bucket: BUCKET")
        if "wildcard" in task:
            return (
                ("wildcard",),
                f"s3_wait '{task_id}' sets wildcard with a regular expression pattern",
                "remove wildcard: the pattern is a regular expression",
            )
        if checks:
            return (
                (checks[0],),
                f"s3_wait '{task_id}' cannot check {checks[0]} of objects a pattern matches",
                "use key with a shell-style pattern (*, ?, [...]) to check sizes and ages",
            )
        if not is_templated(task["pattern"]):
            try:
                re.compile(task["pattern"])
            except re.error as error:
                return (
                    ("pattern",),
                    f"s3_wait '{task_id}': the pattern is not a regular expression: {error}",
                    "write a Python regular expression, e.g. incoming/.*\\.csv$",
                )
    if checks and task.get("deferrable", False):
        return (
            ("deferrable",),
            f"s3_wait '{task_id}' checks {checks[0]}, which a deferred wait cannot do",
            "remove deferrable: the task is rescheduled between checks",
        )
    return None


def check(task_id: str, task: dict[str, Any], at: Any) -> Iterator[Diagnostic]:
    problem = _form_problem(task_id, task)
    if problem is not None:
        where, message, hint = problem
        yield Diagnostic(code="DG538", **at(("tasks", task_id, *where), key=True), message=message, hint=hint)
        return
    if "pattern" not in task:
        yield from _bucket_problems(task_id, task, at)


def lower(task: TaskSpec, ctx: LowerContext) -> list[OperatorTask]:
    settings = task.settings
    checks = {key: settings[key] for key in CHECKS if key in settings}
    kwargs: dict[str, Any] = {**ctx.aws()}
    if "pattern" in settings:
        kwargs |= {"bucket_key": settings["pattern"], "use_regex": True}
    else:
        key = settings["key"] if "key" in settings else list(settings["keys"])
        wildcard = "*" in key if isinstance(key, str) else any("*" in k for k in key)
        kwargs |= {"bucket_key": key, "wildcard_match": settings.get("wildcard", wildcard)}
    kwargs |= {"poke_interval": task.poll_interval, "timeout": task.timeout}
    if "bucket" in settings:
        kwargs["bucket_name"] = settings["bucket"]
    if "min_size" in checks:
        kwargs["min_size"] = checks["min_size"]
    if "max_age" in checks:
        kwargs["max_age"] = seconds(checks["max_age"])
    if settings.get("deferrable", False):
        kwargs["deferrable"] = True
    else:
        kwargs["mode"] = "reschedule"
    return [OperatorTask(task_id=task.task_id, operator=CHECKS_SENSOR if checks else SENSOR, kwargs=kwargs)]
