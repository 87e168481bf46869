"""The lane's session: what it starts, in order, what it reads at the end, and how it stops it all.

:func:`run_lane` starts a private PostgreSQL, writes the DAGs folder of a deployed bundle, starts the
emulator (with the failure cases' faults) and migrates the metadata DB meanwhile, starts Airflow's
components, triggers one run of every DAG at once, kills a worker mid-step while they run, waits for
them all, and reads every task's final state and try from the metadata DB and the emulator's final state
through its AWS API. :class:`Stopper` stops what it started, whatever happened.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator.local.network_guard import REFUSED
from realsched.dags_folder import dag_ids, lane_project, write_bundle
from realsched.deployment import Deployment, TaskRow, base_environment
from realsched.emulator import Emulator, EmulatorState
from realsched.postgres import Postgres
from realsched.processes import leftovers, sweep
from realsched.worker_kill import Kill, kill_worker_mid_step

RUN_ID = "real_scheduler"
RUNS_TIMEOUT = 420.0  # every DAG run of the lane, all at once (2 to 3 minutes on 2 cores)
# The failure cases, injected by resource (each name is one spec's own, see tests/real_scheduler/pipelines/).
FAILING_STEP = "failing_spark"
LOST_CLUSTER = "rs_lost_create-work"
RETRIED_STATE_MACHINE = "dagen-local-rs-retry-state-machine-arn"  # the emulator's machine for that Variable
RETRIED_NOTEBOOK = "rs_notebook_retry/report.ipynb"
FAULTS = [
    f"--fail=step:{FAILING_STEP}",
    f"--lose-response=cluster:{LOST_CLUSTER}",
    f"--fail-once=execution:{RETRIED_STATE_MACHINE}",
    f"--fail-once=notebook:{RETRIED_NOTEBOOK}",
    # the killed task's AddJobFlowSteps answers 5 s late: its worker is killed there, step submitted (a fast
    # task start leaves no other window that wide: the resumed try only records the step's end)
    "--slow-response=step:long_step",
]
KILLED = ("rs_worker_killed", "long_step", "rs_worker_killed-work")  # DAG, task, cluster name


@dataclass
class Lane:
    """What the session's deployment did: read once, after every run ended and before anything stopped."""

    major: int
    folder: Path
    dag_ids: list[str]
    run_states: dict[str, str]
    tasks: dict[str, dict[str, TaskRow]]
    emulator: EmulatorState
    emulator_env: dict[str, str]
    kill: Kill
    timings: dict[str, float] = field(default_factory=dict)
    left_running: list[tuple[int, str]] = field(default_factory=list)  # after the stop, before the sweep
    timed_out: str = ""
    refused: list[str] = field(default_factory=list)  # log lines of the network guard refusing a connection
    externally_failed: dict[str, int] = field(default_factory=dict)  # DAG.task -> tries Airflow failed "externally"


# What Airflow's scheduler logs when an executor event contradicts a task's state and it fails the try: a
# worker really lost, or (Airflow 3.3.1) the stale event of a worker that deferred or rescheduled
# (apache/airflow#72716). Counted per task for the lane's summary.
_EXTERNALLY = re.compile(
    r"(?:reported that the task instance|Executor reports task instance) <TaskInstance: ([\w.-]+) "
)


def refused_connections(folder: Path) -> list[str]:
    """Every log line of the lane in which the network guard refused to leave loopback."""
    marker = REFUSED.split(": ", 1)[1]  # "a local run may only reach the emulator on loopback (...)"
    found = []
    for path in sorted(folder.rglob("*.log")):
        with open(path, errors="replace") as log:
            found += [f"{path.relative_to(folder)}: {line.strip()[:300]}" for line in log if marker in line]
    return found


def externally_failed(scheduler_log: Path) -> dict[str, int]:
    try:
        text = scheduler_log.read_text(errors="replace")
    except OSError:
        return {}
    return dict(sorted(Counter(_EXTERNALLY.findall(text)).items()))


