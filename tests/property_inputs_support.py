"""Inputs and verdicts of the property test over spec inputs (tests/test_property_inputs.py).

Shared by the test and by ``tests/property_verdicts.py``, which judges the same inputs again in the other
Airflow lane: both sides must reach the same verdict for every input.

An input is a spec file (a name and its bytes) made from a seed spec of ``pipelines/`` or from one of the
small valid specs below, mutated at one of two levels:

- structure (:func:`structural_inputs`): the parsed data gets a few mutations (a key dropped, a value of
  another type, an unknown key, a task renamed or cloned, its dependencies changed, a DAG or task field set
  to an edge value, tasks put in a group), then is dumped back to YAML by ``yaml.safe_dump``'s dumper (in
  libyaml's C, as PyYAML's CSafeDumper, when PyYAML has it);
- text (:func:`text_inputs`): the YAML text (the seed's own, or a structural input's) gets characters
  deleted, inserted or replaced, YAML syntax (anchors, aliases, merge keys, tags, tabs, control characters,
  complex keys, a second document), a truncation, random unicode or bytes that are not UTF-8.

:func:`judge` gives an input its :class:`Verdict`: the spec is written into a fresh DAGs folder laid out as
MWAA sees it (the loader file beside ``pipelines/``, with a copy of ``pipelines/defaults.yaml``),
``dagen validate`` runs in-process on that folder, and a spec it accepts is parsed by Airflow's DagBag
through the loader file (``dags/pipelines_loader.py``), which must build its DAG, not a placeholder, and the
DAG must serialize as the DAG processor stores it.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import datetime
import io
import json
import os
import re
import shutil
import signal
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parent.parent
PIPELINES = REPO / "pipelines"
DEFAULTS_NAMES = ("defaults.yaml", "defaults.yml")
SEEDS = ("salary_batch_etl.yaml", "movielens_emr_step_functions.yaml", "emr_notebook_best_sellers.yaml")

# Small valid specs beside the seeds: other task types, groups, an asset schedule, notifications, a time zone.
SMALL_SPECS = {
    "crawl_daily.yaml": """\
start_date: 2024-01-01
schedule: "@daily"
tasks:
  crawl:
    type: glue_crawler
    crawler_name: raw
""",
    "landing_to_athena.yaml": """\
description: Wait for the day's files, load them with Glue, count them with Athena.
start_date: 2024-01-01T06:00:00
end_date: 2030-12-31
schedule: "0 6 * * 1-5"
timezone: Europe/Paris
dagrun_timeout: 4h
max_active_runs: 2
groups:
  loading:
    description: Load the raw files
tasks:
  wait:
    type: s3_wait
    bucket: landing
    key: "incoming/{{ ds }}/_SUCCESS"
    poll_interval: 5m
    timeout: 6h
  load:
    type: glue_job
    job_name: load-raw
    group: loading
    depends_on: [wait]
    retries: 3
    execution_timeout: 1h
  count:
    type: athena_query
    query: SELECT count(*) FROM raw
    database: analytics
    output_location: s3://results/athena/
    depends_on: [loading]
""",
    "on_curated_movies.yaml": """\
start_date: 2024-01-01
schedule:
  assets: [s3://curated/movies/]
notifications:
  on_task_failure:
    - sns: arn:aws:sns:us-east-1:123456789012:data-alerts
task_defaults:
  retries: 1
  retry_delay: 1m
tasks:
  refresh:
    type: lambda_invoke
    function_name: refresh-cache
    payload: {table: movies}
  check:
    type: http_wait
    http_conn_id: api
    endpoint: health
    depends_on: [refresh]
""",
}


def seed_texts() -> dict[str, bytes]:
    """Every seed spec by file name: the three of pipelines/ (with their comments) and the small ones."""
    texts = {name: (PIPELINES / name).read_bytes() for name in SEEDS}
    texts.update({name: text.encode("utf-8") for name, text in SMALL_SPECS.items()})
    return texts


SEED_TEXTS = seed_texts()
SEED_DATA = {name: yaml.safe_load(raw) for name, raw in SEED_TEXTS.items()}


@dataclass(frozen=True)
class SpecInput:
    """One generated input: a spec file's name and its bytes."""

    name: str
    raw: bytes

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "raw": base64.b64encode(self.raw).decode("ascii")}

    @classmethod
    def from_json(cls, item: dict[str, str]) -> SpecInput:
        return cls(item["name"], base64.b64decode(item["raw"]))

    def __repr__(self) -> str:  # what hypothesis prints for a failing example: the exact name and bytes
        return f"SpecInput(name={self.name!r}, raw={self.raw!r})"


# ---------------------------------------------------------------------------------------------------------------
# Values


