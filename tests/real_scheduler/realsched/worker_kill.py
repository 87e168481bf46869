"""Kill (SIGKILL) the worker running an EMR step task while its step is in flight.

The step is in flight once the cluster is ``RUNNING`` (AddJobFlowSteps moves a cluster there; DescribeCluster
moves no step on, unlike ListSteps). From then on, the first process found running that task (its task
instance ``running`` in the metadata DB, not a worker finishing its deferral) is killed,
with every process named after the same try: the worker that submitted the step (still alive between
AddJobFlowSteps and its deferral), or, if it deferred first, the worker that resumes the task when the
trigger fires. That is a worker dying mid-step, as a lost MWAA worker does. A kill is effective when the
try stays ``running`` afterwards (its worker died holding it, and only Airflow's heartbeat timeout can end
it); one that came just after the worker had handed its try over (its deferral recorded a moment before)
lost nothing, and the next worker of the task is killed instead.

Processes are found by their titles: Airflow 3 names the LocalExecutor worker (the task's supervisor) and
the task process after the task instance's id (``airflow worker -- LocalExecutor: <id>``, ``airflow
worker -- <id>``); Airflow 2.10 names the executor's worker, the task supervisor and the task runner
after the ``airflow tasks run DAG TASK RUN`` command.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from realsched.deployment import Deployment
from realsched.emulator import Emulator
from realsched.processes import cmdline, pids

SETTLE_SECONDS = 2.0  # a try still running this long after its worker was killed lost its worker


@dataclass
class Kill:
    killed: list[tuple[int, str]] = field(default_factory=list)  # (pid, command line)
    task_state: str = ""  # the task instance's state when it was killed
    try_number: int = 0
    cluster_id: str = ""
    after_deferral: bool = False  # the try had deferred: the worker killed was resuming it after its trigger fired
    effective: bool = False  # the killed try stayed running: its worker died holding it
    moot: int = 0  # kills that came just after the worker had handed its try over (then the next one is killed)
    seconds_after_trigger: float = 0.0
    note: str = ""


def task_processes(major: int, dag_id: str, run_id: str, task_id: str, ti_id: str | None) -> list[tuple[int, str]]:
    """The processes named after the task's current try (Airflow 3 names them by the task instance's id)."""
    if major >= 3:
        names = [f"LocalExecutor: {ti_id}", f"airflow worker -- {ti_id}"]
    else:
        names = [f"{dag_id} {task_id} {run_id}", f"'{dag_id}', '{task_id}', '{run_id}'"]
    found = []
    for pid in pids():
        command = cmdline(pid)
        if command.startswith("airflow ") and any(name in command for name in names):
            found.append((pid, command))
    return found


def _task_row(cursor: Any, major: int, dag_id: str, run_id: str, task_id: str) -> tuple[str, int, str | None]:
    """(state, try number, Airflow 3's task instance id) of the task in the run."""
    columns = "state, try_number, id" if major >= 3 else "state, try_number, NULL"
    cursor.execute(
        f"SELECT {columns} FROM task_instance WHERE dag_id = %s AND run_id = %s AND task_id = %s",  # noqa: S608
        (dag_id, run_id, task_id),
    )
    row = cursor.fetchone()
    return (row[0] or "", row[1] or 0, None if row[2] is None else str(row[2])) if row else ("", 0, None)


def _stays_running(cursor: Any, major: int, dag_id: str, run_id: str, task_id: str, try_number: int) -> bool:
    """Whether the killed try stays ``running`` (its worker is gone for good: Airflow must notice)."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline:
        state, now_try, _ = _task_row(cursor, major, dag_id, run_id, task_id)
        if state != "running" or now_try != try_number:
            return False
        time.sleep(0.05)
    return True


def kill_worker_mid_step(
    deployment: Deployment,
    emulator: Emulator,
    dag_id: str,
    run_id: str,
    task_id: str,
    cluster_name: str,
    stop: threading.Event,
    timeout: float,
) -> Kill:
    """Poll (the task's state; while it runs, its cluster; once the step is in flight, its processes) and kill."""
    try:
        return _kill_worker_mid_step(deployment, emulator, dag_id, run_id, task_id, cluster_name, stop, timeout)
    except Exception as error:  # noqa: BLE001 - the test reports it (the deployment may be stopping)
        return Kill(note=f"the killer stopped on {type(error).__name__}: {error}")


def _kill_worker_mid_step(
    deployment: Deployment,
    emulator: Emulator,
    dag_id: str,
    run_id: str,
    task_id: str,
    cluster_name: str,
    stop: threading.Event,
    timeout: float,
) -> Kill:
    started = time.monotonic()
    kill = Kill()
    submitted = False
    connection = deployment.postgres.connect()
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            while not stop.is_set() and time.monotonic() - started < timeout:
                state, try_number, ti_id = _task_row(cursor, deployment.major, dag_id, run_id, task_id)
                kill.after_deferral = kill.after_deferral or state == "deferred"
                if state in ("running", "deferred") and not submitted:
                    # Watched while deferred too: the submitting worker's moment between AddJobFlowSteps and
                    # its deferral is short enough to miss, and the step may end before the task resumes
                    # (the cluster is WAITING again by then); the resuming worker is killed instead.
                    if not kill.cluster_id:
                        ids = emulator.cluster_ids(cluster_name)
                        kill.cluster_id = ids[0] if ids else ""
                    submitted = bool(kill.cluster_id) and emulator.cluster_state(kill.cluster_id) == "RUNNING"
                if state == "running":  # not deferred: a worker runs it (before its deferral, or resumed)
                    found = task_processes(deployment.major, dag_id, run_id, task_id, ti_id) if submitted else []
                    if found:
                        for pid, _ in found:
                            with contextlib.suppress(ProcessLookupError):
                                os.kill(pid, signal.SIGKILL)
                        kill.killed += found
                        kill.seconds_after_trigger = round(time.monotonic() - started, 1)
                        kill.task_state, kill.try_number = state, try_number
                        if _stays_running(cursor, deployment.major, dag_id, run_id, task_id, try_number):
                            kill.effective = True
                            return kill
                        # The worker had handed the try over (its deferral or success was recorded just
                        # before the kill): nothing was lost. Kill the next worker of the task instead.
                        kill.moot += 1
                time.sleep(0.05)
    finally:
        connection.close()
    kill.note = (
        "stopped" if stop.is_set() else f"no worker of {task_id} found with its step in flight in {timeout:.0f} s"
    )
    return kill
