"""The loader over the repository: exactly the seed DAGs, no import errors, exact task graphs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.airflow_compat import dagbag, graph, schedule_of

EXPECTED = Path(__file__).parent / "expected" / "dags"
SEEDS = sorted(path.stem for path in EXPECTED.glob("*.yaml"))


@pytest.fixture(scope="module")
def bag(repo: Path):
    return dagbag(repo / "dags")


def test_exactly_the_seed_dags_load(bag) -> None:
    assert bag.import_errors == {}
    assert (
        sorted(bag.dag_ids)
        == SEEDS
        == ["emr_notebook_best_sellers", "movielens_emr_step_functions", "salary_batch_etl"]
    )


@pytest.mark.parametrize("dag_id", SEEDS)
def test_task_graph(bag, dag_id: str) -> None:
    expected = yaml.safe_load((EXPECTED / f"{dag_id}.yaml").read_text(encoding="utf-8"))
    dag = bag.dags[dag_id]
    assert graph(dag) == expected["tasks"]
    assert "dagen:invalid-spec" not in dag.tags


def test_seed_schedules(bag) -> None:
    assert {dag_id: schedule_of(bag.dags[dag_id]) for dag_id in SEEDS} == {
        "emr_notebook_best_sellers": "0 * * * *",
        "movielens_emr_step_functions": None,
        "salary_batch_etl": "0 0 * * *",
    }
    assert not any(bag.dags[dag_id].catchup for dag_id in SEEDS)


def test_movielens_cluster_request(bag) -> None:
    """What EMR receives: three parallel steps allowed, the cluster stays up between steps, ids by XCom."""
    dag = bag.dags["movielens_emr_step_functions"]
    create = dag.get_task("create_preprocess")
    request = create.job_flow_overrides
    assert request["StepConcurrencyLevel"] == 3
    assert request["Instances"]["KeepJobFlowAliveWhenNoSteps"] is True
    assert request["AutoTerminationPolicy"] == {"IdleTimeout": 3600}
    assert create.emr_conn_id is None
    assert dag.max_active_tasks == 3
    step = dag.get_task("preprocess_tags")
    assert step.job_flow_id == "{{ ti.xcom_pull(task_ids='create_preprocess') }}"
    assert step.steps[0]["Name"] == "preprocess_tags"
    assert step.steps[0]["ActionOnFailure"] == "CONTINUE"
    assert step.steps[0]["HadoopJarStep"]["Args"] == [
        "spark-submit",
        "--deploy-mode",
        "cluster",
        "--py-files",
        "{{ params.scripts_uri }}/spark_job_common.py",
        "{{ params.scripts_uri }}/movielens_preprocess.py",
        "--dataset",
        "tags",
        "--input",
        "s3://{{ params.data_bucket }}/raw/tags.csv",
        "--output",
        "s3://{{ params.data_bucket }}/output/tags/",
    ]
    curate = dag.get_task("curate")  # one task starts the execution and waits for it in the triggerer
    assert curate.deferrable is True