YAML_WORDS = [
    *("yes", "no", "on", "off", "y", "n", "Yes", "NO", "On", "OFF", "True", "FALSE", "null", "Null", "~", ""),
    *("1:30", "190:20:30", "-1:30", "0o17", "017", "0x1F", "0b101", "1_000", "1e3", ".inf", "-.inf", ".nan"),
    *("2024-01-01", "2024-02-30", "2024-01-01T00:00:00Z", "12:30:00", "{{ x }}", "{{ params.nope }}", "{% if x %}"),
    *("{{", "}}", "<<", "=", "!", "&a", "*a", "@daily", "s3://", "s3://b/k", " ", "\t", "\n", "a\nb", "#", "- x"),
    *(": x", "'", '"', "%", "\\", "\x00", "\x07", "\x7f", "\x85", "\u2028", "\ufeff", "é", "日本", "🚀", "a" * 101),
]
EDGE_INTS = [0, -1, 1, 2, 59, 60, 2**31 - 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**100]


LONG_STRINGS = st.builds(
    lambda piece, n: (piece * n)[:n],
    st.sampled_from(["x", "é", "ab ", "{{ x }}", "日"]),
    st.sampled_from([100, 101, 250, 251, 256, 1000, 10_000, 100_000, 100_001]),
)
SCALARS = st.one_of(
    st.integers(),
    st.sampled_from(EDGE_INTS),
    st.floats(),
    st.booleans(),
    st.none(),
    st.sampled_from(YAML_WORDS),
    st.text(max_size=30),
    LONG_STRINGS,
    st.dates(),
)
KEYS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["__type__", "__args__", "__join__", "<<", "type", "tasks", "Tasks", "x-note", "dag_id"]),
    st.integers(),
    st.booleans(),
    st.none(),
)


def nested(depth: int) -> Any:
    """Mappings and lists inside each other, ``depth`` deep."""
    value: Any = "bottom"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


# A value of any type: what replaces a value of the spec.
OTHER_VALUES = st.one_of(
    SCALARS,
    st.recursive(
        SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4), max_leaves=12
    ),
    st.builds(nested, st.sampled_from([10, 49, 50, 51, 120])),
    st.builds(lambda n: list(range(n)), st.sampled_from([0, 1, 101, 1001])),
)


# ---------------------------------------------------------------------------------------------------------------
# Edge values of the fields that matter most: most are valid, so that mutated specs still get accepted often.

DATES = [
    *("2024-01-01", "2024-02-29", "2023-02-29", "0001-01-01", "9999-12-31", "1970-01-01", "2038-01-19T03:14:08"),
    *("2024-01-01T00:00:00Z", "2024-01-01 12:00:00+05:30", "2024-01-01T23:59:59.999999-12:00", "2024-13-01"),
    *("2024-01-01T24:00:00", "2024-01-01T00:00:00.1234567890", "24-01-01", "2024-1-1", "20240101"),
    datetime.date(1, 1, 1),
    datetime.date(9999, 12, 31),
    datetime.datetime(2024, 3, 31, 2, 30),
    datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone(datetime.timedelta(hours=14))),
]
DURATIONS = [
    *(0, 1, 30, 59, 86_400, 2**31, 2**63, 10**20, -1, 1.5, True),
    *("0s", "1s", "45s", "10m", "2h", "1d", "1h30m", "1d2h3m4s", "99999d", "999999999999999d", "0d0h0m0s"),
    *("30", "1m1h", "h", "", "1.5h", "P1D", "01:00:00", "1H"),
]
SCHEDULES = [
    *("@daily", "@hourly", "@weekly", "@monthly", "@yearly", "@once", "@continuous", "@never", "@every 5m"),
    *("0 0 * * *", "*/15 * * * *", "0 0 30 2 *", "0 0 31 4 *", "0 0 29 2 1", "* * * * *", "*/0 * * * *"),
    *("61 * * * *", "0 0 * * 8", "0 0 L * *", "0 0 * * 5#3", "0 0 1 1 * 2024", "0 0 * *", "H 0 * * *", ""),
    *("0 0 ? * MON", "0 0 1W * *", "@reboot", "0 12 * * MON-FRI", "0 0 1-31/2 * *"),
    *("@daily ", " @daily", "@daily\n", "0 0 * * * ", "@DAILY", "0  0 * * *"),
    None,
    {"assets": ["s3://curated/movies/"]},
    {"assets": ["s3://a/", "s3://b/"], "when": "any"},
    {"assets": []},
    {"assets": ["not-a-uri"]},
    {"when": "all"},
]
TIMEZONES = [
    *("UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Kiritimati"),
    *("America", "Europe", "+05:00", "-03:30", "UTC+5", "GMT", "Etc/GMT-14", "Etc/GMT+12", "EST", "EST5EDT", "Z"),
    *("utc", "local", "localtime", "Factory", "posixrules", "Europe/Kiev", "../etc/passwd", "Europe/Paris ", "Mars"),
]
DAG_IDS = [
    *("a", "a" * 250, "a" * 251, "x.y", "x-y", "-", "_", ".", "..", "dagen_invalid__x", "salary_batch_etl", ""),
    *("salary batch", "ünï", "a/b", "0", "yes", "create_etl"),
]
TAGS = [
    [],
    ["a" * 100],
    ["a" * 101],
    ["x", "x"],
    ["dagen:invalid-spec"],
    ["dagen:stale-spec"],
    [""],
    ["ü" * 100],
    ["a b", "c,d", "{{ x }}"],
    "dagen",
    [1],
    [None],
]
COUNTS = [0, 1, 2, 16, 1000, 2**31 - 1, 2**31, 2**63, 10**20, -1, True, 1.5, "3"]

