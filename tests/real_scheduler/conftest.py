"""The real-scheduler lane: the lane's pipelines run by a real Airflow deployment, once per session.

The ``lane`` fixture (module scope: every test of the lane is in ``test_real_scheduler.py``) does all the
work before the first test (:func:`realsched.lane.run_lane`): a private PostgreSQL, the DAGs folder of a
deployed bundle, the emulator as a process of its own (with the failure cases' faults), ``airflow db
migrate``, the components as separate processes (LocalExecutor), one run of every DAG triggered at once
and awaited, a worker killed mid-step while they run; it reads every task's final state and try and the
emulator's final state, then stops everything it started and checks nothing is left. Each test then
asserts on its own run. Whatever happens (a failure, Ctrl-C, SIGTERM, SIGHUP), everything is stopped.
"""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from realsched.lane import Lane, Stopper, interrupts_raise, run_lane

SESSIONS: list[tuple[Path, dict[str, float], list[str]]] = []  # each lane session's folder, timings, notes
COMPLETED: list[Path] = []  # the sessions whose runs all ended (not interrupted, no setup error)
FAILED: list[str] = []  # the lane's tests that did not pass: their lane folder (logs) is kept


@pytest.fixture(scope="module")
def lane() -> Lane:
    started = time.monotonic()
    # Not pytest's tmp_path: its folders are rotated by every other pytest session of the machine.
    folder = Path(tempfile.mkdtemp(prefix="dagen-real-scheduler-"))
    stopper = Stopper(uuid.uuid4().hex)
    atexit.register(stopper)
    timings: dict[str, float] = {}
    notes: list[str] = []
    SESSIONS.append((folder, timings, notes))
    try:
        with interrupts_raise():
            result = run_lane(folder, stopper, timings)
    finally:
        now = time.monotonic()
        left = stopper()
        timings.update(stopper.timings)
        timings["stop"] = round(time.monotonic() - now, 1)
        timings["total"] = round(time.monotonic() - started, 1)
        (folder / "timings.json").write_text(json.dumps(timings, indent=2))
        atexit.unregister(stopper)
    result.left_running = left
    kill = result.kill
    phase = "resuming after its trigger fired" if kill.after_deferral else "before its deferral"
    notes.append(
        f"worker killed {kill.seconds_after_trigger}s after the runs were triggered, its task {kill.task_state} "
        f"on try {kill.try_number} ({phase}; {kill.moot} earlier kill(s) came after a hand-over): "
        f"{[command for _, command in kill.killed]}"
        if kill.killed
        else f"no worker killed: {kill.note}"
    )
    notes.append(f"runs: {result.run_states}")
    notes.append(f"tries failed by the scheduler on an executor event: {result.externally_failed or 'none'}")
    COMPLETED.append(folder)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.failed and Path(__file__).parent in item.path.parents:
        FAILED.append(item.nodeid)
    return report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    from importlib import metadata

    for folder, timings, notes in SESSIONS:
        parts = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in timings.items())
        if FAILED or folder not in COMPLETED:
            where = f"logs kept in {folder}"
        else:
            shutil.rmtree(folder, ignore_errors=True)
            where = "all passed, its folder removed"
        airflow = metadata.version("apache-airflow")
        terminalreporter.write_line(f"real-scheduler lane (Airflow {airflow}): {parts}; {where}")
        for note in notes:
            terminalreporter.write_line(f"  {note}")
