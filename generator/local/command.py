"""``dagen run PIPELINE --local``: run one pipeline end to end in real Airflow on a local AWS emulator.

This is the thin, light half: it checks the command line and the spec (located
diagnostics, one-line errors, never a traceback), prepares an isolated Airflow
home whose SQLite metadata DB is copied from a per-lane cache (migrated once;
:mod:`generator.local.airflow_home`), starts :mod:`generator.local.run` in a
child process (importing this ``generator`` package, never one in the current directory) whose
environment reaches only the emulator (no AWS or Airflow settings of the user are passed on, AWS config
files are ``/dev/null``, instance metadata is off), prints each task's state as it changes (:mod:`~.progress`)
and then the child's report (:mod:`generator.local.run_report`).  The child runs in a process group of its
own, under a run-wide time limit (``--timeout``); Ctrl-C stops it with all it started within 2 s
(:mod:`generator.local.child`).  Nothing here imports Airflow: the user's Airflow configuration is untouched.

``--target mwaa-serverless``: the workflow MWAA Serverless runs (:mod:`generator.local.serverless_run`).
Exit codes: 0 the DAG run succeeded, 1 it failed (or the spec has errors),
2 bad command line (or that target on Airflow 2), 124 the run hit its time limit, 130 interrupted.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from generator.compile.pipelines import MWAA, SpecResult, process
from generator.core.diagnostics import REPORTERS, sorted_unique
from generator.core.lowering_context import create_cluster_task_id
from generator.core.provider_profile import profile_for
from generator.core.schema_parts import DURATION_PATTERN
from generator.core.value_formats import seconds
from generator.local.airflow_home import cached_airflow_db, isolated_environment
from generator.local.child import package_python, run_child
from generator.local.emulator import DEFAULT_REGION
from generator.local.emulator.shared import split_member
from generator.local.fault_types import FAILABLE, FLAKY
from generator.local.progress import PROGRESS_ENV, PROGRESS_FILE, ProgressLines
from generator.local.run import REQUEST_ENV, RunRequest
from generator.local.run_report import render_report, succeeded
from generator.local.serverless_run import add_target_option, refusal, target_words, write_dag_files
from generator.spec.normalise import format_duration

DEFAULT_TIMEOUT = "30m"
TIMED_OUT = 124  # the exit code of timeout(1)
INTERRUPTED = 130


class UsageError(Exception):
    """A bad command line (exit 2)."""


@dataclass
class LocalRunOutcome:
    """What ``dagen run --local`` did: the exit code and the child's report (None when it never ran)."""

    exit_code: int
    report: dict[str, Any] | None
    output: str


# ----------------------------------------------------------------------------- command line


def register(subparsers: Any) -> None:
    """Add ``dagen run`` to the ``dagen`` command's subparsers."""
    run = subparsers.add_parser(
        "run",
        help="run one pipeline end to end in real Airflow on a local AWS emulator (--local)",
        description="Run one pipeline end to end in real Airflow (dag.test) against a local AWS emulator "
        "(moto on 127.0.0.1). No AWS account, no credentials, no Docker.",
    )
    run.add_argument("pipeline", help="the pipeline spec file")
    run.add_argument("--local", action="store_true", help="run on the local emulator (the only mode)")
    run.add_argument(
        "--param", action="append", default=[], metavar="NAME=VALUE", help="override a param (JSON for non-strings)"
    )
    run.add_argument(
        "--fail",
        action="append",
        default=[],
        metavar="TASK_ID",
        help="make the work this task starts (EMR step, notebook, execution, Glue job run, Athena query, "
        "EMR Serverless or EMR on EKS job run, Lambda invocation) fail; TASK_ID[INDEX]: only that member "
        "of a mapped task (load_file[1])",
    )
    run.add_argument(
        "--flaky",
        action="append",
        default=[],
        metavar="TASK_ID",
        help="this task's first start call takes effect but its response is lost (tests retries)",
    )
    run.add_argument(
        "--logical-date",
        metavar="DATE",
        help="the run's logical date ({{ ds }}): YYYY-MM-DD or an ISO date-time (UTC unless it has an offset); "
        "default now",
    )
    run.add_argument(
        "--absent",
        action="append",
        default=[],
        metavar="S3_URI",
        help="never put this object (a URI ending in /: anything under the prefix) for an s3_wait task or a "
        "run_if s3_exists check: the sensor sees nothing, the condition is false; the URI as rendered for the "
        "run (s3://landing/2024-06-01/_SUCCESS), not a template",
    )
    add_target_option(run)
    run.add_argument("--keep", action="store_true", help="keep the run's folder (Airflow home and log) after success")
    run.add_argument(
        "--timeout",
        default=DEFAULT_TIMEOUT,
        metavar="DURATION",
        help=f"stop the whole run after this long (90s, 30m, 1h; default {DEFAULT_TIMEOUT}); exit {TIMED_OUT}",
    )
    run.set_defaults(run=cmd_run)