DAG_FIELDS: dict[str, list[Any]] = {
    "schedule": SCHEDULES,
    "start_date": DATES,
    "end_date": DATES,
    "timezone": TIMEZONES,
    "max_active_runs": COUNTS,
    "max_active_tasks": COUNTS,
    "tags": TAGS,
    "dag_id": DAG_IDS,
    "catchup": [True, False, "yes", 1],
    "dagrun_timeout": DURATIONS,
    "sla": DURATIONS,
    "description": ["x", "x" * 300, "multi\nline", "{{ x }}", ""],
    "doc_md": ["# Title\n\n- item", "x" * 10_000, "{{ x }}", "</script>"],
    "owner": ["airflow", "", "ünï", "a" * 1000],
}
TASK_FIELDS: dict[str, list[Any]] = {
    "execution_timeout": DURATIONS,
    "poll_interval": DURATIONS,
    "timeout": DURATIONS,
    "retry_delay": DURATIONS,
    "max_retry_delay": DURATIONS,
    "retries": COUNTS,
    "retry_exponential_backoff": [True, False],
    "description": ["x", "", "x" * 300, "line\nbreak"],
    "outlets": [["s3://b/k/"], [], ["not a uri"], ["s3://b/k/", "s3://b/k/"], "s3://b/k/"],
    "email": [["a@example.com"], [], ["not-an-email"]],
}

# Task ids: what YAML reads differently, what the generator adds itself, dots, spaces, unicode, lengths.
TASK_IDS = [
    *("yes", "no", "on", "true", "null", "1", "1.5", "1e3", "017", "0o17", "1:30", "a.b", "a b", "ünïcode"),
    *("日本", "", " ", "a" * 250, "a" * 251, "create_etl", "terminate_etl", "average_salaries_wait"),
    *("invalid_spec", "{{ x }}", "-", "_", "x-y", "dagen_teardowns", "tasks", "__x__"),
    True,
    False,
    None,
    1,
    1.5,
]


TASK_ID_VALUES = st.one_of(
    st.sampled_from(TASK_IDS), st.text(max_size=40), st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,60}", fullmatch=True)
)


# ---------------------------------------------------------------------------------------------------------------
# Structural mutations: each takes hypothesis's ``draw`` and the spec's data, and returns the mutated data.

Path_ = tuple[Any, ...]


def _paths(data: Any, prefix: Path_ = ()) -> list[Path_]:
    out: list[Path_] = []
    if isinstance(data, dict):
        items: Any = data.items()
    elif isinstance(data, list):
        items = enumerate(data)
    else:
        return out
    for key, value in items:
        out.append((*prefix, key))
        out.extend(_paths(value, (*prefix, key)))
    return out


def _get(data: Any, path: Path_) -> Any:
    for part in path:
        data = data[part]
    return data


def _tasks(data: Any) -> dict[Any, Any] | None:
    tasks = data.get("tasks") if isinstance(data, dict) else None
    return tasks if isinstance(tasks, dict) and tasks else None


def drop_key(draw: Callable[..., Any], data: Any) -> Any:
    candidates = [path for path in _paths(data) if isinstance(_get(data, path[:-1]), dict)]
    if candidates:
        path = draw(st.sampled_from(candidates))
        del _get(data, path[:-1])[path[-1]]
    return data


def replace_value(draw: Callable[..., Any], data: Any) -> Any:
    candidates = _paths(data)
    if not candidates or draw(st.integers(0, 50)) == 0:
        return draw(OTHER_VALUES)  # the whole document
    path = draw(st.sampled_from(candidates))
    _get(data, path[:-1])[path[-1]] = draw(OTHER_VALUES)
    return data


def add_unknown_key(draw: Callable[..., Any], data: Any) -> Any:
    mappings = [path for path in [(), *_paths(data)] if isinstance(_get(data, path), dict)]
    if mappings:
        _get(data, draw(st.sampled_from(mappings)))[draw(KEYS)] = draw(OTHER_VALUES)
    return data


