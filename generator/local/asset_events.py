"""What a local DAG run's tasks told the scheduler about their outlets: asset (dataset) events, from Airflow's DB."""

from __future__ import annotations

from typing import Any


def asset_events(dag_run: Any) -> list[dict[str, Any]]:
    """The asset (dataset) events the run's tasks emitted: their outlets, as the scheduler sees them."""
    from airflow.utils.session import create_session
    from sqlalchemy import select

    try:
        from airflow.models.asset import AssetEvent as Event
        from airflow.models.asset import AssetModel as Model

        asset_id = Event.asset_id
    except ImportError:  # Airflow 2: datasets
        from airflow.models.dataset import DatasetEvent as Event  # type: ignore[no-redef]
        from airflow.models.dataset import DatasetModel as Model  # type: ignore[no-redef]

        asset_id = Event.dataset_id
    query = (
        select(Model.uri, Event.source_task_id)
        .join(Model, Model.id == asset_id)
        .where(Event.source_dag_id == dag_run.dag_id, Event.source_run_id == dag_run.run_id)
        .order_by(Event.id)
    )
    with create_session() as session:
        return [{"uri": uri, "task_id": task_id} for uri, task_id in session.execute(query)]
