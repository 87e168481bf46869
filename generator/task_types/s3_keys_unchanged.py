"""``s3_keys_unchanged``: wait until the objects under an S3 prefix stop changing.

Lowers to ``S3KeysUnchangedSensor``: it succeeds once the set of keys under the
prefix has not changed for ``inactivity_period`` and holds at least
``min_objects``.  The sensor keeps the keys it saw in memory between checks,
so both provider lines allow only poke mode (``@poke_mode_only``): it holds a
worker slot between checks, or with ``deferrable: true`` the triggerer watches.

**Retry**: a retry starts a fresh inactivity window (it waits the full period
again); it creates nothing.
"""

from __future__ import annotations

from typing import Any

from generator.core.lowering_context import LowerContext
from generator.core.model import OperatorTask, TaskSpec
from generator.core.schema_parts import BOOLEAN, POSITIVE_DURATION, prop
from generator.core.value_formats import seconds
from generator.task_types.s3_delete import S3_LOCATION, split_uri

NAME = "s3_keys_unchanged"
SUMMARY = "Wait until the objects under an S3 prefix stop changing."
OPERATORS = ("airflow.providers.amazon.aws.sensors.s3.S3KeysUnchangedSensor",)

PROPERTIES = {
    "prefix": prop(S3_LOCATION, "Watch the objects under this s3://BUCKET/PREFIX.", "s3://my-landing-bucket/incoming/"),
    "inactivity_period": prop(POSITIVE_DURATION, "How long the keys must stay the same.", "10m", default="1h"),
    "min_objects": prop({"type": "integer", "minimum": 0}, "How many objects there must be at least.", 3, default=1),
    "allow_delete": prop(
        BOOLEAN, "Let objects disappear between checks (false: a deletion fails the task).", False, default=True
    ),
    "deferrable": prop(
        BOOLEAN, "Let the triggerer watch instead of a worker slot held between checks.", True, default=False
    ),
}
REQUIRED = ("prefix",)


def lower(task: TaskSpec, ctx: LowerContext) -> list[OperatorTask]:
    settings = task.settings
    bucket, prefix = split_uri(settings["prefix"])
    kwargs: dict[str, Any] = {
        **ctx.aws(),
        "bucket_name": bucket,
        "prefix": prefix,
        "inactivity_period": seconds(settings.get("inactivity_period", "1h")),
        "min_objects": settings.get("min_objects", 1),
        "allow_delete": settings.get("allow_delete", True),
        "poke_interval": task.poll_interval,
        "timeout": task.timeout,
    }
    if settings.get("deferrable", False):
        kwargs["deferrable"] = True
    return [OperatorTask(task_id=task.task_id, operator=OPERATORS[0], kwargs=kwargs)]
