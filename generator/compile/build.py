"""Phase 5, build: dag-factory configuration -> Airflow DAG, then the setup/teardown wiring.

dag-factory builds the DAG and its tasks from the configuration dict (never
from user YAML); the cluster lifecycle it cannot express is applied after:
each ``terminate_<cluster>`` becomes the teardown of its ``create_<cluster>``:
it runs even when work failed, and the run's state is decided by the work.
On Airflow 3 the ``sla`` Deadline Alert is set on the built DAG too.

A task process builds the same DAG without importing dag-factory (``direct``:
generator.compile.direct_build), which would cost it more than the build.
"""

from __future__ import annotations

from typing import Any

from generator.compile import direct_build
from generator.compile.constructed import materialise


def _dag_builder(dag_id: str, dag_config: dict[str, Any]) -> Any:
    """dag-factory's DagBuilder for a configuration that is already a private copy.

    DagBuilder deep-copies its input because dag-factory users pass shared dicts;
    ``materialise`` has just built a fresh one, so the copy would only cost time
    (a tenth of the whole parse at 1000 pipelines).
    """
    from dagfactory.dagbuilder import DagBuilder

    builder = DagBuilder.__new__(DagBuilder)
    builder.dag_name, builder.dag_config, builder.default_config, builder._yml_dag = dag_id, dag_config, {}, ""
    return builder


def build_dag(dag_id: str, config: dict[str, Any], *, direct: bool = False) -> Any:
    """The DAG of a configuration; ``direct``: without dag-factory where direct_build builds it the same."""
    dag_config = materialise(config)
    teardowns = dag_config.pop("dagen_teardowns", {})
    deadline = dag_config.pop("dagen_deadline", None)
    if direct and direct_build.supports(dag_config):
        dag = direct_build.build(dag_id, dag_config)
    else:
        dag = _dag_builder(dag_id, dag_config).build()["dag"]
    if deadline is not None:  # Airflow 3's sla (dag-factory does not pass `deadline` to the DAG)
        dag.deadline = [deadline]
    for teardown_id, setup_ids in teardowns.items():
        teardown = dag.get_task(teardown_id)
        # Not on_failure_fail_dagrun: that would make the teardown the run's only effective leaf, and a run
        # whose step failed would end "success" once the cluster was terminated.
        teardown.as_teardown(setups=[dag.get_task(setup_id) for setup_id in setup_ids])
    return dag


def airflow_major() -> int:
    import airflow

    return int(airflow.__version__.split(".")[0])
