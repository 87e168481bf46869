"""Test set-up shared by both Airflow lanes: an isolated AIRFLOW_HOME, no telemetry."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# Before anything imports airflow: a throw-away home, no examples, no dag-factory telemetry.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="dagen-airflow-home-"))
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__DAG_FACTORY__ENABLE_TELEMETRY"] = "False"
os.environ["DO_NOT_TRACK"] = "1"

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO
