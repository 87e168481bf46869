"""The child process of ``dagen run --local``: run in a process group of its own, stopped as a whole.

:func:`run_child` (the parent's side) starts it as the leader of a new session (its own process
group) and waits until it exits or the run's deadline passes, calling ``on_tick`` (the progress
lines, :mod:`generator.local.progress`) every :data:`TICK_SECONDS`.  Past the deadline, or on Ctrl-C
(SIGINT), SIGTERM or SIGHUP (its terminal closed: the child's own session does not get it) to
``dagen run``, the group gets SIGINT, then SIGKILL if the child is not gone after
:data:`GRACE_SECONDS`: the run is stopped within 2 s.  A second Ctrl-C meanwhile is ignored (no
traceback).  Whatever happens, the group is killed once the child has exited, so nothing the run
started (a task's subprocess) outlives it.  SIGINT rather than SIGTERM: Airflow takes SIGTERM for the
termination of the running task (``AirflowTaskTerminated``), logs it and goes on with the next ones.

:func:`package_python` is the child's command line: it imports the ``generator`` package this
process runs, never a ``generator/`` folder in the current directory (``-P``: no cwd on ``sys.path``).

:func:`exit_on_interrupt` (the child's side) makes that SIGINT end the child at once: Airflow
would take the ``KeyboardInterrupt`` for the failure of the running task and go on with the next
ones.  The emulator and the loopback stand-ins are threads of the child: they end with it.
POSIX only, as Airflow is.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

GRACE_SECONDS = 1.5
TICK_SECONDS = 0.25
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)  # to ``dagen run``: stop the run as Ctrl-C does
STOPPED = "dagen run --local: stopped by dagen run (its time limit, Ctrl-C, SIGTERM or SIGHUP)"
STOPPED_CODE = 130


@dataclass(frozen=True)
class ChildEnd:
    """How the child ended: its exit code, or why it was stopped (``timeout``, ``interrupt``)."""

    code: int | None
    stopped: str | None = None


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _exit_now(signum: int, frame: Any) -> None:
    print(STOPPED, file=sys.stderr, flush=True)
    sys.stdout.flush()
    os._exit(STOPPED_CODE)


def exit_on_interrupt() -> None:
    """In the child: SIGINT (sent by :func:`stop`) ends this process at once, whatever it is running."""
    signal.signal(signal.SIGINT, _exit_now)


def package_python(module: str, *args: str) -> list[str]:
    """``python -m MODULE ARGS`` (``MODULE.main(ARGS)``) importing the ``generator`` package this one is.

    ``-P`` keeps the current directory off ``sys.path`` (a ``generator/`` folder there would shadow the
    package); the folder holding this package goes first instead, installed or a source checkout.
    """
    root = str(Path(__file__).resolve().parents[2])
    code = f"import sys; sys.path.insert(0, {root!r}); from {module} import main; sys.exit(main(sys.argv[1:]))"
    return [sys.executable, "-P", "-c", code, *args]


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:  # the group is empty: everything in it has exited
        pass


def stop(child: subprocess.Popen[Any]) -> None:
    """SIGINT to the child's group, SIGKILL after the grace period; returns once the child has exited."""
    _signal_group(child.pid, signal.SIGINT)
    try:
        child.wait(timeout=GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        _signal_group(child.pid, signal.SIGKILL)
        child.wait()


def _wait(child: subprocess.Popen[Any], deadline: float, on_tick: Callable[[], None] | None) -> int | None:
    """The child's exit code, or None once ``deadline`` passed; ``on_tick`` every :data:`TICK_SECONDS`."""
    while True:
        remaining = deadline - time.monotonic()
        try:
            code = child.wait(timeout=max(0.0, min(remaining, TICK_SECONDS if on_tick else remaining)))
        except subprocess.TimeoutExpired:
            if on_tick is not None:
                on_tick()
            if time.monotonic() >= deadline:
                return None
            continue
        if on_tick is not None:
            on_tick()
        return code


def run_child(
    argv: list[str],
    *,
    env: dict[str, str],
    log: IO[str],
    cwd: Path,
    deadline: float,
    on_tick: Callable[[], None] | None = None,
) -> ChildEnd:
    """Run ``argv`` (output to ``log``) until it exits or ``deadline`` (``time.monotonic()``) passes."""
    child = subprocess.Popen(  # noqa: S603 - this Python, fixed arguments
        argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True
    )
    main_thread = threading.current_thread() is threading.main_thread()
    previous = {signum: signal.signal(signum, _interrupt) for signum in STOP_SIGNALS} if main_thread else {}
    sigint = signal.getsignal(signal.SIGINT)
    try:
        try:
            code = _wait(child, deadline, on_tick)
            if code is not None:
                return ChildEnd(code)
            stopped = "timeout"
        except KeyboardInterrupt:
            stopped = "interrupt"
        for signum in (signal.SIGINT, *STOP_SIGNALS) if main_thread else ():
            signal.signal(signum, signal.SIG_IGN)  # a second Ctrl-C while the run stops: already stopping
        stop(child)
        return ChildEnd(None, stopped)
    finally:
        _signal_group(child.pid, signal.SIGKILL)  # what the child left running
        child.wait()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if main_thread and sigint is not None:
            signal.signal(signal.SIGINT, sigint)
