"""``s3_delete``: delete S3 objects, named one by one or everything under a prefix.

Lowers to ``S3DeleteObjectsOperator`` with the bucket and either ``keys`` (all
in one bucket: DeleteObjects takes one) or ``prefix`` (the operator lists the
prefix and deletes what it finds).  A ``prefix`` that is a bucket's root
(``s3://bucket`` or ``s3://bucket/``) is refused: that would empty the bucket.

**Retry**: deleting a key that is already gone succeeds (S3 answers DeleteObjects
for a missing key as deleted), and a prefix with nothing left under it lists no
keys and deletes nothing, so a retry after a partial delete finishes the job.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from generator.core.diagnostics import Diagnostic
from generator.core.lowering_context import LowerContext
from generator.core.model import OperatorTask, TaskSpec
from generator.core.schema_parts import S3_URI, prop

NAME = "s3_delete"
SUMMARY = "Delete S3 objects: a list of keys in one bucket, or everything under a prefix."
OPERATORS = ("airflow.providers.amazon.aws.operators.s3.S3DeleteObjectsOperator",)

# s3://BUCKET/... with the bucket written out (Jinja allowed in it): the operators take bucket and key apart.
S3_LOCATION = {**S3_URI, "pattern": r"^s3://[^/]+(/.*)?$", "title": "S3 URI s3://BUCKET/... (Jinja allowed)"}
S3_OBJECT = {**S3_URI, "pattern": r"^s3://[^/]+/.+$", "title": "S3 URI s3://BUCKET/KEY (Jinja allowed)"}

PROPERTIES = {
    "keys": prop(
        {"type": "array", "minItems": 1, "maxItems": 1000, "items": S3_OBJECT},
        "Objects to delete, as s3:// URIs in one bucket (at most 1000: one DeleteObjects request).",
        ["s3://my-staging-bucket/tmp/{{ ds }}/part-0.csv", "s3://my-staging-bucket/tmp/{{ ds }}/_SUCCESS"],
    ),
    "prefix": prop(
        S3_LOCATION,
        "Delete every object under this s3://BUCKET/PREFIX (never a bucket's root).",
        "s3://my-staging-bucket/tmp/{{ ds }}/",
    ),
}
REQUIRED = ()
ONE_OF = (("keys", "prefix"),)


def split_uri(uri: str) -> tuple[str, str]:
    """Bucket and key (or prefix) of ``s3://bucket/key`` (the schema ensures the ``s3://BUCKET`` head)."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def check(task_id: str, task: dict[str, Any], at: Any) -> Iterator[Diagnostic]:
    given = [key for key in ONE_OF[0] if key in task]
    if len(given) != 1:
        yield Diagnostic(
            code="DG535",
            **at(("tasks", task_id, *given[1:]), key=True),
            message=f"s3_delete '{task_id}' sets "
            + ("both keys and prefix" if given else "neither keys nor prefix")
            + ": it deletes one or the other",
            hint="list the objects under keys, or give the prefix whose objects go",
        )
        return
    if "keys" in task:
        buckets = [split_uri(uri)[0] for uri in task["keys"]]
        for index, bucket in enumerate(buckets):
            if bucket != buckets[0]:
                yield Diagnostic(
                    code="DG535",
                    **at(("tasks", task_id, "keys", index)),
                    message=f"s3_delete '{task_id}' deletes from two buckets, '{buckets[0]}' and '{bucket}'; "
                    "one DeleteObjects request names one bucket",
                    hint="make one s3_delete task per bucket",
                )
                return
    elif not split_uri(task["prefix"])[1]:
        yield Diagnostic(
            code="DG536",
            **at(("tasks", task_id, "prefix")),
            message=f"s3_delete '{task_id}' would delete every object of the bucket: '{task['prefix']}' is its root",
            hint=f"name the folder to delete, e.g. {task['prefix'].rstrip('/')}/staging/; emptying a bucket is not a "
            "pipeline task",
        )


def lower(task: TaskSpec, ctx: LowerContext) -> list[OperatorTask]:
    settings = task.settings
    kwargs: dict[str, Any] = {**ctx.aws()}
    if "keys" in settings:
        kwargs["bucket"] = split_uri(settings["keys"][0])[0]
        kwargs["keys"] = [split_uri(uri)[1] for uri in settings["keys"]]
    else:
        kwargs["bucket"], kwargs["prefix"] = split_uri(settings["prefix"])
    return [OperatorTask(task_id=task.task_id, operator=OPERATORS[0], kwargs=kwargs)]
