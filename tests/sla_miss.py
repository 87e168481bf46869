"""Let a scheduled run of a pipeline miss its SLA in a real Airflow metadata DB, as the scheduler would see it.

Run as ``python -m tests.sla_miss DAGS_FOLDER DAG_ID`` with ``AIRFLOW_HOME`` naming a migrated, throw-away
home whose ``dags_folder`` is DAGS_FOLDER.  Prints JSON: the DAG's SLA as Airflow holds it and what the
pipeline's callback targets received.

* Airflow 3: the DAG is serialized to the DB as the DAG processor does (its Deadline Alert included); a
  scheduled run is created for 2024-01-02, long past its deadline; the scheduler's own step marks the missed
  deadline (``Deadline.handle_miss``), which queues a trigger; the trigger is read back from the DB and run
  as the triggerer runs it, and its events are handed to the callback.
* Airflow 2: the DAG is synced to the DB, the scheduled run of two days ago succeeds, and the DAG
  processor's SLA check (``DagFileProcessor.manage_slas``) finds the later runs late and calls the DAG's
  ``sla_miss_callback``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime, timedelta, timezone
from typing import Any


def _airflow3(dags_folder: str, dag_id: str) -> dict[str, Any]:
    from airflow._shared.module_loading import import_string
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db
    from airflow.models.deadline import Deadline
    from airflow.models.serialized_dag import SerializedDagModel
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunTriggeredByType, DagRunType
    from sqlalchemy import select

    with create_session() as session:
        manager = DagBundlesManager()
        manager.sync_bundles_to_db(session=session)
    for bundle in manager.get_all_dag_bundles():
        bundle.initialize()
        bag = BundleDagBag(dag_folder=bundle.path, bundle_path=bundle.path, bundle_name=bundle.name)
        sync_bag_to_db(bag, bundle.name, bundle.version)
    logical = datetime(2024, 1, 2, tzinfo=timezone.utc)
    with create_session() as session:
        dag = SerializedDagModel.get_dag(dag_id, session=session)
        dag.create_dagrun(
            run_id="scheduled__2024-01-02T00:00:00+00:00",
            logical_date=logical,
            data_interval=(logical, logical),
            run_after=logical,
            run_type=DagRunType.SCHEDULED,
            state=DagRunState.QUEUED,
            triggered_by=DagRunTriggeredByType.TIMETABLE,
            session=session,
        )
    with create_session() as session:  # the scheduler's loop
        deadlines = session.scalars(
            select(Deadline).where(Deadline.deadline_time < datetime.now(timezone.utc)).where(~Deadline.missed)
        ).all()
        missed = [deadline.deadline_time.isoformat() for deadline in deadlines]
        for deadline in deadlines:
            deadline.handle_miss(session)
    events = []
    with create_session() as session:  # the triggerer's loop
        for row in session.scalars(select(Trigger)).all():
            trigger = import_string(row.classpath)(**row.kwargs)

            async def run(trigger: Any = trigger) -> list[Any]:
                return [event async for event in trigger.run()]

            for event in asyncio.run(run()):
                row.callback.handle_event(event, session)
                events.append(str(event.payload["state"]))
                if event.payload.get("body"):
                    print(event.payload["body"], file=sys.stderr)  # why a callback failed
    return {"missed": missed, "callback_states": events}


def _airflow2(dags_folder: str, dag_id: str) -> dict[str, Any]:
    from airflow.dag_processing.processor import DagFileProcessor
    from airflow.models.dagbag import DagBag
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, TaskInstanceState
    from airflow.utils.types import DagRunType

    bag = DagBag(dag_folder=dags_folder, include_examples=False)
    bag.sync_to_db()
    dag = bag.get_dag(dag_id)
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    last_success = today - timedelta(days=2)
    with create_session() as session:
        run = dag.create_dagrun(
            state=DagRunState.SUCCESS,
            execution_date=last_success,
            run_type=DagRunType.SCHEDULED,
            data_interval=dag.timetable.infer_manual_data_interval(run_after=last_success),
            session=session,
        )
        for ti in run.get_task_instances(session=session):
            ti.state = TaskInstanceState.SUCCESS
            session.merge(ti)
    with create_session() as session:
        DagFileProcessor.manage_slas(dags_folder, dag_id, session=session)
        from airflow.models.slamiss import SlaMiss

        missed = sorted({miss.execution_date.isoformat() for miss in session.query(SlaMiss).all()})
    return {"missed": missed, "callback_states": []}


def main(argv: list[str]) -> int:
    dags_folder, dag_id = argv
    import airflow

    result = (_airflow3 if int(airflow.__version__.split(".")[0]) >= 3 else _airflow2)(dags_folder, dag_id)
    from lib import alerts  # the pipeline's callback module (on sys.path as on MWAA)

    result["received"] = [list(item) for item in alerts.RECEIVED]
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
