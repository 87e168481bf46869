"""A private PostgreSQL cluster for one lane session: a temporary folder, a Unix socket, no TCP at all.

``scripts/ensure-postgres.sh`` (a prerequisite of ``make test``) installs Debian's ``postgresql``; the
cluster is made with its ``initdb`` and run with its ``postgres``, as the ``postgres`` user when this
process is root (PostgreSQL refuses to run as root). Durability is off (``fsync``, ``synchronous_commit``,
``full_page_writes``): the cluster lives for one session.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from realsched.processes import Process

DATABASE = "airflow"
USER = "airflow"
PORT = 5432  # only names the socket file (.s.PGSQL.5432) in the cluster's own folder


def bin_dir() -> Path:
    """The folder of PostgreSQL's server programs (Debian: /usr/lib/postgresql/<major>/bin)."""
    found = sorted(
        (path for path in Path("/usr/lib/postgresql").glob("*/bin") if (path / "initdb").is_file()),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1]
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise RuntimeError("PostgreSQL's initdb is not installed: run scripts/ensure-postgres.sh (make test does)")


class Postgres:
    """initdb, start, a database for Airflow, stop; the folder is removed at the end."""

    def __init__(self, env: dict[str, str]) -> None:
        self.bin = bin_dir()
        self.user = "postgres" if os.geteuid() == 0 else None
        self.folder = Path(tempfile.mkdtemp(prefix="dagen-rs-postgres-"))
        self.data = self.folder / "data"
        self.env = {**env, "LC_ALL": "C", "LANG": "C"}
        self.process: Process | None = None
        if self.user:
            shutil.chown(self.folder, self.user, self.user)

    @property
    def socket_dir(self) -> str:
        return str(self.folder)

    @property
    def sqlalchemy_url(self) -> str:
        return f"postgresql+psycopg2://{USER}@/{DATABASE}?host={self.folder}&port={PORT}"

    def connect(self, database: str = DATABASE):  # noqa: ANN201 - psycopg2 is imported lazily
        import psycopg2

        return psycopg2.connect(host=self.socket_dir, port=PORT, user=USER, dbname=database)

    def _run(self, *argv: str) -> None:
        extra = {"user": self.user, "group": self.user, "extra_groups": []} if self.user else {}
        done = subprocess.run(  # noqa: S603 - PostgreSQL's own programs
            [str(self.bin / argv[0]), *argv[1:]],
            env=self.env,
            cwd=self.folder,
            capture_output=True,
            text=True,
            check=False,
            **extra,  # type: ignore[arg-type]
        )
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")

    def start(self, timeout: float = 60.0) -> Postgres:
        self._run("initdb", "-D", str(self.data), f"--username={USER}", "--auth=trust", "--encoding=UTF8", "--no-sync")
        settings = {
            "listen_addresses": "",  # no TCP: the Unix socket in the cluster's folder only
            "unix_socket_directories": self.socket_dir,
            "port": str(PORT),
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "200",
            "shared_buffers": "64MB",
        }
        argv = [str(self.bin / "postgres"), "-D", str(self.data)]
        for name, value in settings.items():
            argv += ["-c", f"{name}={value}"]
        self.process = Process(
            "postgres", argv, self.env, self.folder / "postgres.log", cwd=self.folder, user=self.user
        )
        self.process.start()
        deadline = time.monotonic() + timeout
        while True:
            try:
                connection = self.connect("postgres")
                break
            except Exception as error:  # noqa: BLE001 - not ready yet
                if not self.process.alive() or time.monotonic() > deadline:
                    raise RuntimeError(f"PostgreSQL did not start: {error}\n{self.process.log_tail()}") from None
                time.sleep(0.2)
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {DATABASE}")
        connection.close()
        return self

    def stop(self) -> None:
        """Fast shutdown (SIGINT: running sessions are ended), then the folder goes."""
        if self.process is not None:
            self.process.stop(signal.SIGINT, timeout=20)
        shutil.rmtree(self.folder, ignore_errors=True)