def _parser() -> argparse.ArgumentParser:
    main_parser = argparse.ArgumentParser(prog="dagen")
    register(main_parser.add_subparsers(dest="command", required=True))
    return main_parser


def main(argv: Sequence[str] | None = None) -> int:
    """``dagen run ...`` on its own (what ``python -m generator run`` does once wired into the CLI)."""
    args = _parser().parse_args(argv)
    return int(args.run(args))


def cmd_run(args: argparse.Namespace) -> int:
    outcome = run_local(
        args.pipeline,
        local=args.local,
        params=args.param,
        fail=args.fail,
        flaky=args.flaky,
        keep=args.keep,
        timeout=args.timeout,
        logical_date=args.logical_date,
        absent=args.absent,
        target=args.target,
        echo=True,
    )
    return outcome.exit_code


# ----------------------------------------------------------------------------- checks


def installed_target() -> tuple[Any, int]:
    """The lane's provider profile and Airflow major, from package metadata (no Airflow import)."""
    try:
        provider = metadata.version("apache-airflow-providers-amazon")
        airflow = metadata.version("apache-airflow")
    except metadata.PackageNotFoundError:
        raise UsageError(
            "dagen run --local needs Airflow and the Amazon provider (pip install 'dagen[airflow]')"
        ) from None
    return profile_for(provider), int(airflow.split(".")[0])


def _hint(word: str, options: Sequence[str]) -> str:
    match = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"did you mean '{match[0]}'? " if match else ""


def parse_params(pairs: Sequence[str], result: SpecResult) -> dict[str, Any]:
    """``--param NAME=VALUE`` pairs -> overrides, each checked against the param's declaration."""
    from jsonschema import Draft202012Validator, FormatChecker

    assert result.spec is not None
    declared = {param.name: param for param in result.spec.params}
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"malformed --param '{pair}': expected NAME=VALUE")
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise UsageError(f"unknown param '{name}' in --param; {_hint(name, sorted(declared))}declared: {known}")
        schema = declared[name].schema
        value: Any = text
        if schema.get("type") != "string":
            try:
                value = json.loads(text)
            except ValueError:
                value = text
        errors = list(Draft202012Validator(schema, format_checker=FormatChecker()).iter_errors(value))
        if errors:
            raise UsageError(f"invalid --param {name}={text}: {errors[0].message}")
        out[name] = value
    return out


def parse_timeout(text: str) -> int:
    """``--timeout``: a duration in the spec's syntax (``90s``, ``30m``, ``1h30m``) or seconds, at least 1s."""
    value = text.strip()
    total = 0
    if value.isdigit():
        total = int(value)
    elif re.fullmatch(DURATION_PATTERN, value):
        total = seconds(value)
    if total < 1:
        raise UsageError(f"invalid --timeout '{text}': a duration such as 90s, 30m or 1h (at least 1s)")
    return total