def rename_task(draw: Callable[..., Any], data: Any) -> Any:
    tasks = _tasks(data)
    if tasks is None:
        return data
    old = draw(st.sampled_from(sorted(tasks, key=repr)))
    new = draw(TASK_ID_VALUES)
    data["tasks"] = {(new if key == old else key): value for key, value in tasks.items()}
    if draw(st.booleans()):  # follow the rename in depends_on, or leave the references dangling
        for task in data["tasks"].values():
            if isinstance(task, dict) and isinstance(task.get("depends_on"), list):
                task["depends_on"] = [new if item == old else item for item in task["depends_on"]]
    return data


def change_depends_on(draw: Callable[..., Any], data: Any) -> Any:
    tasks = _tasks(data)
    if tasks is None:
        return data
    me = draw(st.sampled_from(sorted(tasks, key=repr)))
    if not isinstance(tasks[me], dict):
        return data
    groups = list(data["groups"]) if isinstance(data.get("groups"), dict) else []
    names = st.sampled_from([*tasks, *groups, "nope", me])
    tasks[me]["depends_on"] = draw(
        st.one_of(st.lists(names, max_size=4), st.lists(names | SCALARS, max_size=3), names, OTHER_VALUES)
    )
    return data


def set_dag_field(draw: Callable[..., Any], data: Any) -> Any:
    if isinstance(data, dict):
        name = draw(st.sampled_from(sorted(DAG_FIELDS)))
        data[name] = draw(st.sampled_from(DAG_FIELDS[name]))
    return data


def set_task_field(draw: Callable[..., Any], data: Any) -> Any:
    tasks = _tasks(data)
    if tasks is None:
        return data
    name = draw(st.sampled_from(sorted(TASK_FIELDS)))
    value = draw(st.sampled_from(TASK_FIELDS[name]))
    if draw(st.integers(0, 3)) == 0 and name not in ("description", "outlets"):  # for every task, in task_defaults
        defaults = data.get("task_defaults")
        data["task_defaults"] = {**(defaults if isinstance(defaults, dict) else {}), name: value}
        return data
    task = tasks[draw(st.sampled_from(sorted(tasks, key=repr)))]
    if isinstance(task, dict):
        task[name] = value
    return data


def clone_task(draw: Callable[..., Any], data: Any) -> Any:
    tasks = _tasks(data)
    if tasks is None:
        return data
    original = tasks[draw(st.sampled_from(sorted(tasks, key=repr)))]
    copies = draw(st.sampled_from([1, 1, 1, 2, 5, 50]))
    for index in range(copies):
        new = draw(TASK_ID_VALUES) if copies == 1 else f"copy_{index}"
        tasks[new] = copy.deepcopy(original)
    return data


GROUP_NAMES = st.one_of(st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,20}", fullmatch=True), st.just("g" * 100))


def group_tasks(draw: Callable[..., Any], data: Any) -> Any:
    tasks = _tasks(data)
    if tasks is None:
        return data
    group = draw(GROUP_NAMES)
    groups = data.get("groups")
    entry = draw(st.sampled_from([{}, None, {"x": 1}]))
    data["groups"] = {**(groups if isinstance(groups, dict) else {}), group: entry}
    for task_id in draw(st.lists(st.sampled_from(sorted(tasks, key=repr)), min_size=1, max_size=3, unique=True)):
        if isinstance(tasks[task_id], dict):
            tasks[task_id]["group"] = group
    return data


STRUCTURAL = (
    drop_key,
    replace_value,
    add_unknown_key,
    rename_task,
    change_depends_on,
    set_dag_field,
    set_dag_field,
    set_task_field,
    set_task_field,
    clone_task,
    group_tasks,
)


# ---------------------------------------------------------------------------------------------------------------
# File names


def _fits(name: str) -> bool:
    return 0 < len(name.encode("utf-8")) <= 255 and name not in DEFAULTS_NAMES and not name.startswith(".")


@st.composite
def file_names(draw: Callable[..., Any], seed: str) -> str:
    """Mostly the seed's own name; sometimes spaces, parentheses, unicode or a very long name."""
    stem = seed.rsplit(".", 1)[0]
    suffix = draw(st.sampled_from([".yaml", ".yaml", ".yml"]))
    if draw(st.integers(0, 4)) < 4:  # four times in five, and what a failing example shrinks to
        return f"{stem}{suffix}"
    name_chars = st.characters(exclude_categories=("Cs", "Cc"), exclude_characters="/")
    name = draw(
        st.one_of(
            st.sampled_from([f"{stem} (copy)", f"{stem}(1)", "my pipeline", "日本語", "пайплайн", "ünï", "x" * 250]),
            st.sampled_from(["x" * 251, "é" * 125, "a.b", "a-b", "0", "yes", "dagen_invalid__pipelines_x", "-"]),
            st.text(name_chars, min_size=1, max_size=60),
        )
    )
    full = f"{name}{suffix}"
    return full if _fits(full) else f"{stem}{suffix}"


