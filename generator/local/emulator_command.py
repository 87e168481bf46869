"""``dagen emulator``: the local AWS on its own, for a real Airflow to use (a local MWAA without Docker).

``dagen run --local`` starts the emulator inside its one ``dag.test()`` process.  This command starts
it as a process of its own, on 127.0.0.1, for a real Airflow deployment (``airflow standalone``, or a
scheduler, DAG processor, triggerer and workers) pointed at it:

1. it validates and compiles the specs it is given (a folder: every spec in it), with located
   diagnostics and exit 1 when any has errors;
2. it starts the emulator (:mod:`generator.local.emulator`) and creates what every pipeline refers to
   (:mod:`generator.local.resources`: the resources behind its Airflow Variables, buckets, state
   machines, workspaces...) and the HTTP/SMTP stand-ins its tasks talk to;
3. it prints the endpoint and the environment to give Airflow (``AIRFLOW_CONN_*``, ``AIRFLOW_VAR_*``,
   dummy AWS keys, ``AWS_ENDPOINT_URL``), writes the same to ``--env-file`` once everything is ready
   (a JSON object for a ``.json`` name, else ``export`` lines for a shell; atomically: a reader that
   sees the file sees all of it), and serves until SIGINT or SIGTERM.

Faults are injected *by resource*, since the emulator cannot tell which Airflow task of which process
is calling: ``--fail KIND:NAME`` ends every start of that work FAILED, ``--fail-once`` only the first,
``--lose-response`` makes the first start call take effect but lose its response (as when a worker
dies right after it), ``--slow-response`` makes it take effect and answer
:data:`~generator.local.emulator.shared.SLOW_RESPONSE_SECONDS` late (a worker busy in the call, with its
work started: where a real worker can be killed mid-start).
KIND is one of :data:`~generator.local.emulator.RESOURCE_KINDS`.

Exit codes: 0 stopped by a signal, 1 the specs have errors, 2 bad command line.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from generator.compile.pipelines import SpecResult, process
from generator.core.diagnostics import REPORTERS, sorted_unique
from generator.local.command import UsageError, installed_target
from generator.local.emulator import DEFAULT_REGION, DUMMY_KEY, RESOURCE_KINDS, LocalAws
from generator.local.emulator.shared import LOSE_ONLY, SLOW_RESPONSE_SECONDS

MODES = {"fail": "fail", "fail_once": "fail-once", "lose_response": "lose", "slow_response": "slow"}
CAUSE = "injected by dagen emulator --{option} {kind}:{name}"


def register(subparsers: Any) -> None:
    """Add ``dagen emulator`` to the ``dagen`` command's subparsers."""
    kinds = ", ".join(RESOURCE_KINDS)
    emulator = subparsers.add_parser(
        "emulator",
        help="start the local AWS emulator on its own, for a real Airflow (a local MWAA without Docker)",
        description="Start the local AWS emulator (moto on 127.0.0.1) as a process of its own, create what "
        "the pipelines refer to, print the environment to give Airflow, and serve until Ctrl-C.",
        epilog=f"KIND is one of: {kinds}. Only --lose-response and --slow-response apply to {' and '.join(LOSE_ONLY)}.",
    )
    emulator.add_argument("paths", nargs="*", default=["pipelines"], help="spec files or folders (default: pipelines)")
    emulator.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free port)")
    emulator.add_argument("--region", help=f"the emulator's region (default: the specs' region, else {DEFAULT_REGION})")
    emulator.add_argument(
        "--env-file",
        help="also write the environment for Airflow here once ready: a JSON object when the name ends in .json, "
        "else export lines for a shell's `source`",
    )
    for option, what in (
        ("--fail", "every start of this work ends FAILED"),
        ("--fail-once", "the first start of this work ends FAILED, later ones succeed"),
        ("--lose-response", "the first start call takes effect but its response is lost"),
        ("--slow-response", f"the first start call takes effect and answers {SLOW_RESPONSE_SECONDS:.0f} s late"),
    ):
        emulator.add_argument(option, action="append", default=[], metavar="KIND:NAME", help=what)
    emulator.set_defaults(run=cmd_emulator)


def parse_fault(option: str, text: str) -> tuple[str, str]:
    kind, _, name = text.partition(":")
    if kind not in RESOURCE_KINDS or not name:
        raise UsageError(f"invalid --{option} '{text}': KIND:NAME, KIND one of {', '.join(RESOURCE_KINDS)}")
    if option not in ("lose-response", "slow-response") and kind in LOSE_ONLY:
        raise UsageError(f"--{option} {text}: a {kind} can only lose a response (--lose-response {kind}:NAME)")
    return kind, name


