"""Lowering behaviour that the DAG shape alone does not show: names, JSON, concurrency, lanes."""

from __future__ import annotations

import json
from pathlib import Path

import jinja2
import pytest

from generator.compile.lower import lower, widest_parallel_set
from generator.compile.pipelines import process
from generator.core.provider_profile import LEGACY, MODERN


def lowered(repo: Path, name: str, profile=MODERN):
    result = process([repo / "pipelines" / f"{name}.yaml"], profile=profile, airflow_major=3, root=repo)[0]
    assert result.spec is not None, result.diagnostics
    return {task.task_id: task for task in lower(result.spec, profile).tasks}


def render(template: str, **context) -> str:
    return jinja2.Environment().from_string(template).render(**context)


def test_notebook_params_are_json_with_runtime_values(repo: Path) -> None:
    start = lowered(repo, "emr_notebook_best_sellers")["find_best_sellers"]
    rendered = render(
        start.kwargs["notebook_params"],
        params={
            "categories": ["Books", "Toys & Games"],
            "from_date": "2015-08-25",
            "to_date": "2015-08-31",
            "input_location": "s3://reviews/parquet/",
            "scripts_uri": "s3://code/spark_jobs",
        },
        var={"value": {"best_sellers_output_location": 's3://out/"quoted"/'}},
    )
    assert json.loads(rendered) == {
        "CATEGORIES": ["Books", "Toys & Games"],
        "FROM_DATE": "2015-08-25",
        "TO_DATE": "2015-08-31",
        "INPUT_LOCATION": "s3://reviews/parquet/",
        "OUTPUT_LOCATION": 's3://out/"quoted"/',
        "JOBS_LOCATION": "s3://code/spark_jobs",
    }


def test_step_function_input_is_json(repo: Path) -> None:
    start = lowered(repo, "movielens_emr_step_functions")["curate"]
    rendered = render(start.kwargs["state_machine_input"], params={"data_bucket": "b"}, run_id="manual__1")
    assert json.loads(rendered) == {"bucket": "b", "run_id": "manual__1"}
    assert start.kwargs["deferrable"] is True  # the triggerer waits, not a worker slot


@pytest.mark.parametrize(
    ("edges", "members", "width"),
    [
        ({}, ["a"], 1),
        ({"b": ["a"], "c": ["a"], "d": ["a"]}, ["a", "b", "c", "d"], 3),  # MovieLens: extract, then three
        ({"b": ["a"], "c": ["b"]}, ["a", "b", "c"], 1),  # a chain
        ({"c": ["a", "b"], "d": ["a", "b"]}, ["a", "b", "c", "d"], 2),
        ({"b": ["x"], "c": ["x"]}, ["b", "c"], 2),  # ordered only through a task off the cluster
        ({"b": ["a"], "x": ["b"], "c": ["x"]}, ["a", "b", "c"], 1),  # ordered through a task off the cluster
    ],
)
def test_widest_parallel_set(edges: dict, members: list, width: int) -> None:
    nodes = set(members) | set(edges) | {p for parents in edges.values() for p in parents}

    def ancestors(node: str) -> set[str]:
        found = set()
        for parent in edges.get(node, []):
            found |= {parent, *ancestors(parent)}
        return found

    assert widest_parallel_set(members, {node: ancestors(node) for node in nodes}) == width


def test_region_goes_to_operators_only_where_every_one_accepts_it(repo: Path, tmp_path: Path) -> None:
    spec = (
        (repo / "pipelines" / "salary_batch_etl.yaml")
        .read_text()
        .replace("max_active_runs: 1", "max_active_runs: 1\naws: {region: eu-west-1}")
    )
    folder = tmp_path / "pipelines"
    folder.mkdir()
    (folder / "salary.yaml").write_text(spec)
    for profile, expected in ((MODERN, {"eu-west-1"}), (LEGACY, {None})):
        result = process([folder], profile=profile, airflow_major=3)[0]
        tasks = lower(result.spec, profile).tasks
        assert {task.kwargs.get("region_name") for task in tasks} == expected


def test_cluster_request_of_the_salary_pipeline(repo: Path) -> None:
    create = lowered(repo, "salary_batch_etl")["create_etl"]
    request = create.kwargs["job_flow_overrides"]
    assert request["Instances"]["InstanceGroups"] == [
        {
            "Name": "Primary",
            "Market": "ON_DEMAND",
            "InstanceRole": "MASTER",
            "InstanceType": "m5.xlarge",
            "InstanceCount": 1,
        },
        {"Name": "Core", "Market": "SPOT", "InstanceRole": "CORE", "InstanceType": "m5.xlarge", "InstanceCount": 2},
    ]
    assert request["Instances"]["Ec2SubnetId"] == "{{ var.value.emr_subnet_id }}"  # from defaults.yaml
    assert "Ec2KeyName" not in request["Instances"]
    assert {tag["Key"]: tag["Value"] for tag in request["Tags"]} == {
        "dagen:dag-id": "salary_batch_etl",
        "dagen:cluster": "etl",
        "dagen:run-id": "{{ run_id }}",
        "cost-center": "analytics",
        "for-use-with-amazon-emr-managed-policies": "true",
    }
    step = lowered(repo, "salary_batch_etl")["average_salaries"].kwargs["steps"][0]
    assert step["HadoopJarStep"]["Args"][:3] == ["spark-submit", "--deploy-mode", "client"]
