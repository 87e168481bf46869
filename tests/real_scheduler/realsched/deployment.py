"""One Airflow deployment per lane session, configured only through ``AIRFLOW__...`` environment variables.

Airflow 3: ``airflow db migrate``, then ``api-server`` (the task execution API), ``scheduler``,
``dag-processor`` and ``triggerer``; Airflow 2.10: ``db migrate``, then ``scheduler`` (with
``standalone_dag_processor``), ``dag-processor`` and ``triggerer``. LocalExecutor on a private PostgreSQL,
an Airflow home in a temporary folder, the DAGs folder of a deployed bundle, the emulator's environment.
No component listens beyond loopback (the api-server on 127.0.0.1, no log servers), and every Python
process of the deployment runs under the network guard of ``dagen run --local`` (loopback only).

Fast where a test needs it, through Airflow's own configuration: scheduler and job heartbeats, the DAG
folder's listing, heartbeat timeouts of lost task processes. Cron schedules are off
(``use_job_schedule``): the only runs are the ones the lane triggers.
"""

from __future__ import annotations

import base64
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from realsched.postgres import Postgres
from realsched.processes import MARKER, Process, stop_all

GUARD_SITE = Path(__file__).resolve().parents[3] / "generator" / "local" / "guarded_site"
TRIGGER_SCRIPT = Path(__file__).resolve().parent / "trigger_runs.py"
FINISHED_RUN_STATES = ("success", "failed")
FINISHED_TASK_STATES = ("success", "failed", "upstream_failed", "skipped", "removed")
# The DAGs folder is parsed as soon as the DAG processor lists it (every 5 s) and then never changes: no
# re-parse every 30 s (MWAA's default), each of which would build every DAG again on the lane's 2 cores.
REPARSE_SECONDS = "600"
_DROPPED = ("AWS_", "AIRFLOW", "_AIRFLOW", "BOTO_", "BOTOCORE_", "DAGEN_", "PYTHONPATH")


def airflow_major() -> int:
    from importlib import metadata

    return int(metadata.version("apache-airflow").split(".")[0])


def base_environment(session: str, folder: Path) -> dict[str, str]:
    """The user's environment minus every AWS/Airflow/dagen setting, plus the lane's mark and guard."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(_DROPPED)}
    env.update(
        {
            MARKER: session,
            "PYTHONPATH": str(GUARD_SITE),  # sitecustomize: the network guard (loopback only) in every process
            "PYTHONWARNINGS": "ignore",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "DAGEN_CACHE_DIR": str(folder / "dagen-cache"),
            "DO_NOT_TRACK": "1",
        }
    )
    for name in ("NO_PROXY", "no_proxy"):
        env[name] = ",".join(part for part in (env.get(name), "127.0.0.1", "localhost") if part)
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def airflow_configuration(major: int, home: Path, dags: Path, database: str, api_port: int) -> dict[str, str]:
    """Every setting of the deployment, as Airflow's environment variables."""
    from cryptography.fernet import Fernet

    config = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "8",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database,
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "AIRFLOW__SECRETS__BACKEND": "",
        "AIRFLOW__DAG_FACTORY__ENABLE_TELEMETRY": "False",
        # Only the runs the lane triggers: no run for the seeds' cron schedules.
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
        "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "2",
        "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
        "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "2",
    }
    if major >= 3:
        config.update(
            {
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(api_port),
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
                "AIRFLOW__API_AUTH__JWT_SECRET": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": REPARSE_SECONDS,
                "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
                # The supervisor of a task notices its task process's exit within this (default 5 s): a deferred
                # task's worker then reports its exit before the trigger can resume the task, the race of
                # apache/airflow#72716 (a stale executor success fails the resumed try).
                "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
                # A task process that stopped heartbeating (its worker was killed) fails after 30 s, not 5 min.
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
            }
        )
    else:
        config.update(
            {
                "AIRFLOW__SCHEDULER__STANDALONE_DAG_PROCESSOR": "True",
                "AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL": "5",
                "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": REPARSE_SECONDS,
                "AIRFLOW__SCHEDULER__PARSING_PROCESSES": "1",
                "AIRFLOW__WEBSERVER__SECRET_KEY": secrets.token_hex(16),
                "AIRFLOW__SCHEDULER__SCHEDULER_ZOMBIE_TASK_THRESHOLD": "30",
                "AIRFLOW__SCHEDULER__ZOMBIE_DETECTION_INTERVAL": "5",
            }
        )
    return config


@dataclass
class TaskRow:
    task_id: str
    state: str
    try_number: int


