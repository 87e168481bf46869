"""The S3 objects a task waits for or checks, put on the local emulator as the task starts.

* an ``s3_wait`` task (``S3KeySensor``): the object(s) it waits for, one per key of a list, at least
  ``min_size`` bytes (a ``pattern``, a regular expression, gets none);
* a ``run_if: {s3_exists: URI}`` check (the ``run_if_<task>`` ``ShortCircuitOperator``): the object the
  condition reads (a URI ending in ``/`` is a prefix: one object under it), so the guarded task runs.

``dagen run --absent URI`` withholds an object: a URI the task names (rendered for this run) that equals an
absent URI, or starts with one that ends in ``/``, is never put, so the sensor sees nothing and the condition
is false.  Absent URIs are taken literally (the rendered key, never a template).
"""

from __future__ import annotations

import fnmatch
import json
import string
from collections.abc import Sequence
from typing import Any

from generator.core.conditions import CONDITION_CALLABLE
from generator.local.emulator import LocalAws

PREFIX_OBJECT = "dagen-local"  # the object put under a prefix a condition checks


def absent_match(uri: str, absent: Sequence[str]) -> str | None:
    """The ``--absent`` URI that withholds ``uri``: equal to it, or a prefix of it ending in ``/``."""
    return next((item for item in absent if uri == item or (item.endswith("/") and uri.startswith(item))), None)


def _withhold(named: Sequence[str], task_id: str, absent: Sequence[str], withheld: list[dict[str, str]]) -> bool:
    """Whether an ``--absent`` URI withholds any of ``named`` (the URI the task names, the object's); noted once."""
    for uri in named:
        match = absent_match(uri, absent)
        if match is not None:
            note = {"uri": named[0], "for_task": task_id, "absent": match}
            if note not in withheld:  # the task started again (a reschedule, a resumed deferral, a retry)
                withheld.append(note)
            return True
    return False


def key_matching(pattern: str) -> str:
    """A key that the shell-style ``pattern`` (``*``, ``?``, ``[...]``, as S3KeySensor matches) matches."""
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "*":
            out.append("dagen-local")
        elif char == "?":
            out.append("x")
        elif char == "[":
            end = pattern.find("]", index + 2)
            if end == -1:
                out.append(char)
            else:
                body = pattern[index + 1 : end]
                candidates = ("" if body.startswith("!") else body[0]) + string.ascii_lowercase + string.digits + "_-"
                out.append(next(c for c in candidates if fnmatch.fnmatchcase(c, f"[{body}]")))
                index = end
        else:
            out.append(char)
        index += 1
    key = "".join(out)
    if not fnmatch.fnmatch(key, pattern):
        raise ValueError(f"no key made for the pattern {pattern!r}")
    return key


def provide_sensor_objects(
    aws: LocalAws,
    task: Any,
    task_id: str,
    *,
    absent: Sequence[str] = (),
    withheld: list[dict[str, str]] | None = None,
) -> list[str]:
    """Put the object(s) an ``S3KeySensor`` waits for, at the keys Airflow rendered for this run; their URIs.

    Called as the task starts (after its templates are rendered), so ``{{ ds }}`` and params are the
    run's own.  A pattern gets one object that matches it.  A key (or pattern) an ``absent`` URI names is
    not put; it is noted in ``withheld``.
    """
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor

    if not isinstance(task, S3KeySensor):
        return []
    if getattr(task, "use_regex", False):
        return []  # no key is made for a regular expression: put the objects a pattern waits for yourself
    keys = [task.bucket_key] if isinstance(task.bucket_key, str) else list(task.bucket_key)
    uris = []
    for key in keys:
        bucket, name = S3Hook.get_s3_bucket_key(task.bucket_name, key, "bucket_name", "bucket_key")
        made = key_matching(name) if task.wildcard_match else name
        if _withhold(
            [f"s3://{bucket}/{name}", f"s3://{bucket}/{made}"], task_id, absent, [] if withheld is None else withheld
        ):
            continue
        size = getattr(task, "min_size", None) or 0  # an s3_wait with min_size: an object that big
        uris.append(aws.provide_object(bucket, made, for_task=task_id, size=size))
    return uris


def condition_uri(task: Any) -> str | None:
    """The URI a ``run_if: {s3_exists: URI}`` check reads, as Airflow rendered it (None for any other task)."""
    function = getattr(task, "python_callable", None)
    if f"{getattr(function, '__module__', '')}.{getattr(function, '__name__', '')}" != CONDITION_CALLABLE:
        return None
    try:
        condition = json.loads(task.op_args[0])
    except (AttributeError, IndexError, TypeError, ValueError):
        return None
    uri = condition.get("s3_exists") if isinstance(condition, dict) else None
    return uri if isinstance(uri, str) and uri.startswith("s3://") else None


def provide_condition_objects(
    aws: LocalAws,
    task: Any,
    task_id: str,
    *,
    absent: Sequence[str] = (),
    withheld: list[dict[str, str]] | None = None,
) -> list[str]:
    """Put the object a ``run_if: {s3_exists: URI}`` check reads (under a prefix URI: one object), unless an
    ``absent`` URI names it (then the condition is false and the guarded task skipped); their URIs."""
    uri = condition_uri(task)
    if uri is None:
        return []
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    made = f"{key}{PREFIX_OBJECT}" if not key or key.endswith("/") else key
    if _withhold([uri, f"s3://{bucket}/{made}"], task_id, absent, [] if withheld is None else withheld):
        return []
    return [aws.provide_object(bucket, made, for_task=task_id)]


def provide_objects(
    aws: LocalAws,
    task: Any,
    task_id: str,
    *,
    absent: Sequence[str] = (),
    withheld: list[dict[str, str]] | None = None,
) -> list[str]:
    """What :func:`provide_sensor_objects` and :func:`provide_condition_objects` put for the starting task."""
    return [
        *provide_sensor_objects(aws, task, task_id, absent=absent, withheld=withheld),
        *provide_condition_objects(aws, task, task_id, absent=absent, withheld=withheld),
    ]
