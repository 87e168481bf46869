"""Called by tests/specs/catalogue_more.yaml's python tasks: they return what they were given."""

from __future__ import annotations

from typing import Any


def summarise(table: str, day: str, partitions: list[str], ds: str) -> dict[str, Any]:
    """Spec kwargs plus one context value the signature names."""
    return {"table": table, "day": day, "partitions": partitions, "ds": ds}


def ping(**context: Any) -> str:
    """Every context value (``**context``)."""
    return f"pong {context['ds']} {context['ti'].task_id}"