# ---------------------------------------------------------------------------------------------------------------
# Inputs


# yaml.safe_dump's dumper and yaml.safe_load's loader, in libyaml's C when PyYAML has it (5x faster)
_SAFE_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _dump(draw: Callable[..., Any], data: Any) -> bytes:
    text = yaml.dump(
        data,
        Dumper=_SAFE_DUMPER,
        sort_keys=draw(st.booleans()),
        allow_unicode=draw(st.booleans()),
        default_flow_style=draw(st.sampled_from([False, False, None, True])),
        width=draw(st.sampled_from([80, 80, 20, 10_000])),
    )
    return text.encode("utf-8")


@st.composite
def structural_inputs(draw: Callable[..., Any]) -> SpecInput:
    seed = draw(st.sampled_from(sorted(SEED_DATA)))
    data = copy.deepcopy(SEED_DATA[seed])
    for _ in range(draw(st.integers(1, 3))):
        data = draw(st.sampled_from(STRUCTURAL))(draw, data)
    return SpecInput(draw(file_names(seed)), _dump(draw, data))


SNIPPETS = [
    *("&a ", "*a", "*a ", "<<: *a\n", "<<: [*a, *b]\n", "&a [*a]", "!!python/object:os.system ", "!Ref "),
    *("!!python/name:os.path", "!!str ", "!!binary ", "!!set ", "!!omap ", "!!timestamp ", "!!int ", "!!float "),
    *("!!null ", "!x ", "\t", "\x00", "\x01", "\x08", "\x1b", "\x7f", "\x85", "\x9f", "\u2028", "\u2029", "\ufeff"),
    *("\ufffe", "\U0010ffff"),
    *("? [a, b]\n", "? a\n: b\n", "---\n", "...\n", "--- |\n", "%YAML 1.1\n", "%TAG ! tag:x,2000:\n", "%FOO\n"),
    *("{", "}", "[", "]", '"', "'", "|", ">", "|-\n", "#", ": ", "- ", ",", "\r", "\r\n", "\n", " ", "  ", "\\"),
    *("yes", "on", "off", "1:30", "0o17", "017", "0x10", "{{ x }}", "{% for %}", "1" * 5000, "0x" + "f" * 4000),
    *("9" * 30, ".nan", "1e400"),
    *("x" * 200, "-" * 3, "~", "null", "@", "`", "%", "é", "日本", "🚀", "\u0301", "\u202e", "[" * 100, "{a: " * 60),
]
BAD_BYTES = [b"\xff", b"\xfe", b"\xc3", b"\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\xef\xbb"]


TEXT_BITS = st.one_of(st.sampled_from(SNIPPETS), st.text(max_size=12))


def _text_bit(draw: Callable[..., Any]) -> bytes:
    return draw(TEXT_BITS).encode("utf-8")


def _position(draw: Callable[..., Any], raw: bytes) -> int:
    """Anywhere, or at a line start, or just after a ``: `` (where YAML values and keys begin)."""
    anchors = [0, *(m.end() for m in re.finditer(rb"\n|: ", raw))]
    return draw(st.one_of(st.integers(0, len(raw)), st.sampled_from(anchors)))


def insert_text(draw: Callable[..., Any], raw: bytes) -> bytes:
    at = _position(draw, raw)
    return raw[:at] + _text_bit(draw) + raw[at:]


def delete_text(draw: Callable[..., Any], raw: bytes) -> bytes:
    at = _position(draw, raw)
    return raw[:at] + raw[at + draw(st.integers(1, 40)) :]


def replace_text(draw: Callable[..., Any], raw: bytes) -> bytes:
    at = _position(draw, raw)
    return raw[:at] + _text_bit(draw) + raw[at + draw(st.integers(1, 12)) :]


def replace_line_value(draw: Callable[..., Any], raw: bytes) -> bytes:
    """What follows a ``key: `` up to the end of its line, replaced: the value a user would retype."""
    values = [match.end() for match in re.finditer(rb": ", raw)]
    if not values:
        return raw
    at = draw(st.sampled_from(values))
    end = raw.find(b"\n", at)
    return raw[:at] + _text_bit(draw) + (raw[end:] if end >= 0 else b"")


def truncate(draw: Callable[..., Any], raw: bytes) -> bytes:
    return raw[: draw(st.integers(0, len(raw)))]


def insert_bad_bytes(draw: Callable[..., Any], raw: bytes) -> bytes:
    at = draw(st.integers(0, len(raw)))
    return raw[:at] + draw(st.sampled_from(BAD_BYTES)) + raw[at:]


