"""Phase 2b, validate: the rules Airflow enforces when it builds a DAG, checked before it does.

What `dagen validate` accepts must build: dates Airflow can compute with, a
time zone it can load, a schedule that fires, timetable constraints, and task
ids within Airflow's length once group prefixes and generated suffixes are on.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from generator.core.diagnostics import Diagnostic

At = Callable[..., dict[str, Any]]

# Dates Airflow computes with both ways (a data interval before start_date, a year of runs after end_date).
FIRST_YEAR, LAST_YEAR = 1900, 2999
TASK_ID_LENGTH = 250  # Airflow's ID_LEN, for the task id with its group prefix


def _parse_date(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T"))
    except ValueError:
        return None


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) | {"UTC"}


def check_timezone(spec: dict[str, Any], at: At) -> Iterator[Diagnostic]:
    name = spec.get("timezone")
    if name is not None and name not in _time_zones():
        offset = name[:1] in "+-" or name.upper().startswith(("UTC+", "UTC-", "GMT+", "GMT-"))
        yield Diagnostic(
            code="DG204",
            **at(("timezone",)),
            message=f"unknown time zone '{name}'" + (": Airflow needs a zone name, not an offset" if offset else ""),
            hint="use an IANA name such as UTC, Europe/Paris or America/New_York",
        )


def check_dates(spec: dict[str, Any], at: At) -> Iterator[Diagnostic]:
    if "start_date" not in spec:
        yield Diagnostic(
            code="DG202",
            **at(()),
            message="missing required key 'start_date' (in the spec or in defaults.yaml)",
            hint="add e.g. start_date: 2024-01-01",
        )
    parsed = {}
    for key in ("start_date", "end_date"):
        if key not in spec:
            continue
        moment = _parse_date(spec[key])
        if moment is None:
            yield Diagnostic(
                code="DG407",
                **at((key,)),
                message=f"{key} '{spec[key]}' is not a real date",
                hint="check the day and month",
            )
        elif not FIRST_YEAR <= moment.year <= LAST_YEAR:
            yield Diagnostic(
                code="DG407",
                **at((key,)),
                message=f"{key} {spec[key]} is outside the years {FIRST_YEAR}-{LAST_YEAR} Airflow can schedule in",
                hint="check the year",
            )
        else:
            parsed[key] = moment
    start, end = parsed.get("start_date"), parsed.get("end_date")
    if start and end and start.replace(tzinfo=None) > end.replace(tzinfo=None):
        yield Diagnostic(
            code="DG407",
            **at(("end_date",)),
            message=f"end_date {spec['end_date']} is before start_date {spec['start_date']}",
            hint="swap them or remove end_date",
        )


def check_schedule(spec: dict[str, Any], at: At) -> Iterator[Diagnostic]:
    schedule = spec.get("schedule")
    if schedule == "@continuous" and spec.get("max_active_runs", 1) > 1:
        yield Diagnostic(
            code="DG413",
            **at(("max_active_runs",)),
            message=f"schedule @continuous starts a run when the last one ends: max_active_runs must be 1, "
            f"not {spec['max_active_runs']}",
            hint="remove max_active_runs (it is 1 for @continuous), or use a cron schedule",
        )
    if not isinstance(schedule, str) or schedule.startswith("@"):
        return
    start = _parse_date(str(spec.get("start_date", "")))
    if start is None or not FIRST_YEAR <= start.year <= LAST_YEAR:
        return  # check_dates reports it
    from croniter import CroniterBadDateError, croniter

    try:
        first = croniter(schedule, start.replace(tzinfo=None) - timedelta(seconds=1)).get_next(datetime)
    except CroniterBadDateError:
        yield Diagnostic(
            code="DG401",
            **at(("schedule",)),
            message=f"the schedule '{schedule}' never fires: no date matches it",
            hint="check the day-of-month and month fields (February has no 30th or 31st)",
        )
        return
    end = _parse_date(str(spec.get("end_date", "")))
    if end is not None and first > end.replace(tzinfo=None):
        yield Diagnostic(
            code="DG401",
            **at(("schedule",)),
            message=f"the schedule '{schedule}' first fires at {first.isoformat(sep=' ')}, after end_date "
            f"{spec['end_date']}: the pipeline would never run",
            hint="move end_date later or change the schedule",
        )


def check_task_ids(spec: dict[str, Any], at: At) -> Iterator[Diagnostic]:
    for task_id, task in spec["tasks"].items():
        full = f"{task['group']}.{task_id}" if task.get("group") else task_id
        if len(full) > TASK_ID_LENGTH:
            made = " with its group prefix"
            yield Diagnostic(
                code="DG309",
                **at(("tasks", task_id), key=True),
                message=f"task id '{task_id}' becomes '{full[:40]}...' ({len(full)} characters{made}); Airflow "
                f"allows at most {TASK_ID_LENGTH}",
                hint="shorten the task id or its group name",
            )


AIRFLOW_RULES = (check_timezone, check_dates, check_schedule, check_task_ids)
