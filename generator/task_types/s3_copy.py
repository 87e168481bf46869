"""``s3_copy``: copy one S3 object to another key (in the same bucket or another one).

Lowers to ``S3CopyObjectOperator`` with full ``s3://`` URIs as ``source_bucket_key``
and ``dest_bucket_key`` (no bucket names: the operator takes the bucket from
each URI).  One CopyObject request: objects up to 5 GB.

**Retry**: retry-safe by nature: a retry copies the same source over the same
destination key again, leaving the same object (the copy is whole or absent,
never partial).
"""

from __future__ import annotations

from generator.core.lowering_context import LowerContext
from generator.core.model import OperatorTask, TaskSpec
from generator.core.schema_parts import prop
from generator.task_types.s3_delete import S3_OBJECT

NAME = "s3_copy"
SUMMARY = "Copy one S3 object to another key or bucket."
OPERATORS = ("airflow.providers.amazon.aws.operators.s3.S3CopyObjectOperator",)

PROPERTIES = {
    "source": prop(S3_OBJECT, "The object to copy (s3://BUCKET/KEY).", "s3://my-landing-bucket/incoming/{{ ds }}.csv"),
    "destination": prop(
        S3_OBJECT,
        "Where the copy goes (s3://BUCKET/KEY); an object already there is replaced.",
        "s3://my-curated-bucket/daily/{{ ds }}.csv",
    ),
}
REQUIRED = ("source", "destination")


def lower(task: TaskSpec, ctx: LowerContext) -> list[OperatorTask]:
    kwargs = {
        **ctx.aws(),
        "source_bucket_key": task.settings["source"],
        "dest_bucket_key": task.settings["destination"],
    }
    return [OperatorTask(task_id=task.task_id, operator=OPERATORS[0], kwargs=kwargs)]
