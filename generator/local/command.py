"""``dagen run PIPELINE --local``: run one pipeline end to end in real Airflow on a local AWS emulator.

This is the thin, light half: it checks the command line and the spec (located
diagnostics, one-line errors, never a traceback), prepares an isolated Airflow
home whose SQLite metadata DB is copied from a per-lane cache (migrated once),
starts :mod:`generator.local.run` in a child process whose environment reaches
only the emulator (no AWS or Airflow settings of the user are passed on, AWS
config files are ``/dev/null``, instance metadata is off), and prints the
child's report.  Nothing here imports Airflow, so the user's Airflow
configuration is never read or written.

Exit codes: 0 the DAG run succeeded, 1 it failed (or the spec has errors),
2 bad command line.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from generator.compile.pipelines import SpecResult, process
from generator.core.diagnostics import REPORTERS, sorted_unique
from generator.core.provider_profile import profile_for
from generator.local.emulator import DEFAULT_REGION, DUMMY_KEY
from generator.local.run import REQUEST_ENV, RunRequest, bundle_file_text

# Task types whose work the emulator can make fail (--fail) or whose start response it can lose (--flaky).
FAILABLE = (
    "emr_step",
    "emr_notebook",
    "step_function",
    "glue_job",
    "athena_query",
    "emr_serverless_job",
    "emr_eks_job",
    "lambda_invoke",
)
FLAKY = (*FAILABLE, "glue_crawler")
CACHE_ENV = "DAGEN_CACHE_DIR"
# Environment variables never passed to the run: the user's AWS and Airflow settings.
_DROPPED_PREFIXES = ("AWS_", "AIRFLOW", "BOTO_", "BOTOCORE_", "_AIRFLOW")


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
        "EMR Serverless or EMR on EKS job run, Lambda invocation) fail",
    )
    run.add_argument(
        "--flaky",
        action="append",
        default=[],
        metavar="TASK_ID",
        help="this task's first start call takes effect but its response is lost (tests retries)",
    )
    run.add_argument("--keep", action="store_true", help="keep the run's folder (Airflow home and log) after success")
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
        args.pipeline, local=args.local, params=args.param, fail=args.fail, flaky=args.flaky, keep=args.keep, echo=True
    )
    return outcome.exit_code


# ----------------------------------------------------------------------------- checks


def _installed_target() -> tuple[Any, int]:
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


def check_tasks(option: str, task_ids: Sequence[str], result: SpecResult, allowed: Sequence[str]) -> list[str]:
    assert result.spec is not None
    types = {task.task_id: task.type for task in result.spec.tasks}
    for task_id in task_ids:
        if task_id not in types:
            raise UsageError(
                f"unknown task '{task_id}' in {option}; {_hint(task_id, sorted(types))}"
                f"tasks of {result.dag_id}: {', '.join(sorted(types))}"
            )
        if types[task_id] not in allowed:
            raise UsageError(
                f"{option} {task_id}: a {types[task_id]} task cannot be made to fail locally "
                f"(supported: {', '.join(allowed)})"
            )
    return list(dict.fromkeys(task_ids))


# ----------------------------------------------------------------------------- the Airflow home


def _cache_root() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dagen"


def _isolated_environment(home: Path, dags: Path) -> dict[str, str]:
    """The child's environment: the user's, minus every AWS/Airflow setting, plus the run's own."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(_DROPPED_PREFIXES)}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "AIRFLOW__SECRETS__BACKEND": "",
            "AIRFLOW__WORKERS__SECRETS_BACKEND": "",
            "AIRFLOW__DAG_FACTORY__ENABLE_TELEMETRY": "False",
            "DO_NOT_TRACK": "1",
            # No real credentials can be found or used: dummy keys, no config files, no instance metadata.
            "AWS_ACCESS_KEY_ID": DUMMY_KEY,
            "AWS_SECRET_ACCESS_KEY": DUMMY_KEY,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "PYTHONWARNINGS": "ignore",
        }
    )
    # The emulator and the HTTP/SMTP stand-ins listen on loopback: never through a proxy of the user.
    for name in ("NO_PROXY", "no_proxy"):
        env[name] = ",".join(part for part in (env.get(name), "127.0.0.1", "localhost") if part)
    return env