def anchor_and_alias(draw: Callable[..., Any], raw: bytes) -> bytes:
    """An anchor on one value and its alias (or a merge of it) on another line."""
    lines = raw.split(b"\n")
    values = [index for index, line in enumerate(lines) if re.search(rb"\S: \S", line)]
    if len(values) < 2:
        return raw
    first, second = sorted(draw(st.lists(st.sampled_from(values), min_size=2, max_size=2, unique=True)))
    lines[first] = re.sub(rb": ", b": &a ", lines[first], count=1)
    alias = draw(st.sampled_from([b": *a", b": [*a, *a]", b": {<<: *a}"]))
    lines[second] = re.sub(rb": .*", lambda _: alias, lines[second], count=1)
    return b"\n".join(lines)


def shuffle_lines(draw: Callable[..., Any], raw: bytes) -> bytes:
    """A line duplicated, moved, or indented differently."""
    lines = raw.split(b"\n")
    index = draw(st.integers(0, len(lines) - 1))
    action = draw(st.sampled_from(["duplicate", "move", "indent", "dedent"]))
    line = lines[index]
    if action == "duplicate":
        lines.insert(index, line)
    elif action == "move":
        del lines[index]
        lines.insert(draw(st.integers(0, len(lines))), line)
    elif action == "indent":
        lines[index] = b" " * draw(st.sampled_from([1, 2, 4])) + line
    else:
        lines[index] = line.lstrip(b" ")
    return b"\n".join(lines)


TEXTUAL = (
    insert_text,
    insert_text,
    delete_text,
    replace_text,
    replace_text,
    replace_line_value,
    replace_line_value,
    truncate,
    insert_bad_bytes,
    anchor_and_alias,
    shuffle_lines,
)


@st.composite
def text_inputs(draw: Callable[..., Any]) -> SpecInput:
    if draw(st.integers(0, 3)) == 0:  # the text of a structural input
        base = draw(structural_inputs())
        name, raw = base.name, base.raw
    else:
        seed = draw(st.sampled_from(sorted(SEED_TEXTS)))
        name, raw = draw(file_names(seed)), SEED_TEXTS[seed]
    for _ in range(draw(st.integers(1, 3))):
        raw = draw(st.sampled_from(TEXTUAL))(draw, raw)
    return SpecInput(name, raw)


# ---------------------------------------------------------------------------------------------------------------
# Verdicts

# seconds for validate (a seed takes 10 ms); the DagBag has its own limit, core.dagbag_import_timeout (30 s)
TIME_LIMIT = 20
SUMMARY = re.compile(r"^(?:[0-9]+ error\(s\) in [0-9]+ of [0-9]+ file\(s\)|[0-9]+ file\(s\) checked, no errors)$")
PARSING_CONTEXT = "_AIRFLOW_PARSING_CONTEXT_DAG_ID"  # set by Airflow's task runner: none here, a full parse


class TooSlow(BaseException):
    """Raised by the alarm: a BaseException, so that no ``except Exception`` of the generator turns it into DG601."""


@contextlib.contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    def expire(signum: int, frame: Any) -> None:
        raise TooSlow(f"over {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Verdict:
    """What became of one input.  ``problems`` are the invariants it broke, each ``"<class>: <detail>"``."""

    exit_code: int | None  # dagen validate's, in-process
    located: list[str]  # each diagnostic of the report as "<file>:<line>:<col>: <code>", file relative to the folder
    built: bool | None  # accepted specs: the loader built the DAG, not a placeholder; None for rejected ones
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def agreed(self) -> dict[str, Any]:
        """The part both lanes must agree on."""
        return {"exit_code": self.exit_code, "located": self.located, "built": self.built}


def _line_breaks(raw: bytes) -> int:
    text = raw.decode("utf-8", "replace")
    return sum(text.count(mark) for mark in ("\n", "\r", "\x85", "\u2028", "\u2029"))


def run_validate(folder: Path) -> tuple[int | None, str, str, str | None]:
    """``dagen validate FOLDER`` in-process: exit code, stdout, stderr, and the exception that escaped, if any."""
    from generator.cli import main

    out, err = io.StringIO(), io.StringIO()
    escaped = None
    code: int | None = None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["validate", str(folder)])
        except SystemExit as exit_:
            escaped = f"SystemExit({exit_.code!r})"
        except Exception as error:  # noqa: BLE001 - any exception out of the CLI is the finding
            escaped = f"{type(error).__name__}: {error}"
    return code, out.getvalue(), err.getvalue(), escaped


