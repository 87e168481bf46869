"""Processes of the lane: each in a session (and process group) of its own, none left behind.

Every process the lane starts leads a new session (``setsid``), and everything it forks or executes
(Airflow's workers and task processes, PostgreSQL's backends) stays in that session: Airflow moves task
processes to process groups of their own, never to other sessions. Each also carries ``MARKER=<lane id>``
in its environment (a process that changes its title, as Airflow's and PostgreSQL's do, overwrites that
copy, hence the sessions). :func:`leftovers` finds them in ``/proc`` by either, whatever their parent is
now (an orphan's is init), and :func:`sweep` kills them: that is how "nothing is left running" is both
made true and checked.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

MARKER = "DAGEN_REAL_SCHEDULER_SESSION"
_SESSIONS: set[int] = set()  # the sessions the lane's processes lead (their pids)


@dataclass
class Process:
    """One component: its command, its log, its process group."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    cwd: Path | None = None
    user: str | None = None  # run as this user (only when root)
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> Process:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            extra = {"user": self.user, "group": self.user, "extra_groups": []} if self.user else {}
            self.popen = subprocess.Popen(  # noqa: S603 - the lane's own commands
                self.argv,
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own session and process group: stopped as a whole
                **extra,  # type: ignore[arg-type]
            )
        _SESSIONS.add(self.popen.pid)
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def send(self, sig: int = signal.SIGTERM) -> None:
        """``sig`` to the process group (nothing when it ended)."""
        if self.popen is not None and self.popen.poll() is None:
            _killpg(self.pid, sig)

    def wait_stopped(self, timeout: float = 20.0) -> None:
        """Wait for the leader; SIGKILL to the group after ``timeout`` s, and to whatever outlived the leader."""
        if self.popen is None:
            return
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            _killpg(self.pid, signal.SIGKILL)
            self.popen.wait(10)
        _killpg(self.pid, signal.SIGKILL)  # members that outlived their leader

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
        self.send(sig)
        self.wait_stopped(timeout)


def stop_all(processes: list[Process], sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
    """Stop several processes at once: ``sig`` to every group, then wait for each (SIGKILL past ``timeout``)."""
    for process in processes:
        process.send(sig)
    deadline = time.monotonic() + timeout
    for process in processes:
        process.wait_stopped(max(0.0, deadline - time.monotonic()))


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _marked(pid: int, session: str) -> bool:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False
    return f"{MARKER}={session}".encode() in environ.split(b"\0")


def pids() -> Iterator[int]:
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            yield int(entry)


def _stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name: state, ppid, pgrp, session, ...; [] when gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return []


def state_of(pid: int) -> str:
    """The process's state letter (``Z`` for a zombie), ``""`` when gone."""
    stat = _stat(pid)
    return stat[0] if stat else ""


def leftovers(session: str) -> list[tuple[int, str]]:
    """(pid, command line) of every live (non-zombie) process of the lane: in one of its sessions, marked,
    or a descendant of one of those (PostgreSQL's backends lead sessions of their own)."""
    stats = {pid: stat for pid in pids() if (stat := _stat(pid))}
    ours = {pid for pid, stat in stats.items() if int(stat[3]) in _SESSIONS or _marked(pid, session)}
    for pid in stats:
        chain, parent = [], pid
        while parent > 1 and parent not in ours and parent in stats and len(chain) < 64:
            chain.append(parent)
            parent = int(stats[parent][1])
        if parent in ours:
            ours.update(chain)
    return [(pid, cmdline(pid)) for pid in sorted(ours) if stats[pid][0] != "Z"]


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def sweep(session: str, timeout: float = 10.0) -> list[tuple[int, str]]:
    """SIGKILL every process of the lane still there; what was found (none, when all was stopped).

    The lane's sessions are forgotten then: their ids are pids, which the system may give out again.
    """
    found = leftovers(session)
    for pid, _ in found:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while leftovers(session) and time.monotonic() < deadline:
        time.sleep(0.1)
    _SESSIONS.clear()
    return found
