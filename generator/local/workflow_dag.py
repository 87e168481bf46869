"""The DAG of a ``--target mwaa-serverless`` local run as the run's child builds it, and its report order.

Apart from :mod:`generator.local.serverless_run` (which writes the run's DAGs folder and imports
:mod:`generator.local.run`), so that the run imports this without an import cycle.
"""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

from generator.core.mwaa_serverless import WAIT_SUFFIX

DAG_FILE = "dagen_local_run_dag.py"


def workflow_dag(dags_folder: str | Path, dag_id: str) -> Any:
    """The DAG the run's DAG file builds (what Airflow parses from the folder, built once more to run it)."""
    namespace = runpy.run_path(str(Path(dags_folder) / DAG_FILE), run_name="dagen_local_workflow")
    return namespace[dag_id]


def workflow_order(mwaa_order: list[str], task_ids: list[str]) -> list[str]:
    """The report's order of the workflow's tasks: the MWAA DAG's, each followed by its ``<task>_wait`` sensor,
    then the tasks the workflow adds (its final check, its SNS notifications), as the workflow lists them."""
    present = set(task_ids)
    order = [name for task_id in mwaa_order for name in (task_id, f"{task_id}{WAIT_SUFFIX}") if name in present]
    return [*order, *(task_id for task_id in task_ids if task_id not in order)]
