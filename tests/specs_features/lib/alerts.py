"""Callbacks the feature specs name (`callback: lib.alerts.celebrate`); they record what they were told."""

from __future__ import annotations

from typing import Any

RECEIVED: list[tuple[str, str]] = []


def celebrate(context: Any) -> None:
    RECEIVED.append(("celebrate", context["dag"].dag_id))


def note_retry(context: Any) -> None:
    RECEIVED.append(("note_retry", context["ti"].task_id))


def chase(context: Any) -> None:
    RECEIVED.append(("chase", context["dag"].dag_id))