class Stopper:
    """Stops what the lane started, once: from the fixture, at exit, or on SIGTERM/SIGHUP."""

    def __init__(self, session: str) -> None:
        self.session = session
        self.steps: list[tuple[str, Callable[[], None]]] = []  # run last first
        self.timings: dict[str, float] = {}
        self.done = False

    def add(self, name: str, step: Callable[[], None]) -> None:
        self.steps.append((name, step))

    def __call__(self) -> list[tuple[int, str]]:
        """Run every step (last added first); what was still running after them (then killed)."""
        if self.done:
            return []
        self.done = True
        for name, step in reversed(self.steps):
            started = time.monotonic()
            with contextlib.suppress(Exception):
                step()
            self.timings[f"stop_{name}"] = round(time.monotonic() - started, 1)
        left = leftovers(self.session)
        sweep(self.session)
        return left


def signal_services(emulator: Emulator, postgres: Postgres) -> None:
    """Ask the emulator and PostgreSQL (fast shutdown) to stop, so that they stop at the same time."""
    emulator.process.send(signal.SIGTERM)
    if postgres.process is not None:
        postgres.process.send(signal.SIGINT)


@contextlib.contextmanager
def interrupts_raise() -> Iterator[None]:
    """SIGTERM and SIGHUP interrupt the lane as Ctrl-C does, so its stop always runs."""

    def interrupt(*_: Any) -> None:
        raise KeyboardInterrupt

    saved = {number: signal.signal(number, interrupt) for number in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for number, handler in saved.items():
            signal.signal(number, handler)


def run_lane(folder: Path, stopper: Stopper, timings: dict[str, float]) -> Lane:
    def timed(name: str, started: float) -> None:
        timings[name] = round(time.monotonic() - started, 1)

    env = base_environment(stopper.session, folder)
    now = time.monotonic()
    postgres = Postgres(env)
    stopper.add("postgres", postgres.stop)
    postgres.start()
    timed("postgres", now)

    now = time.monotonic()
    dags, pipelines = write_bundle(lane_project(folder / "project"), folder / "dags")
    ids = dag_ids(pipelines)
    timed("bundle", now)

    now = time.monotonic()
    emulator = Emulator(pipelines, FAULTS, folder, env)
    stopper.add("emulator", emulator.stop)
    # Once Airflow is stopped: the emulator and PostgreSQL stop at the same time (each takes seconds).
    stopper.add("signal_services", lambda: signal_services(emulator, postgres))
    emulator.start()
    deployment = Deployment(folder, env, postgres, dags)
    stopper.add("airflow", deployment.stop)
    timings["db_migrate"] = round(deployment.migrate(), 1)  # while the emulator starts
    emulator_env = emulator.wait_ready()
    deployment.env.update(emulator_env)
    timed("emulator_and_migrate", now)

    now = time.monotonic()
    deployment.start()
    trigger = deployment.start_trigger(ids, RUN_ID)
    stopper.add("trigger", trigger.stop)
    timings["parse"] = round(deployment.wait_parsed(ids), 1)
    timings["api_server"] = round(deployment.wait_api_server(), 1)
    deployment.wait_trigger(trigger, ids)
    timed("components_parse_trigger", now)

    now = time.monotonic()
    stop_killing = threading.Event()
    kill: list[Kill] = []
    dag_id, task_id, cluster_name = KILLED

    def kill_one() -> None:
        kill.append(
            kill_worker_mid_step(
                deployment, emulator, dag_id, RUN_ID, task_id, cluster_name, stop_killing, RUNS_TIMEOUT
            )
        )

    def stop_the_killer() -> None:  # the first stop step: before what it polls goes away
        stop_killing.set()
        killer.join(30)

    killer = threading.Thread(target=kill_one, daemon=True)
    stopper.add("killer", stop_the_killer)
    killer.start()
    timed_out = ""
    try:
        deployment.wait_runs(ids, RUN_ID, RUNS_TIMEOUT)
    except TimeoutError as error:
        timed_out = str(error)
    stop_the_killer()
    timed("runs", now)

    now = time.monotonic()
    lane = Lane(
        major=deployment.major,
        folder=folder,
        dag_ids=ids,
        run_states=deployment.run_states(RUN_ID),
        tasks={dag_id: deployment.tasks(dag_id, RUN_ID) for dag_id in ids},
        emulator=emulator.state(),
        emulator_env=emulator_env,
        kill=kill[0] if kill else Kill(note="the killer did not finish"),
        timings=timings,
        timed_out=timed_out,
        refused=refused_connections(folder),
        externally_failed=externally_failed(folder / "logs" / "scheduler.log"),
    )
    timed("collect", now)
    (folder / "results.json").write_text(json.dumps(dataclasses.asdict(lane), indent=2, default=str))
    return lane