def check_tasks(option: str, task_ids: Sequence[str], result: SpecResult, allowed: Sequence[str]) -> list[str]:
    """``--fail``/``--flaky`` values: spec task ids of an ``allowed`` type, or ``TASK[INDEX]``, one member of a
    task mapped at run time (``for_each: {output_of: ...}``)."""
    assert result.spec is not None
    types = {task.task_id: task.type for task in result.spec.tasks}
    mapped = {task.task_id for task in result.spec.tasks if task.map_over is not None}
    if "cluster" in allowed:  # the create_<cluster> task of each cluster the pipeline creates
        types.update(
            (
                create_cluster_task_id(cluster.name),
                "cluster" if cluster.kind == "emr" else f"kind: {cluster.kind} create",
            )
            for cluster in result.spec.clusters
            if "existing_cluster_id" not in cluster.settings
        )
    for name in task_ids:
        parts = split_member(name)
        if parts is None:
            raise UsageError(
                f"malformed {option} '{name}': expected TASK_ID, or TASK_ID[INDEX] for one member of a "
                "mapped task (load_file[0] is its first)"
            )
        task_id, index = parts
        if task_id not in types:
            raise UsageError(
                f"unknown task '{task_id}' in {option}; {_hint(task_id, sorted(types))}"
                f"tasks of {result.dag_id}: {', '.join(sorted(types))}"
            )
        if types[task_id] not in allowed:
            raise UsageError(
                f"{option} {name}: a {types[task_id]} task cannot be made to fail locally "
                f"(supported: {', '.join(allowed)})"
            )
        if index is not None and task_id not in mapped:
            known = (
                f"mapped tasks of {result.dag_id}: {', '.join(sorted(mapped))}"
                if mapped
                else f"{result.dag_id} has none"
            )
            raise UsageError(
                f"{option} {name}: {task_id} is not mapped at run time, so it has no member [{index}] "
                f"(INDEX names a member of a task with for_each: {{output_of: TASK}}; {known})"
            )
    return list(dict.fromkeys(task_ids))


