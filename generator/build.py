"""Phase 5, build: dag-factory configuration -> Airflow DAG, then the setup/teardown wiring.

dag-factory builds the DAG and its tasks from the configuration dict (never
from user YAML); the cluster lifecycle it cannot express is applied after:
each ``terminate_<cluster>`` becomes the teardown of its ``create_<cluster>``,
failing the run if termination itself fails (a leaked cluster must be seen).
"""

from __future__ import annotations

from typing import Any

from generator.dagfactory_config import materialise


def build_dag(dag_id: str, config: dict[str, Any]) -> Any:
    from dagfactory.dagbuilder import DagBuilder

    dag_config = materialise(config)
    teardowns = dag_config.pop("dagen_teardowns", {})
    dag = DagBuilder(dag_name=dag_id, dag_config=dag_config, default_config={}, yml_dag="").build()["dag"]
    for teardown_id, setup_ids in teardowns.items():
        teardown = dag.get_task(teardown_id)
        teardown.as_teardown(setups=[dag.get_task(setup_id) for setup_id in setup_ids], on_failure_fail_dagrun=True)
    return dag


def airflow_major() -> int:
    import airflow

    return int(airflow.__version__.split(".")[0])
