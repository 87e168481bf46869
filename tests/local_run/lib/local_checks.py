"""The python callable and the notification callbacks of tests/local_run/every_type.yaml.

Each leaves a trace in the local run's report: an S3 object written through
the run's AWS connection (the emulator records which task wrote it).
"""

from __future__ import annotations

import json
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook

NOTIFICATIONS_BUCKET = "dagen-local-data"


def _put(bucket: str, key: str, document: Any) -> None:
    S3Hook(aws_conn_id="aws_default").load_string(json.dumps(document), key=key, bucket_name=bucket, replace=True)


def summarise(bucket: str, day: str, regions: list[str], ti: Any) -> dict[str, Any]:
    """Write the day's summary beside the landed data; the task's XCom is what was written."""
    summary = {"day": day, "regions": regions, "task": ti.task_id}
    _put(bucket, f"summaries/{day}.json", summary)
    return summary


def note_retry(context: Any) -> None:
    ti = context["ti"]
    _put(NOTIFICATIONS_BUCKET, f"notifications/retry/{ti.task_id}/{ti.try_number}", {"task": ti.task_id})


def celebrate(context: Any) -> None:
    _put(NOTIFICATIONS_BUCKET, f"notifications/success/{context['dag'].dag_id}", {"run_id": context["run_id"]})