def parse_logical_date(text: str | None, result: SpecResult) -> str | None:
    """``--logical-date``: ``YYYY-MM-DD`` (midnight) or an ISO date-time, UTC unless it has an offset; ISO text.

    Checked against the pipeline's start and end dates: Airflow makes no task instance of a run dated outside
    them.  A date after today is not refused.
    """
    if text is None:
        return None
    value = text.strip()
    usage = f"invalid --logical-date '{text}': "
    try:
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}.*)?", value):
            raise ValueError(value)
        when = datetime.fromisoformat(value)  # a date alone is midnight; Z is UTC (Python 3.11+)
    except ValueError:
        raise UsageError(
            f"{usage}a date (2024-06-05) or an ISO date-time (2024-06-05T06:30:00, UTC unless it has an offset "
            "such as +02:00)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    assert result.spec is not None
    start, end = result.spec.start_date, result.spec.end_date
    if start is not None and when < _aware(start):
        raise UsageError(
            f"{usage}before the pipeline's start_date {_aware(start).isoformat()} (Airflow runs no task of it)"
        )
    if end is not None and when > _aware(end):
        raise UsageError(f"{usage}after the pipeline's end_date {_aware(end).isoformat()} (Airflow runs no task of it)")
    return when.isoformat()


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def parse_absent(uris: Sequence[str]) -> list[str]:
    """``--absent``: S3 URIs taken literally (``{{ ds }}`` is not rendered: the user names the rendered key)."""
    for uri in uris:
        if not re.fullmatch(r"s3://[^/\s]+(/.*)?", uri):
            raise UsageError(f"invalid --absent '{uri}': an S3 URI, s3://BUCKET/KEY (a prefix ends in /)")
        if "{{" in uri or "{%" in uri:
            raise UsageError(
                f"invalid --absent '{uri}': the URI as rendered for this run (s3://landing/2024-06-01/_SUCCESS, "
                "with --logical-date 2024-06-01), not a template"
            )
    return list(dict.fromkeys(uris))


# ----------------------------------------------------------------------------- the run


def run_local(
    pipeline: str,
    *,
    local: bool = True,
    params: Sequence[str] = (),
    fail: Sequence[str] = (),
    flaky: Sequence[str] = (),
    keep: bool = False,
    timeout: str = DEFAULT_TIMEOUT,
    logical_date: str | None = None,
    absent: Sequence[str] = (),
    target: str = MWAA,
    echo: bool = False,
) -> LocalRunOutcome:
    """Everything ``dagen run --local`` does; returns the exit code, the report and the printed text."""
    printed: list[str] = []

    def say(text: str, *, error: bool = False) -> None:
        printed.append(text)
        if echo:
            print(text, file=sys.stderr if error else sys.stdout, flush=True)

    try:
        if not local:
            raise UsageError("dagen run needs --local (the only mode: a local AWS emulator)")
        path = Path(pipeline)
        if not path.exists():
            raise UsageError(f"no such file or folder: {pipeline}")
        if not path.is_file():
            raise UsageError(f"dagen run takes one pipeline spec file, not a folder: {pipeline}")
        profile, major = installed_target()
        if refused := refusal(target, major):
            raise UsageError(refused)
        result = process([path], profile=profile, airflow_major=major, root=Path.cwd(), target=target)[0]
        if not result.ok:
            say(REPORTERS["text"](sorted_unique(result.diagnostics), 1))
            return LocalRunOutcome(1, None, "\n".join(printed))
        assert result.spec is not None
        overrides = parse_params(params, result)
        fail_ids = check_tasks("--fail", fail, result, FAILABLE)
        flaky_ids = check_tasks("--flaky", flaky, result, FLAKY)
        limit = parse_timeout(timeout)
        when = parse_logical_date(logical_date, result)
        absent_uris = parse_absent(absent)
    except UsageError as error:
        say(f"dagen: {error}", error=True)
        return LocalRunOutcome(2, None, "\n".join(printed))

    started = time.monotonic()
    deadline = started + limit
    timed_out = (
        f"dagen: the local run hit its time limit (--timeout {format_duration(limit)}) "
        "and was stopped, with all it started"
    )
    try:
        template_db = cached_airflow_db(timeout=limit)
    except subprocess.TimeoutExpired:
        say(f"{timed_out} (while migrating the cached Airflow metadata DB)", error=True)
        return LocalRunOutcome(TIMED_OUT, None, "\n".join(printed))
    except RuntimeError as error:
        say(f"dagen: {error}", error=True)
        return LocalRunOutcome(1, None, "\n".join(printed))
    run_dir = Path(tempfile.mkdtemp(prefix=f"dagen-run-{result.dag_id}-"))
    home, dags = run_dir / "airflow-home", run_dir / "dags"
    home.mkdir()
    dags.mkdir()
    shutil.copyfile(template_db, home / "airflow.db")
    write_dag_files(dags, result, target)  # the loader's build, or the workflow and dag-factory's loader
    request = RunRequest(
        spec_path=str(path.resolve()),
        root=str(Path.cwd()),
        dag_id=result.dag_id,
        region=result.spec.region or DEFAULT_REGION,
        conn_id=result.spec.aws_conn_id,
        report_path=str(run_dir / "report.json"),
        params=overrides,
        fail=fail_ids,
        flaky=flaky_ids,
        logical_date=when,
        absent=absent_uris,
        target=target,
    )
    request.save(run_dir / "request.json")
    env = isolated_environment(home, dags)
    env[REQUEST_ENV] = str(run_dir / "request.json")
    env[PROGRESS_ENV] = str(run_dir / PROGRESS_FILE)
    # Some deferrable triggers drop region_name (apache/airflow#72144): the default region must match.
    env["AWS_DEFAULT_REGION"] = request.region
    log_path = run_dir / "airflow.log"
    say(f"dagen run --local {target_words(target)}{result.file}: starting the emulator and Airflow (log: {log_path})")
    with log_path.open("w", encoding="utf-8") as log:
        end = run_child(
            package_python("generator.local.run", str(run_dir / "request.json")),
            env=env,
            log=log,
            cwd=Path.cwd(),
            deadline=deadline,
            on_tick=ProgressLines(run_dir / PROGRESS_FILE) if echo else None,
        )
    if end.stopped == "timeout":
        say(f"{timed_out} (log: {log_path})", error=True)
        return LocalRunOutcome(TIMED_OUT, None, "\n".join(printed))
    if end.stopped == "interrupt":
        say(f"dagen run: interrupted; stopped the run (log: {log_path})", error=True)
        return LocalRunOutcome(INTERRUPTED, None, "\n".join(printed))
    report_path = Path(request.report_path)
    if end.code != 0 or not report_path.is_file():
        tail = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:] or ["no output"]
        say(f"dagen: the local run stopped before the DAG run ended: {tail[0]} (log: {log_path})", error=True)
        return LocalRunOutcome(1, None, "\n".join(printed))
    report = json.loads(report_path.read_text(encoding="utf-8"))
    report["timings"]["wall"] = round(time.monotonic() - started, 2)
    for line in render_report(report, fail=fail_ids, flaky=flaky_ids, absent=absent_uris):
        say(line)
    ok = succeeded(report)
    if ok and not keep:
        shutil.rmtree(run_dir, ignore_errors=True)
    else:
        say(f"Airflow log: {log_path}")
    return LocalRunOutcome(0 if ok else 1, report, "\n".join(printed))


if __name__ == "__main__":
    sys.exit(main())