class Deployment:
    """The Airflow components of one lane session, on a database and an emulator already running."""

    def __init__(self, folder: Path, env: dict[str, str], postgres: Postgres, dags: Path) -> None:
        self.major = airflow_major()
        self.folder = folder
        self.postgres = postgres
        self.api_port = free_port()
        self.home = folder / "airflow"
        self.home.mkdir()
        self.env = {
            **env,
            **airflow_configuration(self.major, self.home, dags, postgres.sqlalchemy_url, self.api_port),
        }
        self.components: list[Process] = []

    def _airflow(self, *argv: str) -> list[str]:
        return [sys.executable, "-m", "airflow", *argv]

    def migrate(self, timeout: float = 300.0) -> float:
        started = time.monotonic()
        done = subprocess.run(  # noqa: S603 - this Python, fixed arguments
            self._airflow("db", "migrate"),
            env=self.env,
            cwd=self.folder,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        (self.folder / "db-migrate.log").write_text(done.stdout + done.stderr)
        if done.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed:\n{(done.stdout + done.stderr)[-3000:]}")
        return time.monotonic() - started

    def start(self) -> None:
        logs = self.folder / "logs"
        commands: list[tuple[str, list[str]]] = []
        if self.major >= 3:
            commands.append(("api-server", ["api-server", "--host", "127.0.0.1", "--port", str(self.api_port)]))
        commands += [
            ("scheduler", ["scheduler", "--skip-serve-logs"]),
            ("dag-processor", ["dag-processor"]),
            ("triggerer", ["triggerer", "--skip-serve-logs"]),
        ]
        for name, argv in commands:
            process = Process(name, self._airflow(*argv), self.env, logs / f"{name}.log", cwd=self.folder)
            self.components.append(process.start())

    @property
    def api_url(self) -> str:
        """The api-server's version endpoint (Airflow 3), "" on Airflow 2."""
        return f"http://127.0.0.1:{self.api_port}/api/v2/version" if self.major >= 3 else ""

    def wait_api_server(self, timeout: float = 180.0) -> float:
        """Wait until the api-server answers (Airflow 3; tasks need its execution API); the time it took."""
        started = time.monotonic()
        while self.api_url:
            try:
                with urllib.request.urlopen(self.api_url, timeout=5):  # noqa: S310 - loopback
                    break
            except OSError as error:
                self.check_components()
                if time.monotonic() - started > timeout:
                    raise RuntimeError(f"the api-server did not answer in {timeout:.0f} s: {error}") from None
                time.sleep(0.5)
        return time.monotonic() - started

    def check_components(self) -> None:
        dead = [process for process in self.components if not process.alive()]
        if dead:
            raise RuntimeError("\n".join(f"airflow {process.name} exited:\n{process.log_tail()}" for process in dead))

    # ------------------------------------------------------------------ the metadata DB
    def query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        connection = self.postgres.connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, args)
                return list(cursor.fetchall())
        finally:
            connection.close()

    def wait_parsed(self, dag_ids: list[str], timeout: float = 180.0) -> float:
        """Wait until the DAG processor serialized every DAG; the time it took."""
        started = time.monotonic()
        while True:
            self.check_components()
            found = {row[0] for row in self.query("SELECT dag_id FROM serialized_dag")}
            if set(dag_ids) <= found:
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                errors = self.query("SELECT * FROM " + ("import_error" if self.major < 3 else "parse_import_error"))
                raise RuntimeError(f"DAGs not parsed after {timeout:.0f} s: {sorted(set(dag_ids) - found)}; {errors}")
            time.sleep(0.5)

    def start_trigger(self, dag_ids: list[str], run_id: str) -> Process:
        """Start triggering one run of each DAG (Airflow's own trigger code), all at once, in one process.

        Started with the components: it waits itself until the DAGs are serialized and the api-server answers.
        """
        logical_date = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
        argv = [sys.executable, str(TRIGGER_SCRIPT), run_id, logical_date, self.api_url, *dag_ids]
        return Process("trigger", argv, self.env, self.folder / "logs" / "trigger.log", cwd=self.folder).start()

    def wait_trigger(self, trigger: Process, dag_ids: list[str], timeout: float = 240.0) -> None:
        assert trigger.popen is not None
        try:
            code = trigger.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            trigger.stop()
            raise RuntimeError(f"triggering the DAG runs took over {timeout:.0f} s:\n{trigger.log_tail()}") from None
        if code != 0:
            raise RuntimeError(f"triggering the DAG runs failed:\n{trigger.log_tail()}")
        # New DAGs are not paused (dags_are_paused_at_creation is off); a paused one would never run its run.
        self.query_exec("UPDATE dag SET is_paused = false WHERE dag_id = ANY(%s)", list(dag_ids))

    def query_exec(self, sql: str, *args: Any) -> None:
        connection = self.postgres.connect()
        try:
            with connection, connection.cursor() as cursor:
                cursor.execute(sql, args)
        finally:
            connection.close()

    def run_states(self, run_id: str) -> dict[str, str]:
        return {
            dag_id: state for dag_id, state in self.query("SELECT dag_id, state FROM dag_run WHERE run_id = %s", run_id)
        }

    def wait_runs(self, dag_ids: list[str], run_id: str, timeout: float) -> float:
        """Wait until every run finished (success or failed); the time it took."""
        started = time.monotonic()
        while True:
            self.check_components()
            states = self.run_states(run_id)
            if all(states.get(dag_id) in FINISHED_RUN_STATES for dag_id in dag_ids):
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"DAG runs not finished after {timeout:.0f} s: {states}")
            time.sleep(1)

    def tasks(self, dag_id: str, run_id: str) -> dict[str, TaskRow]:
        rows = self.query(
            "SELECT task_id, state, try_number FROM task_instance WHERE dag_id = %s AND run_id = %s",
            dag_id,
            run_id,
        )
        return {task_id: TaskRow(task_id, state or "none", try_number or 0) for task_id, state, try_number in rows}

    def stop(self) -> None:
        """Every component at once (the runs are over): SIGTERM to each group, SIGKILL to what is left after 20 s."""
        stop_all(self.components)
