"""The Airflow home of a ``dagen run --local``: the child's isolated environment and the cached metadata DB.

The child process (``python -m generator.local.run``) gets the user's
environment minus every AWS, Airflow and botocore setting, plus the run's own:
its Airflow home and DAGs folder, dummy keys, ``/dev/null`` AWS config files,
no instance metadata, no secrets backend, loopback outside any proxy.  Its
SQLite metadata DB is a copy of one migrated once per lane
(``airflow db migrate``) into the user's cache.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from generator.local.emulator import DUMMY_KEY

CACHE_ENV = "DAGEN_CACHE_DIR"
# Environment variables never passed to the run: the user's AWS and Airflow settings.
_DROPPED_PREFIXES = ("AWS_", "AIRFLOW", "BOTO_", "BOTOCORE_", "_AIRFLOW")


def _cache_root() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dagen"


def isolated_environment(home: Path, dags: Path) -> dict[str, str]:
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


def cached_airflow_db(timeout: float | None = None) -> Path:
    """A migrated metadata DB for this lane, made once (``airflow db migrate``) and then copied per run.

    ``subprocess.TimeoutExpired`` when the migration takes longer than ``timeout`` seconds.
    """
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
            env=isolated_environment(home, home / "dags"),
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
        if done.returncode != 0 or not (home / "airflow.db").is_file():
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise RuntimeError(f"could not create the Airflow metadata DB: {tail[0]}")
        os.replace(home / "airflow.db", target)  # atomic: concurrent first runs do not see half a DB
    return target
