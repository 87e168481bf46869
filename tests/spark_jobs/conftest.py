"""pytest setup for the Spark job tests: one local Spark session for the run.

Run from the repository root with the Spark venv::

    .venv-spark/bin/python -m pytest tests/spark_jobs -q

The jobs import each other's modules by file name (as spark-submit with
``--py-files`` arranges on a cluster), so ``spark_jobs/`` goes on sys.path, and
so does this folder, for the shared test helpers in ``job_testkit.py``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

try:
    import pyspark  # noqa: F401  (only probing whether this is the Spark venv)
except ModuleNotFoundError:
    # The Airflow venvs have no pyspark; if one of them is pointed at tests/
    # as a whole, leave this folder out instead of failing on imports.
    collect_ignore_glob = ["*"]
else:
    _tests_dir = Path(__file__).resolve().parent
    for _path in (_tests_dir.parents[1] / "spark_jobs", _tests_dir):
        if str(_path) not in sys.path:
            sys.path.insert(0, str(_path))

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


# py4j drops its gateway sockets without closing them; with the project's
# "warnings are errors" setting each one would fail whichever test is running
# when the garbage collector finds it.
PY4J_UNCLOSED_SOCKET = "ignore:Exception ignored in.*socket.socket:pytest.PytestUnraisableExceptionWarning"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tolerate py4j's unclosed sockets, in this folder's tests only."""
    this_folder = Path(__file__).resolve().parent
    for item in items:
        if this_folder in item.path.resolve().parents:
            item.add_marker(pytest.mark.filterwarnings(PY4J_UNCLOSED_SOCKET))


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """A small local session shared by every in-process test (JVM start-up is the slow part)."""
    from job_testkit import SPARK_CONF_DIR
    from pyspark.sql import SparkSession

    # Quiet Spark's own logging in this process the same way the subprocess
    # runs are quietened; must be set before the JVM starts.
    os.environ["SPARK_CONF_DIR"] = str(SPARK_CONF_DIR)
    session = (
        SparkSession.builder.master("local[1]")
        .appName("spark-jobs-tests")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
