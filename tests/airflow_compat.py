"""The few Airflow APIs that moved between 2.10 and 3.x, for the tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def dagbag(folder: Path) -> Any:
    try:
        from airflow.dag_processing.dagbag import DagBag  # Airflow 3
    except ImportError:
        from airflow.models.dagbag import DagBag  # Airflow 2

        return DagBag(dag_folder=str(folder), include_examples=False)
    return DagBag(dag_folder=str(folder))


def graph(dag: Any) -> dict[str, dict[str, Any]]:
    """A DAG's task graph as plain data: operator, upstream tasks, trigger rule, setup/teardown."""
    out = {}
    for task in sorted(dag.tasks, key=lambda t: t.task_id):
        role = "setup" if task.is_setup else "teardown" if task.is_teardown else "work"
        out[task.task_id] = {
            "operator": type(task).__name__,
            "upstream": sorted(task.upstream_task_ids),
            "trigger_rule": str(getattr(task.trigger_rule, "value", task.trigger_rule)),
            "role": role,
        }
    return out


def schedule_of(dag: Any) -> Any:
    """The schedule a DAG was given (``schedule`` on Airflow 3, ``schedule_interval`` on 2)."""
    return dag.schedule if hasattr(dag, "schedule") else dag.schedule_interval


def serialized(dag: Any) -> dict[str, Any]:
    """A DAG as Airflow stores it for the scheduler (what must be identical however the DAG was built)."""
    try:
        from airflow.serialization.serialized_objects import DagSerialization  # Airflow 3

        return DagSerialization.to_dict(dag)
    except ImportError:
        from airflow.serialization.serialized_objects import SerializedDAG  # Airflow 2

        return SerializedDAG.to_dict(dag)