def check_report(stdout: str, folder: Path, spec: SpecInput) -> tuple[list[str], list[str]]:
    """The report's diagnostics as located codes, and the problems of its lines."""
    files = [f"{folder.as_posix()}/{spec.name}", *(f"{folder.as_posix()}/{name}" for name in DEFAULTS_NAMES)]
    line_re = re.compile(rf"^({'|'.join(re.escape(f) for f in files)}):([0-9]+):([0-9]+): (DG[0-9]{{3}}) ")
    lines = stdout[:-1].split("\n") if stdout.endswith("\n") else stdout.split("\n")
    located, problems = [], []
    if not SUMMARY.match(lines[-1]):
        problems.append(f"report does not end with its summary: {lines[-1][:200]!r}")
    previous_was_diagnostic, last_code = False, "the start"
    for line in lines[:-1]:
        match = line_re.match(line)
        if match:
            file, row, column, code = match.group(1), int(match.group(2)), int(match.group(3)), match.group(4)
            raw = spec.raw if file.endswith(f"/{spec.name}") else (PIPELINES / "defaults.yaml").read_bytes()
            if row < 1 or column < 1 or row > _line_breaks(raw) + 1:
                problems.append(f"{code} located outside the file: {line[:300]!r}")
            located.append(f"{file[len(folder.as_posix()) + 1 :]}:{row}:{column}: {code}")
            previous_was_diagnostic, last_code = True, code
        elif line.startswith("    hint: ") and previous_was_diagnostic:
            previous_was_diagnostic = False
        else:
            problems.append(f"unlocated report line after {last_code}: {line[:300]!r}")
    return located, problems


def is_placeholder(dag: Any) -> str | None:
    """Why ``dag`` is not a real build of its spec (the loader's placeholder or stale DAG), or None."""
    from generator.loader.airflow_loader import BROKEN_TAG, STALE_TAG

    for tag in (BROKEN_TAG, STALE_TAG):
        if tag in (dag.tags or []):
            return tag
    return None


def _exception_type(line: str) -> str:
    match = re.match(r"\s*([A-Za-z_][A-Za-z0-9_.]*)(?::|$)", line)
    return match.group(1) if match else "?"


def build_in_dagbag(dags: Path, spec: SpecInput) -> list[str]:
    """Airflow's DagBag parses the loader file of ``dags``: the spec's DAG must be built, and no placeholder.

    The one spec gives exactly one DAG, named by its ``dag_id`` or else its file name, and it serializes as the
    DAG processor stores it.  A fresh compile cache
    (``DAGEN_CACHE_DIR``) holds no last good build to fall back on, and no parsing context is set: the DagBag is
    the DAG processor's full parse.
    """
    from tests.airflow_compat import dagbag, serialized

    data = yaml.load(spec.raw, Loader=_SAFE_LOADER)  # an accepted spec is plain YAML with a mapping on top
    declared = data.get("dag_id") if isinstance(data, dict) else None
    expected = declared if isinstance(declared, str) else spec.name.rsplit(".", 1)[0]
    saved = {name: os.environ.get(name) for name in ("DAGEN_CACHE_DIR", "DAGEN_CACHE", PARSING_CONTEXT)}
    os.environ.update({"DAGEN_CACHE_DIR": str(dags.parent / "cache"), "DAGEN_CACHE": "1"})
    os.environ.pop(PARSING_CONTEXT, None)
    try:
        bag = dagbag(dags)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    problems = []
    for error in bag.import_errors.values():
        last = error.strip().splitlines()[-1]
        problems.append(f"loader import error {_exception_type(last)}: {last[:300]}")
    dag = bag.dags.get(expected)
    if dag is None or len(bag.dags) != 1:
        # Airflow's DagBag re-raises the warnings of an import after it; one the tests make an error (a warning
        # that is no deprecation inside Airflow, setup.cfg) drops the file's DAGs without an import error
        warned = [text for texts in getattr(bag, "captured_warnings", {}).values() for text in texts]
        if warned:
            kind = re.search(r": (?:[A-Za-z0-9_]+\.)*([A-Za-z0-9_]*Warning): ", warned[0])
            problems.append(f"DAG dropped by a warning ({kind.group(1) if kind else '?'}): {warned[0][-300:]}")
        else:
            problems.append(f"DAG missing: expected only {expected!r}, the DagBag has {sorted(bag.dag_ids)[:3]}")
    elif is_placeholder(dag):
        blocks = (dag.doc_md or "").split("```")
        first = blocks[1].strip().splitlines()[0] if len(blocks) > 1 else ""
        # the class: the first diagnostic's code, and for DG601 (Airflow refused the DAG) the exception's type
        cause = re.search(r": (DG[0-9]{3}) (?:internal error while checking the spec: )?([A-Za-z0-9_.]+:)?", first)
        why = " ".join(part.rstrip(":") for part in cause.groups() if part) if cause else "no diagnostic"
        problems.append(f"accepted spec built as {is_placeholder(dag)} ({why}): {first[:300]}")
    else:
        try:  # what the DAG processor does next with every DAG it parsed: store it as JSON for the scheduler
            json.dumps(serialized(dag))
        except Exception as error:  # noqa: BLE001 - any failure to serialize is the finding
            problems.append(f"DAG cannot be serialized ({type(error).__name__}): {str(error)[:300]}")
    return problems


