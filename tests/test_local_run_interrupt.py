"""Ctrl-C on ``dagen run --local``: the run stops within 2 s with all it started, one line, exit 130.

One real run per lane (``dagen`` of this lane as a subprocess in a session of its own), started from a
folder holding a ``generator/`` package that raises when imported: the run must import the installed
package, never that one.  It is interrupted once its first task has succeeded, so the same run shows
the progress lines (running, then success) too; its second task waits for an object the run withholds
(``--absent``), so the run is still going when the signal comes, however fast the machine.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from generator.local.progress import progress_line

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO / "tests" / "local_run" / "interrupted.yaml"
NEVER_LANDS = "s3://dagen-interrupted-landing/incoming/"  # the prefix of the object its second task waits for
DAGEN = Path(sys.executable).parent / "dagen"
FAKE_PACKAGE = 'raise RuntimeError("the generator/ folder of the current directory was imported")\n'
# dagen as a terminal starts it: SIGINT not ignored (a shell starts a background job, such as a test session
# run with `&`, with SIGINT ignored, and an ignored signal stays ignored through exec)
FOREGROUND = "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])"
FIRST_SUCCESS = re.compile(r"^  curate +success  \([0-9.]+s\)$")


def _session_processes(sessions: set[int]) -> list[psutil.Process]:
    """The live (not zombie) processes of these sessions."""
    found = []
    for proc in psutil.process_iter():
        try:
            if os.getsid(proc.pid) in sessions and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (ProcessLookupError, PermissionError, psutil.NoSuchProcess):
            continue
    return found


def _listening_ports(procs: list[psutil.Process]) -> set[int]:
    ports = set()
    for proc in procs:
        try:
            connections = proc.net_connections(kind="tcp") if hasattr(proc, "net_connections") else proc.connections()
        except psutil.NoSuchProcess:
            continue
        ports.update(conn.laddr.port for conn in connections if conn.status == psutil.CONN_LISTEN)
    return ports


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A run started from a folder that shadows ``generator``, interrupted after its first task succeeded."""
    cwd = tmp_path_factory.mktemp("shadowing")
    (cwd / "generator").mkdir()
    (cwd / "generator" / "__init__.py").write_text(FAKE_PACKAGE, encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    dagen = subprocess.Popen(  # noqa: S603 - this lane's dagen, fixed arguments
        [sys.executable, "-c", FOREGROUND, str(DAGEN), "run", "--local", str(SPEC), "--absent", NEVER_LANDS],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert dagen.stdout is not None
    before: list[str] = []
    deadline = time.monotonic() + 240
    for line in dagen.stdout:  # the first task's success, or the end of the output
        before.append(line.rstrip("\n"))
        if FIRST_SUCCESS.match(before[-1]) or time.monotonic() > deadline:
            break
    children = [proc.pid for proc in psutil.Process(dagen.pid).children()]
    sessions = {dagen.pid, *(os.getsid(pid) for pid in children)}  # dagen's, and the child's own
    ports = _listening_ports(_session_processes(sessions))
    signalled = time.monotonic()
    os.kill(dagen.pid, signal.SIGINT)
    try:
        rest, _ = dagen.communicate(timeout=10)
    finally:
        if dagen.poll() is None:
            os.killpg(dagen.pid, signal.SIGKILL)
            dagen.wait()
        dagen.stdout.close()
    return {
        "code": dagen.returncode,
        "seconds": time.monotonic() - signalled,
        "before": before,
        "output": "\n".join(before) + "\n" + rest,
        "sessions": sessions,
        "children": children,
        "ports": ports,
    }


def test_ctrl_c_stops_the_run_within_2_s_with_one_line_and_exit_130(interrupted: dict[str, Any]) -> None:
    output = interrupted["output"]
    log = output.splitlines()[0].rpartition("(log: ")[2].rstrip(")")
    assert interrupted["code"] == 130, output
    assert interrupted["seconds"] < 2, output
    assert output.strip().splitlines()[-1] == f"dagen run: interrupted; stopped the run (log: {log})"
    assert "Traceback" not in output
    tail = Path(log).read_text(encoding="utf-8").strip().splitlines()[-20:]
    assert not [line for line in tail if "Traceback" in line], tail
    assert tail[-1] == "dagen run --local: stopped by dagen run (its time limit, Ctrl-C, SIGTERM or SIGHUP)"


def test_nothing_the_run_started_is_left(interrupted: dict[str, Any]) -> None:
    assert interrupted["children"], "dagen started no child"
    assert _session_processes(interrupted["sessions"]) == []
    for pgid in interrupted["sessions"]:
        with pytest.raises(ProcessLookupError):
            os.killpg(pgid, 0)
    assert interrupted["ports"], "the emulator listened on no port"  # it listens while the run goes
    assert [port for port in interrupted["ports"] if not _refused(port)] == []


def test_the_progress_lines_show_each_state_change_as_it_happens(interrupted: dict[str, Any]) -> None:
    before = interrupted["before"]
    assert before[0].startswith(f"dagen run --local {SPEC}: starting the emulator and Airflow (log: ")
    assert before[1:] == [progress_line("curate", "running", "", 22), before[-1]]
    assert FIRST_SUCCESS.match(before[-1])


def test_the_run_imports_the_installed_package_not_a_generator_folder_in_the_cwd(
    interrupted: dict[str, Any],
) -> None:
    # The fake package raises on import: a run that imported it would have stopped before its first task.
    log = interrupted["output"].splitlines()[0].rpartition("(log: ")[2].rstrip(")")
    assert FAKE_PACKAGE.split('"')[1] not in interrupted["output"] + Path(log).read_text(encoding="utf-8")
    assert FIRST_SUCCESS.match(interrupted["before"][-1])