def _specs(paths: Sequence[str]) -> list[SpecResult]:
    missing = [path for path in paths if not Path(path).exists()]
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(missing)}")
    profile, major = installed_target()
    results = process([Path(path) for path in paths], profile=profile, airflow_major=major, root=Path.cwd())
    if not results:
        raise UsageError(f"no pipeline specs (*.yaml, *.yml) under {', '.join(paths)}")
    return results


def environment(aws: LocalAws, results: list[SpecResult], endpoints: list[Any]) -> tuple[dict[str, str], list[str]]:
    """Create what the pipelines refer to; the environment for Airflow and a note per Variable."""
    from generator.local.connections import emulator_environment
    from generator.local.resources import create_local_resources
    from generator.runtime.pipeline_modules import PIPELINES_ENV

    env = {
        "AWS_ACCESS_KEY_ID": DUMMY_KEY,
        "AWS_SECRET_ACCESS_KEY": DUMMY_KEY,
        "AWS_DEFAULT_REGION": aws.region,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    notes: dict[str, tuple[str, list[str]]] = {}  # variable -> (what it is, the pipelines that read it)
    shared: dict[str, str] = {}  # resources made once for every pipeline that refers to them
    for result in results:
        assert result.spec is not None and result.config is not None
        params = {param.name: param.default for param in result.spec.params}
        made = create_local_resources(aws, result.config, params, cache=shared)
        for name, value in made.variables.items():
            env.setdefault(f"AIRFLOW_VAR_{name.upper()}", value)
            notes.setdefault(name, (f"{value} ({made.notes[name]})", []))[1].append(result.dag_id)
        env.update(emulator_environment(aws, result.config, result.spec.aws_conn_id))
        if PIPELINES_ENV not in env:
            from generator.local.run import pipelines_folder_of

            env[PIPELINES_ENV] = str(pipelines_folder_of(result.file))
    for stand_ins in endpoints:
        env.update(stand_ins.environment())  # after the emulator's: the stand-ins' connections win
    return env, [f"{name} = {what}, read by {', '.join(readers)}" for name, (what, readers) in sorted(notes.items())]


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def serve(args: argparse.Namespace, stop: threading.Event) -> int:
    faults = [
        (kind, name, MODES[attribute], option)
        for attribute, option in (
            ("fail", "fail"),
            ("fail_once", "fail-once"),
            ("lose_response", "lose-response"),
            ("slow_response", "slow-response"),
        )
        for kind, name in (parse_fault(option, text) for text in getattr(args, attribute))
    ]
    results = _specs(args.paths)
    broken = sorted_unique(d for result in results for d in result.diagnostics)
    if broken:
        print(REPORTERS["text"](broken, len(results)))
        return 1
    regions = {result.spec.region for result in results if result.spec is not None and result.spec.region}
    region = args.region or (regions.pop() if len(regions) == 1 else DEFAULT_REGION)
    import logging

    from generator.local.endpoints import LocalEndpoints

    aws = LocalAws(region=region, port=args.port)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # not a line per request
    endpoints: list[Any] = []
    try:
        aws.start()
        for kind, name, mode, option in faults:
            aws.fault_on(kind, name, mode, CAUSE.format(option=option, kind=kind, name=name))
        endpoints = [LocalEndpoints(result.config or {}, lambda: None).start() for result in results]
        env, notes = environment(aws, results, endpoints)
        print(f"dagen emulator: local AWS at {aws.endpoint_url} (region {region}), for {len(results)} pipeline(s)")
        for note in notes:
            print(f"  variable {note}")
        for kind, name, mode, _ in faults:
            print(f"  fault: {mode} {kind}:{name}")
        print("Give Airflow this environment (or read it from --env-file):")
        exports = [f"export {key}={_shell_quote(value)}" for key, value in sorted(env.items())]
        for line in exports:
            print(f"  {line}")
        if args.env_file:
            target = Path(args.env_file)
            text = json.dumps(env, indent=2, sort_keys=True) if target.suffix == ".json" else "\n".join(exports)
            _write_atomically(target, text + "\n")
        print("Serving until Ctrl-C.", flush=True)
        stop.wait()
    finally:
        for stand_ins in endpoints:
            stand_ins.stop()
        aws.stop()
    print("dagen emulator: stopped", flush=True)
    return 0


def _shell_quote(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def cmd_emulator(args: argparse.Namespace) -> int:
    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stop.set())
    try:
        return serve(args, stop)
    except UsageError as error:
        print(f"dagen: {error}", file=sys.stderr)
        return 2
