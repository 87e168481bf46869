"""Checks for values that have a form: S3 URIs, ARNs, schedules.

Each check returns a sentence describing the problem, or ``None`` when the
value is fine.  Templated values (``{{ ... }}``) are resolved by Airflow at run
time, so only their literal prefix is checked here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # jsonschema costs 0.1 s to import: only validation needs it, never a parse the cache serves
    from jsonschema import FormatChecker

TEMPLATE_START = re.compile(r"\{\{|\{%")

# Airflow's rule for a DAG id (KEY_REGEX, ID_LEN): what a spec's dag_id, or its file name, must be.
DAG_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,250}$"
DAG_ID = re.compile(DAG_ID_PATTERN)

# Airflow's schedule presets that are a cron expression (airflow.timetables / airflow.sdk cron presets).
PRESET_CRON = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@quarterly": "0 0 1 */3 *",
    "@yearly": "0 0 1 1 *",
}
SCHEDULE_PRESETS = ("@once", "@continuous", *PRESET_CRON)

# The published schema's patterns: what a generic schema tool can check of each form (the checks below say
# more, and know what a template leaves open).  A template (`{{`, `{%`) may follow any literal prefix the form allows.
_TEMPLATE_REST = r"[^\n]*(\{\{|\{%)[^\n]*"
S3_URI_PATTERN = (
    rf"^(s3://[a-z0-9][a-z0-9.-]{{1,61}}[a-z0-9](/.*)?|s3://{_TEMPLATE_REST}|(s(3(:/?)?)?)?(\{{\{{|\{{%).*)$"
)
STATE_MACHINE_ARN_PATTERN = (
    r"^(arn:aws(-[a-z]+)*:states:[a-z]{2}(-[a-z]+)+-[0-9]:[0-9]{12}:stateMachine:[A-Za-z0-9_-]{1,80}"
    r"|[^{]*(\{\{|\{%).*)$"
)
SCHEDULE_PATTERN = (
    r"^(@(once|continuous|hourly|daily|weekly|monthly|quarterly|yearly)|[0-9A-Za-z*,/-]+( +[0-9A-Za-z*,/-]+){4})$"
)
MAX_DURATION_SECONDS = 366 * 86400  # a year: Airflow adds durations to dates; a larger one overflows them

_BUCKET = re.compile(r"^(?!xn--)(?!.*-s3alias$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def is_templated(value: str) -> bool:
    return TEMPLATE_START.search(value) is not None


def _literal_prefix(value: str) -> str:
    match = TEMPLATE_START.search(value)
    return value if match is None else value[: match.start()]


def s3_uri_problem(value: str) -> str | None:
    prefix = _literal_prefix(value)
    if prefix != value:  # templated: only the literal head can be checked
        if "s3://".startswith(prefix) or prefix.startswith("s3://"):
            return None
        return f"'{value}' must start with 's3://'"
    if not value.startswith("s3://"):
        hint = " (use s3://, not s3a:// or s3n://, for EMR and Airflow)" if re.match(r"^s3[an]://", value) else ""
        return f"'{value}' must start with 's3://'{hint}"
    bucket = value[5:].split("/", 1)[0]
    if not _BUCKET.match(bucket) or ".." in bucket:
        return f"'{bucket}' in '{value}' is not a valid bucket name (3-63 lowercase letters, digits, '.', '-')"
    return None


_ARN_FIELDS = (
    ("arn", re.compile(r"^arn$")),
    ("partition", re.compile(r"^aws(-[a-z]+)*$")),
    ("service", re.compile(r"^states$")),
    ("region", re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]$")),
    ("account", re.compile(r"^[0-9]{12}$")),
    ("resource type", re.compile(r"^stateMachine$")),
    ("state machine name", re.compile(r"^[A-Za-z0-9_-]{1,80}$")),
)


def state_machine_arn_problem(value: str) -> str | None:
    prefix = _literal_prefix(value)
    templated = prefix != value
    fields = prefix.split(":")
    if templated:
        fields = fields[:-1]  # the last field is cut by the template
    elif len(fields) != len(_ARN_FIELDS):
        return f"'{value}' is not a state machine ARN (arn:aws:states:REGION:ACCOUNT:stateMachine:NAME)"
    for (name, pattern), field in zip(_ARN_FIELDS, fields, strict=False):
        if not pattern.match(field):
            return (
                f"'{value}' is not a state machine ARN: bad {name} '{field}' "
                "(expected arn:aws:states:REGION:ACCOUNT:stateMachine:NAME)"
            )
    return None


# (name, lowest, highest) for the five cron fields; names and ranges as cron(5)
_CRON_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day-of-month", 1, 31), ("month", 1, 12), ("day-of-week", 0, 7))
_CRON_NAMES = {
    "month": ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
    "day-of-week": ("sun", "mon", "tue", "wed", "thu", "fri", "sat"),
}
_CRON_ATOM = re.compile(r"^(\*|[0-9]+|[a-z]{3})(-([0-9]+|[a-z]{3}))?(/([0-9]+))?$")


def _cron_value(token: str, name: str) -> int | None:
    if token.isdigit():
        return int(token)
    names = _CRON_NAMES.get(name, ())
    return names.index(token) + (1 if name == "month" else 0) if token in names else None


def _cron_field_problem(text: str, name: str, low: int, high: int) -> str | None:
    for part in text.lower().split(","):
        match = _CRON_ATOM.match(part)
        if not match:
            return f"{name} field '{text}' is not valid cron syntax"
        start, end, step = match.group(1), match.group(3), match.group(5)
        for bound in (start, end):
            if bound is None or bound == "*":
                continue
            number = _cron_value(bound, name)
            if number is None:
                return f"{name} field '{text}': unknown name '{bound}'"
            if not low <= number <= high:
                return f"{name} must be {low}-{high}, got {number}"
        if step is not None and int(step) == 0:
            return f"{name} field '{text}': step must be at least 1"
    return None


def schedule_problem(value: str) -> str | None:
    text = value.strip()
    if text != value:
        return f"the schedule {value!r} has spaces or line breaks around it (Airflow would refuse it)"
    if text.startswith("@"):
        if text in SCHEDULE_PRESETS:
            return None
        return f"unknown schedule preset '{text}' (one of {', '.join(SCHEDULE_PRESETS)})"
    fields = text.split()
    if len(fields) != 5:
        return (
            f"a cron expression has 5 fields (minute hour day-of-month month day-of-week), '{text}' has {len(fields)}"
        )
    for field_text, (name, low, high) in zip(fields, _CRON_FIELDS, strict=True):
        problem = _cron_field_problem(field_text, name, low, high)
        if problem:
            return f"invalid cron expression '{text}': {problem}"
    from croniter import croniter  # the last word: what Airflow's own timetable will accept

    if not croniter.is_valid(text):
        return f"invalid cron expression '{text}'"
    return None


_DURATION_PART = re.compile(r"([0-9]+)([dhms])")
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def seconds(value: int | str) -> int:
    """Seconds in a duration: 300, '45s', '10m', '2h', '1d', '1h30m'."""
    if isinstance(value, int):
        return value
    return sum(int(amount) * _UNIT_SECONDS[unit] for amount, unit in _DURATION_PART.findall(value))


def _duration_problem(value: int | str, lowest: int) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return None  # the type is the schema's to report
    if isinstance(value, str) and not _DURATION_PART.search(value):
        return None  # not a duration at all: the pattern reports it
    total = seconds(value)
    if total > MAX_DURATION_SECONDS:
        return f"the duration {value!r} is over the limit of 366d"
    if total < lowest:
        return f"the duration {value!r} must be at least {lowest}s"
    return None


def duration_problem(value: int | str) -> str | None:
    return _duration_problem(value, 0)


def positive_duration_problem(value: int | str) -> str | None:
    return _duration_problem(value, 1)


FORMAT_PROBLEMS: dict[str, tuple[str, Callable[[Any], str | None]]] = {
    # format name -> (diagnostic code, check)
    "s3-uri": ("DG402", s3_uri_problem),
    "state-machine-arn": ("DG403", state_machine_arn_problem),
    "schedule": ("DG401", schedule_problem),
    "duration": ("DG206", duration_problem),
    "positive-duration": ("DG206", positive_duration_problem),
}
_ANY_TYPE_FORMATS = ("duration", "positive-duration")  # also checked on numbers of seconds


def format_checker() -> FormatChecker:
    """A jsonschema format checker that knows only the formats above."""
    from jsonschema import FormatChecker

    checker = FormatChecker(formats=())
    for name, (_, problem) in FORMAT_PROBLEMS.items():
        if name in _ANY_TYPE_FORMATS:
            checker.checks(name)(lambda value, _problem=problem: _problem(value) is None)
        else:
            checker.checks(name)(lambda value, _problem=problem: not isinstance(value, str) or _problem(value) is None)
    return checker
