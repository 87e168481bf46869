"""The S3 objects an ``s3_wait`` task waits for, put on the local emulator as the task starts."""

from __future__ import annotations

import fnmatch
import string
from typing import Any

from generator.local.emulator import LocalAws


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


def provide_sensor_objects(aws: LocalAws, task: Any, task_id: str) -> list[str]:
    """Put the object(s) an ``S3KeySensor`` waits for, at the keys Airflow rendered for this run; their URIs.

    Called as the task starts (after its templates are rendered), so ``{{ ds }}`` and params are the
    run's own.  A pattern gets one object that matches it.
    """
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor

    if not isinstance(task, S3KeySensor):
        return []
    keys = [task.bucket_key] if isinstance(task.bucket_key, str) else list(task.bucket_key)
    uris = []
    for key in keys:
        bucket, name = S3Hook.get_s3_bucket_key(task.bucket_name, key, "bucket_name", "bucket_key")
        if task.wildcard_match:
            name = key_matching(name)
        uris.append(aws.provide_object(bucket, name, for_task=task_id))
    return uris
