"""The python callables of tests/local_run/control_flow.yaml: a list to map over and a condition."""

from __future__ import annotations

from typing import Any


def list_files(count: int) -> list[str]:
    """The day's files: ``count`` of them (a param, so a run chooses 3 or 0)."""
    return [f"part-{index}.csv" for index in range(int(count))]


def is_weekday(logical_date: Any) -> bool:
    return bool(logical_date.weekday() < 5)