def _forbidden_lines(stream: str, text: str) -> list[str]:
    """Problems for the lines of ``text`` that show a crash: a traceback, an internal error, DG601."""
    problems = []
    lines = text.split("\n")
    for index, line in enumerate(lines):
        if "Traceback" in line:
            last = next((later for later in lines[index + 1 :] if later and not later.startswith(" ")), "")
            problems.append(f"Traceback in validate's {stream} ({_exception_type(last)}): {last[:300]}")
        elif " DG601 " in line or "internal error" in line:
            kind = re.search(r"internal error while checking the spec: ([A-Za-z_][A-Za-z0-9_.]*)", line)
            problems.append(f"DG601 in validate's {stream} ({kind.group(1) if kind else '?'}): {line[:300]}")
    return problems


_WARMED_UP: list[bool] = []


def judge(spec: SpecInput) -> Verdict:
    """Validate the input in-process, and build it through the loader when validate accepts it.

    Each input is judged under the tests' warning policy (setup.cfg) and nothing else: importing Airflow adds
    warning filters of its own (its deprecations shown, not ignored), and whether they are still in force would
    depend on what ran before (pytest drops them with each test's filters; the other lane's checker would keep
    them).  So Airflow is imported once first, and every judgement starts from the policy alone.
    """
    if not _WARMED_UP:
        _WARMED_UP.append(True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _judge(SpecInput(SEEDS[0], SEED_TEXTS[SEEDS[0]]))
    with warnings.catch_warnings():
        warnings.resetwarnings()
        apply_pytest_warning_filters()
        return _judge(spec)


def _judge(spec: SpecInput) -> Verdict:
    started = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix="dagen-property-"))
    try:
        dags = scratch / "dags"
        (dags / "pipelines").mkdir(parents=True)
        shutil.copy(REPO / "dags" / "pipelines_loader.py", dags)
        shutil.copy(PIPELINES / "defaults.yaml", dags / "pipelines")
        (dags / "pipelines" / spec.name).write_bytes(spec.raw)
        verdict = _judge_in(dags, spec)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    verdict.seconds = time.monotonic() - started
    return verdict


def _judge_in(dags: Path, spec: SpecInput) -> Verdict:
    folder = dags / "pipelines"
    try:
        with time_limit(TIME_LIMIT):
            code, stdout, stderr, escaped = run_validate(folder)
    except TooSlow as slow:
        return Verdict(None, [], None, [f"slow validate: {slow}"])
    problems: list[str] = []
    if escaped:
        problems.append(f"validate raised {_exception_type(escaped)}: {escaped[:300]}")
    elif code not in (0, 1):
        problems.append(f"validate exit code {code!r}: not 0 or 1")
    problems += _forbidden_lines("stdout", stdout) + _forbidden_lines("stderr", stderr)
    located, report_problems = check_report(stdout, folder, spec) if stdout else ([], ["no report: stdout is empty"])
    problems += report_problems
    if code == 1 and not located:
        problems.append("exit code 1 without a diagnostic: " + stderr[:300])
    if code == 0 and located:
        problems.append(f"exit code 0 with diagnostics: {located[:3]}")
    built = None
    if code == 0 and not escaped:
        build_problems = build_in_dagbag(dags, spec)
        built = not build_problems
        problems += build_problems
    return Verdict(code, located, built, problems)


def problem_class(problem: str) -> str:
    """The class of a problem: its text before the first ': ' (the rest is the detail)."""
    return problem.split(": ", 1)[0]


def apply_pytest_warning_filters() -> None:
    """The ``filterwarnings`` of setup.cfg's [tool:pytest], applied as pytest applies them (later lines win).

    A warning is an error, except deprecations raised inside Airflow and dag-factory: the policy of every test,
    here also for the other lane's checker, which runs outside pytest.
    """
    import builtins
    import configparser
    import importlib

    config = configparser.ConfigParser(interpolation=None)
    config.read(REPO / "setup.cfg", encoding="utf-8")
    for line in config["tool:pytest"]["filterwarnings"].splitlines():
        if not line.strip():
            continue
        action, message, category, module, lineno = [*line.strip().split(":", 4), "", "", "", ""][:5]
        kind: type[Warning] = Warning
        if category:
            if "." in category:
                path, _, attribute = category.rpartition(".")
                kind = getattr(importlib.import_module(path), attribute)
            else:
                kind = getattr(builtins, category)
        warnings.filterwarnings(action, message, kind, module, int(lineno or 0))  # type: ignore[arg-type]
