"""A missed SLA reaches the spec's targets through Airflow's own machinery, in each lane (see tests/sla_miss.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from generator.local.airflow_home import cached_airflow_db

FEATURES = Path(__file__).parent / "specs_features"
TASK_IDS = (
    "prepare.clean",
    "prepare.enrich",
    "prepare.notebook",
    "publish.curate",
)


def test_a_late_run_is_reported_to_sns_and_the_callback(repo: Path, tmp_path: Path, sns_inbox) -> None:
    connection, receive = sns_inbox
    dags = tmp_path / "dags"
    dags.mkdir()
    shutil.copy(repo / "dags" / "pipelines_loader.py", dags)
    shutil.copytree(FEATURES, dags / "pipelines")
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(cached_airflow_db(), home / "airflow.db")
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_CONN_AWS_DEFAULT": connection,
        "DAGEN_CACHE": "0",
        "PYTHONPATH": os.pathsep.join([str(repo), str(dags / "pipelines")]),
        "PYTHONWARNINGS": "ignore",
    }
    done = subprocess.run(  # noqa: S603 - this Python, fixed arguments
        [sys.executable, "-m", "tests.sla_miss", str(dags), "curation_producer"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["received"] == [["chase", "curation_producer"]], done.stderr[-3000:]
    (message,) = receive()
    assert message["Subject"] == "curation_producer is late"
    lines = message["Message"].splitlines()
    assert lines[:2] == ["DAG curation_producer: missed its SLA", "A run should finish within 3h of its logical date."]
    import airflow

    if int(airflow.__version__.split(".")[0]) >= 3:
        # the run's logical date 2024-01-02 plus 3h; the trigger ran to success
        assert result["missed"] == ["2024-01-02T03:00:00+00:00"]
        assert result["callback_states"] == ["running", "success"]
        assert lines[2:] == ["Run: scheduled__2024-01-02T00:00:00+00:00 (deadline 2024-01-02 03:00:00+00:00)"]
    else:
        # The last success was two days ago: yesterday's and today's logical dates are due, each missed once it
        # is 3h past (Airflow 2 counts from the logical date, the start of the data interval).
        now = datetime.now(timezone.utc)
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        due = [day for day in (today - timedelta(days=1), today) if day + timedelta(hours=3) < now]
        assert result["missed"] == [day.isoformat() for day in due]
        assert lines[2] == "Late tasks:"
        late = {(task, day.isoformat()) for task in TASK_IDS for day in due}
        assert {tuple(line.split(" on ")) for line in lines[3:]} == late
