"""The schedule section of a preview: a DAG's schedule in words, and its next run times from a given "now".

``cron-descriptor`` is not a dependency; the common forms (every N minutes,
hourly, daily at fixed times, weekdays, days of the month, months) are put in
words here, and anything else falls back to a literal field-by-field reading.
Run times come from croniter, the library Airflow's own cron timetables use,
evaluated in the DAG's timezone from an explicit ``now`` so output is testable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from generator.core.value_formats import PRESET_CRON
from generator.preview.values import plain

MANUAL = "manual only: runs start when triggered from the UI, CLI or API"
ONCE = "once, as soon as the DAG is unpaused on or after its start date"
CONTINUOUS = "continuously: a new run starts as soon as the previous one ends"

_DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_DAY_NAMES = {name[:3].lower(): index for index, name in enumerate(_DAYS)}
_MONTH_NAMES = {name[:3].lower(): index + 1 for index, name in enumerate(_MONTHS)}
# (low, high, names) of minute, hour, day-of-month, month, day-of-week
_FIELDS: tuple[tuple[int, int, dict[str, int]], ...] = (
    (0, 59, {}),
    (0, 23, {}),
    (1, 31, {}),
    (1, 12, _MONTH_NAMES),
    (0, 7, _DAY_NAMES),
)
_ATOM = re.compile(r"^(\*|[0-9a-z]+)(?:-([0-9a-z]+))?(?:/([0-9]+))?$")
_SHOWN_TIMES = 6


def _value(token: str, names: dict[str, int]) -> int:
    return int(token) if token.isdigit() else names[token]


def _expand(text: str, low: int, high: int, names: dict[str, int]) -> set[int] | None:
    """The values a cron field matches, or None when the field is not understood."""
    values: set[int] = set()
    for part in text.lower().split(","):
        match = _ATOM.match(part)
        if not match:
            return None
        start, end, step = match.groups()
        try:
            first = low if start == "*" else _value(start, names)
            last = high if start == "*" or (end is None and step is not None) else first
            if end is not None:
                last = _value(end, names)
        except KeyError:
            return None
        values.update(range(first, last + 1, int(step or 1)))
    return values


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _runs(values: list[int]) -> list[tuple[int, int]]:
    """Consecutive runs of sorted values: [1,2,3,5] -> [(1,3),(5,5)]."""
    out: list[tuple[int, int]] = []
    for value in values:
        if out and value == out[-1][1] + 1:
            out[-1] = (out[-1][0], value)
        else:
            out.append((value, value))
    return out


def _ranges(values: set[int], name: dict[int, str] | None = None) -> str:
    def show(value: int) -> str:
        return name[value] if name else str(value)

    parts = []
    for first, last in _runs(sorted(values)):
        if last - first >= 2:
            parts.append(f"{show(first)} to {show(last)}")
        else:
            parts.extend(show(value) for value in range(first, last + 1))
    return _join(parts)


def _step(values: set[int], low: int, high: int) -> int | None:
    """N when the values are exactly low, low+N, low+2N... up to high (a `*/N` field)."""
    ordered = sorted(values)
    if len(ordered) < 2 or ordered[0] != low:
        return None
    step = ordered[1] - ordered[0]
    return step if ordered == list(range(low, high + 1, step)) else None


def _time_phrase(minutes: set[int], hours: set[int]) -> tuple[str, bool]:
    """(phrase, whether it already says how often within a day)."""
    all_minutes, all_hours = minutes == set(range(60)), hours == set(range(24))
    if all_minutes and all_hours:
        return "every minute", True
    minute_step = _step(minutes, 0, 59)
    if all_hours:
        if minutes == {0}:
            return "every hour, on the hour", True
        if minute_step:
            return f"every {minute_step} minutes", True
        label = "minute" if len(minutes) == 1 else "minutes"
        return f"at {label} {_ranges(minutes)} of every hour", True
    hour_step = _step(hours, 0, 23)
    if minute_step:
        return f"every {minute_step} minutes during hours {_ranges(hours)}", True
    if hour_step and len(minutes) == 1:
        minute = next(iter(minutes))
        at = "on the hour" if minute == 0 else f"at minute {minute}"
        return f"every {hour_step} hours, {at}", True
    if len(minutes) * len(hours) <= _SHOWN_TIMES:
        times = [f"{hour:02d}:{minute:02d}" for hour in sorted(hours) for minute in sorted(minutes)]
        return f"at {_join(times)}", False
    if all_minutes:
        return f"every minute of hours {_ranges(hours)}", True
    return f"at minutes {_ranges(minutes)} of hours {_ranges(hours)}", True


def describe_cron(expression: str) -> str:
    """A cron expression in words (falls back to naming the fields)."""
    fields = expression.split()
    expanded = [_expand(text, low, high, names) for text, (low, high, names) in zip(fields, _FIELDS, strict=False)]
    if len(fields) != 5 or any(values is None for values in expanded):
        return f"cron '{expression}'"
    minutes, hours, days, months, weekdays = (values or set() for values in expanded)
    weekdays = {day % 7 for day in weekdays}  # 7 is Sunday too
    time, sub_daily = _time_phrase(minutes, hours)
    if len(days) == 1 and len(months) == 1 and fields[4] == "*" and not sub_daily:
        return f"every year {time} on {_MONTHS[min(months) - 1]} {min(days)}"
    day_parts = []
    # Cron's rule: when both day fields are restricted, either one matching is enough.
    if fields[2] != "*":
        label = "day" if len(days) == 1 else "days"
        day_parts.append(f"on {label} {_ranges(days)} of the month")
    if fields[4] != "*" and weekdays != set(range(7)):
        day_parts.append(f"every {_ranges(weekdays, dict(enumerate(_DAYS)))}")
    day = " or ".join(day_parts)
    month = "" if months == set(range(1, 13)) else f"in {_ranges(months, dict(enumerate(_MONTHS, start=1)))}"
    if not day and not month and not sub_daily:
        return f"every day {time}"
    if sub_daily:
        return ", ".join(part for part in (time, day, month) if part)
    return " ".join(part for part in (time, day, month) if part)


def describe_schedule(schedule: str | None) -> str:
    if schedule is None:
        return MANUAL
    if schedule == "@once":
        return ONCE
    if schedule == "@continuous":
        return CONTINUOUS
    return describe_cron(PRESET_CRON.get(schedule, schedule))


def next_runs(
    schedule: str | None,
    *,
    now: datetime,
    timezone: str,
    start_date: datetime | None,
    end_date: datetime | None,
    data_intervals: bool,
    count: int = 5,
) -> list[datetime]:
    """When the next ``count`` runs start, strictly after ``now``, in the DAG's timezone.

    ``data_intervals``: the DAG's timetable is a data-interval one (Airflow 2's
    cron schedules): a run starts when its interval *ends*, so the first run
    starts one tick after the first tick at or after the start date.
    """
    expression = PRESET_CRON.get(schedule or "", schedule)
    if expression is None or expression.startswith("@"):
        return []
    from croniter import croniter

    zone = ZoneInfo(timezone)

    def local(moment: datetime) -> datetime:
        # Plain datetimes in the zone (Airflow hands pendulum ones, which croniter mishandles).
        return datetime.fromtimestamp(moment.timestamp(), tz=zone)

    base = local(now)
    first_allowed = local(start_date) if start_date is not None else None
    last_allowed = local(end_date) if end_date is not None else None
    if first_allowed is not None:
        if data_intervals:
            first_tick = croniter(expression, first_allowed - timedelta(microseconds=1)).get_next(datetime)
            first_allowed = croniter(expression, first_tick).get_next(datetime)
        # Runs at the start date itself count, so start the search just before it.
        base = max(base, first_allowed - timedelta(microseconds=1))
    ticks = croniter(expression, base)
    out: list[datetime] = []
    while len(out) < count:
        moment = ticks.get_next(datetime)
        if last_allowed is not None and moment > last_allowed:
            break
        out.append(moment)
    return out


@dataclass(frozen=True, kw_only=True)
class SchedulePreview:
    expression: str | None  # cron or preset as the DAG holds it; None = manual only
    description: str
    timezone: str
    start_date: str | None
    end_date: str | None
    catchup: bool
    next_runs: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "expression": self.expression,
            "description": self.description,
            "timezone": self.timezone,
            "start_date": self.start_date,
            "end_date": self.end_date,
            "catchup": self.catchup,
            "next_runs": list(self.next_runs),
        }


_ASSET_TIMETABLES = ("AssetTriggeredTimetable", "DatasetTriggeredTimetable")  # Airflow 3, Airflow 2


def asset_schedule_text(dag: Any) -> str | None:
    """An asset (Airflow 2: dataset) schedule in words, or None for any other schedule."""
    if type(dag.timetable).__name__ not in _ASSET_TIMETABLES:
        return None
    timetable = dag.timetable
    condition = getattr(timetable, "asset_condition", None) or getattr(timetable, "dataset_condition", None)
    uris = [str(getattr(item, "uri", item)) for item in getattr(condition, "objects", [condition])]
    if len(uris) == 1:
        return f"runs when {uris[0]} is updated (a task's outlets)"
    which = "any" if type(condition).__name__.endswith("Any") else "all"
    return f"runs when {which} of these assets are updated (tasks' outlets): {', '.join(uris)}"


def _schedule_expression(dag: Any) -> str | None:
    # Airflow 3 keeps what it was given as ``schedule``; Airflow 2 as ``schedule_interval`` (where an asset
    # schedule reads "Dataset").
    if type(dag.timetable).__name__ in _ASSET_TIMETABLES:
        return None
    value = dag.schedule if hasattr(dag, "schedule") else dag.schedule_interval
    return value if isinstance(value, str) else None


def schedule_preview(dag: Any, now: datetime) -> SchedulePreview:
    expression = _schedule_expression(dag)
    timezone = getattr(dag.timezone, "name", None) or str(dag.timezone)
    # Airflow 2 runs cron schedules as data intervals: a run starts when its interval ends.
    data_intervals = "DataInterval" in type(dag.timetable).__name__
    runs = next_runs(
        expression,
        now=now,
        timezone=timezone,
        start_date=dag.start_date,
        end_date=dag.end_date,
        data_intervals=data_intervals,
    )
    return SchedulePreview(
        expression=expression,
        description=asset_schedule_text(dag) or describe_schedule(expression),
        timezone=timezone,
        start_date=plain(dag.start_date),
        end_date=plain(dag.end_date),
        catchup=bool(dag.catchup),
        next_runs=tuple(run.isoformat() for run in runs),
    )