def cached_airflow_db() -> Path:
    """A migrated metadata DB for this lane, made once (``airflow db migrate``) and then copied per run."""
    airflow = metadata.version("apache-airflow")
    lane = f"airflow-{airflow}-py{sys.version_info.major}.{sys.version_info.minor}"
    target = _cache_root() / "local-run" / lane / "airflow.db"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dagen-airflow-db-", dir=target.parent) as tmp:
        home = Path(tmp)
        done = subprocess.run(  # noqa: S603 - this Python, fixed arguments
            [sys.executable, "-m", "airflow", "db", "migrate"],
            env=_isolated_environment(home, home / "dags"),
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0 or not (home / "airflow.db").is_file():
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise RuntimeError(f"could not create the Airflow metadata DB: {tail[0]}")
        os.replace(home / "airflow.db", target)  # atomic: concurrent first runs do not see half a DB
    return target


# ----------------------------------------------------------------------------- the run


def _interrupt(signum: int, frame: Any) -> None:
    """SIGTERM to ``dagen run``: stop the run like Ctrl-C does (the child stops its emulator)."""
    raise KeyboardInterrupt


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _fmt_seconds(value: float) -> str:
    return f"{value:.1f}s"


def render_report(report: dict[str, Any], *, fail: Sequence[str], flaky: Sequence[str]) -> list[str]:
    """The human report: tasks, then what happened in the emulator, then the outcome."""
    lines = [f"{report['dag_id']} on a local AWS emulator at {report['endpoint_url']}"]
    for name, (value, note) in report.get("variables", {}).items():
        lines.append(f"  var {name} = {value}  ({note})")
    if report.get("buckets"):
        lines.append(f"  buckets: {', '.join(report['buckets'])}")
    for named in report.get("named_resources", []):
        lines.append(f"  {named}")
    for endpoint in report.get("endpoints", []):
        lines.append(f"  {endpoint}")
    if fail or flaky:
        injected = [f"--fail {task}" for task in fail] + [f"--flaky {task}" for task in flaky]
        lines.append(f"  injected: {' '.join(injected)}")
    if report.get("sla_not_evaluated"):
        lines.append(f"  sla {report['sla_not_evaluated']}: not evaluated (the scheduler checks SLAs; none runs here)")
    lines.append("")
    width = max([len("task"), *(len(row["task_id"]) for row in report["tasks"])])
    lines.append(f"  {'task':<{width}}  {'state':<15} {'duration':>8}  try")
    for row in report["tasks"]:
        duration = _fmt_seconds(row["duration"])
        lines.append(f"  {row['task_id']:<{width}}  {row['state']:<15} {duration:>8}  {row['try_number']:>3}")
    lines.append("")
    lines.append("  emulator:")
    emulator = report["emulator"]
    for cluster in emulator["clusters"]:
        by = f"by {cluster['origin']}" if cluster["origin"] else "made for the run"
        lines.append(f"    cluster {cluster['id']} {cluster['name']}: {cluster['state']}  ({by})")
    for step in emulator["steps"]:
        cause = f": {step['cause']}" if step["cause"] else ""
        lines.append(f"    step {step['id']} {step['name']} on {step['cluster']}: {step['state']}{cause}")
    for execution in emulator["notebook_executions"]:
        cause = f": {execution['cause']}" if execution["cause"] else ""
        lines.append(
            f"    notebook execution {execution['id']} {execution['path']} on {execution['cluster']}: "
            f"{execution['state']}{cause}"
        )
    for execution in emulator["executions"]:
        how = " (completed by the emulator)" if execution["completed_by_emulator"] else ""
        cause = f": {execution['cause']}" if execution["cause"] else ""
        lines.append(f"    execution {execution['name']}: {execution['state']}{how}{cause}")
    for job_run in emulator["job_runs"]:
        cause = f": {job_run['cause']}" if job_run["cause"] else ""
        lines.append(f"    glue job run {job_run['job']} {job_run['id'][:12]}: {job_run['state']}{cause}")
    for crawl in emulator["crawls"]:
        lines.append(f"    crawl of {crawl['crawler']}: {crawl['state']}")
    for kind, key in (("EMR Serverless", "serverless_job_runs"), ("EMR on EKS", "eks_job_runs")):
        for run in emulator.get(key, []):
            cause = f": {run['cause']}" if run["cause"] else ""
            lines.append(f"    {kind} job run {run['id']} {run['entry_point']} on {run['on']}: {run['state']}{cause}")
    for query in emulator.get("queries", []):
        cause = f": {query['cause']}" if query["cause"] else ""
        lines.append(
            f"    athena query {query['id'][:8]} by {query['origin']} ({query['workgroup']}): {query['state']}{cause}"
        )
    for invocation in emulator.get("invocations", []):
        cause = f": {invocation['cause']}" if invocation["cause"] else ""
        lines.append(
            f"    lambda {invocation['function']} {invocation['invocation_type']} by {invocation['origin']}: "
            f"{invocation['state']}{cause}"
        )
    for message in emulator.get("messages", []):
        by = message["origin"] or "the DAG run"
        said = message["subject"] or next(iter((message["message"] or "").strip().splitlines()), "")[:60]
        lines.append(f"    sns {message['topic'].rsplit(':', 1)[-1]}: {said!r} (by {by})")
    for item in emulator.get("objects", []):
        by = f"put for {item['provided_for']}" if item["provided_for"] else f"by {item['origin'] or 'the DAG run'}"
        lines.append(f"    object {item['uri']} ({by})")
    for request in emulator.get("http_requests", []):
        lines.append(
            f"    http {request['conn_id']} {request['method']} {request['path']}: {request['status']} "
            f"(by {request['origin']})"
        )
    for message in emulator.get("emails", []):
        by = message["origin"] or "the DAG run"
        lines.append(f"    email to {', '.join(message['to'])}: {message['subject']!r} (by {by}; recorded, not sent)")
    for event in report.get("asset_events", []):
        lines.append(f"    asset {event['uri']} updated by {event['task_id']}")
    for origin, action in report.get("lost_responses", []):
        lines.append(f"    lost the response of {origin}'s {action} (--flaky)")
    lines.append("")
    timings = report["timings"]
    failed = failed_tasks(report)
    if report["state"] == "success" and not failed:
        verdict = "succeeded"
    elif report["state"] == "success":
        verdict = "FAILED (Airflow marked it success: a teardown alone decided the run state)"
    else:
        verdict = report["state"].upper()
    lines.append(f"DAG run {verdict}")
    lines.append(
        f"time: DAG run {_fmt_seconds(timings['dag_test'])}, "
        f"whole local run {_fmt_seconds(timings['wall'])} (emulator and Airflow start-up included)"
    )
    lines.extend(_failures(report))
    return lines


def failed_tasks(report: dict[str, Any]) -> list[str]:
    return [row["task_id"] for row in report["tasks"] if row["state"] == "failed"]


def succeeded(report: dict[str, Any]) -> bool:
    """The DAG run succeeded and no task failed (Airflow may call a run whose teardown succeeded a success)."""
    return report["state"] == "success" and not failed_tasks(report)


def _failures(report: dict[str, Any]) -> list[str]:
    """Each failed task and why: its last error, and the emulator's cause for the work it (or its start task) ran."""
    lines = []
    emulator = report["emulator"]
    resources = [
        *(("step", item) for item in emulator["steps"]),
        *(("notebook execution", item) for item in emulator["notebook_executions"]),
        *(("execution", item) for item in emulator["executions"]),
        *(("glue job run", item) for item in emulator["job_runs"]),
        *(("EMR Serverless job run", item) for item in emulator.get("serverless_job_runs", [])),
        *(("EMR on EKS job run", item) for item in emulator.get("eks_job_runs", [])),
        *(("athena query", item) for item in emulator.get("queries", [])),
        *(("lambda invocation", item) for item in emulator.get("invocations", [])),
    ]
    for row in report["tasks"]:
        if row["state"] != "failed":
            continue
        starter = row["task_id"].removesuffix("_wait")
        causes = [
            f"{kind} {item.get('id') or item.get('name')} {item['state']}: {item['cause']}"
            for kind, item in resources
            if item["origin"] in (row["task_id"], starter) and item["cause"]
        ]
        error = row["errors"][-1] if row["errors"] else "no error recorded"
        lines.append(f"failed: {row['task_id']} (try {row['try_number']}): {error}")
        lines.extend(f"    cause: {cause}" for cause in dict.fromkeys(causes))
    return lines


def run_local(
    pipeline: str,
    *,
    local: bool = True,
    params: Sequence[str] = (),
    fail: Sequence[str] = (),
    flaky: Sequence[str] = (),
    keep: bool = False,
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
        profile, major = _installed_target()
        result = process([path], profile=profile, airflow_major=major, root=Path.cwd())[0]
        if not result.ok:
            say(REPORTERS["text"](sorted_unique(result.diagnostics), 1))
            return LocalRunOutcome(1, None, "\n".join(printed))
        assert result.spec is not None
        overrides = parse_params(params, result)
        fail_ids = check_tasks("--fail", fail, result, FAILABLE)
        flaky_ids = check_tasks("--flaky", flaky, result, FLAKY)
    except UsageError as error:
        say(f"dagen: {error}", error=True)
        return LocalRunOutcome(2, None, "\n".join(printed))

    started = time.monotonic()
    try:
        template_db = cached_airflow_db()
    except RuntimeError as error:
        say(f"dagen: {error}", error=True)
        return LocalRunOutcome(1, None, "\n".join(printed))
    run_dir = Path(tempfile.mkdtemp(prefix=f"dagen-run-{result.dag_id}-"))
    home, dags = run_dir / "airflow-home", run_dir / "dags"
    home.mkdir()
    dags.mkdir()
    shutil.copyfile(template_db, home / "airflow.db")
    (dags / "dagen_local_run_dag.py").write_text(bundle_file_text(), encoding="utf-8")
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
    )
    request.save(run_dir / "request.json")
    env = _isolated_environment(home, dags)
    env[REQUEST_ENV] = str(run_dir / "request.json")
    # Some deferrable triggers drop region_name (apache/airflow#72144): the default region must match.
    env["AWS_DEFAULT_REGION"] = request.region
    log_path = run_dir / "airflow.log"
    say(f"dagen run --local {result.file}: starting the emulator and Airflow (log: {log_path})")
    with log_path.open("w", encoding="utf-8") as log:
        child = subprocess.Popen(  # noqa: S603 - this Python, fixed arguments
            [sys.executable, "-m", "generator.local.run", str(run_dir / "request.json")],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=Path.cwd(),
        )
        previous = signal.signal(signal.SIGTERM, _interrupt) if _main_thread() else None
        try:
            code = child.wait()
        except KeyboardInterrupt:
            # The child got the same Ctrl-C; give it time to stop its emulator, then make sure it is gone.
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            say(f"dagen: interrupted; the emulator was stopped (log: {log_path})", error=True)
            return LocalRunOutcome(130, None, "\n".join(printed))
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
    report_path = Path(request.report_path)
    if code != 0 or not report_path.is_file():
        tail = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:] or ["no output"]
        say(f"dagen: the local run stopped before the DAG run ended: {tail[0]} (log: {log_path})", error=True)
        return LocalRunOutcome(1, None, "\n".join(printed))
    report = json.loads(report_path.read_text(encoding="utf-8"))
    report["timings"]["wall"] = round(time.monotonic() - started, 2)
    for line in render_report(report, fail=fail_ids, flaky=flaky_ids):
        say(line)
    ok = succeeded(report)
    if ok and not keep:
        shutil.rmtree(run_dir, ignore_errors=True)
    else:
        say(f"Airflow log: {log_path}")
    return LocalRunOutcome(0 if ok else 1, report, "\n".join(printed))


if __name__ == "__main__":
    sys.exit(main())
