"""``s3_wait`` with ``min_size``/``max_age``: an ``S3KeySensor`` whose ``check_fn`` is made from plain data.

The compiled DAG holds no callable: the sensor takes ``min_size`` (bytes) and
``max_age`` (seconds) and builds its own ``check_fn``.  A key is waited for
until its object is at least ``min_size`` bytes and was last modified no more
than ``max_age`` before the run's data interval end (the run's logical date
when it has no interval; the time of the check when neither is known).  For
a pattern, at least one matching object must pass.  Each key of a list is
checked on its own.  The sensor reschedules between checks (the task sets
``mode``); deferral is not used, because the older provider's trigger does not
return the ``LastModified`` the age check reads.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor

METADATA_KEYS = ["Key", "Size", "LastModified"]


def reference_time(context: dict[str, Any]) -> datetime:
    """What ``max_age`` counts back from: the data interval end, else the logical date, else now."""
    for name in ("data_interval_end", "logical_date"):
        value = context.get(name)
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime.now(timezone.utc)


def passes(file: dict[str, Any], min_size: int | None, max_age: int | None, reference: datetime) -> bool:
    """Whether one object's metadata (``Size``, ``LastModified``) meets the checks."""
    if min_size is not None and (file.get("Size") or 0) < min_size:
        return False
    if max_age is not None:
        modified = file.get("LastModified")
        if not isinstance(modified, datetime) or modified < reference - timedelta(seconds=max_age):
            return False
    return True


class S3ObjectChecksSensor(S3KeySensor):  # type: ignore[misc]
    """``S3KeySensor`` that also checks each object's size and age (see the module)."""

    def __init__(self, *, min_size: int | None = None, max_age: int | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("metadata_keys", list(METADATA_KEYS))
        super().__init__(**kwargs)
        self.min_size = min_size
        self.max_age = max_age
        self.check_fn = self.objects_pass

    def objects_pass(self, files: list[dict[str, Any]], **context: Any) -> bool:
        reference = reference_time(context)
        ok = [f for f in files if passes(f, self.min_size, self.max_age, reference)]
        self.log.info(
            "%d of %d object(s) pass min_size=%s max_age=%s", len(ok), len(files), self.min_size, self.max_age
        )
        return bool(ok)
