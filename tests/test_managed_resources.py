"""Managed resources of other kinds under ``clusters:``: an EMR Serverless application the pipeline owns.

The exact lowered graph and kwargs of its create/delete pair, the schema's dispatch on ``kind``, the DAG
Airflow builds, and real local runs on the emulator (green, and a failed job whose teardown still deletes the
application).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from generator.compile.build import airflow_major, build_dag
from generator.compile.lower import lower
from generator.compile.pipelines import process
from generator.core.model import OperatorTask
from generator.core.provider_profile import installed_profile
from generator.iam.builder import Arns, PolicyBuilder
from generator.iam.statements_resources import managed_resource_tasks
from generator.local.command import run_local
from generator.resources import redshift_cluster
from tests.airflow_compat import graph

SPEC = "tests/specs/managed_resources.yaml"
LOCAL = "tests/local_run/managed_resources.yaml"
LOCAL_EKS = "tests/local_run/managed_resources_eks.yaml"
XCOM = "{{ ti.xcom_pull(task_ids='create_spark') }}"


def result_of(repo: Path, spec: str) -> Any:
    (result,) = process([repo / spec], profile=installed_profile(), airflow_major=airflow_major())
    return result


def test_the_application_is_created_before_its_first_job_and_deleted_after_its_last(repo: Path) -> None:
    lowered = lower(result_of(repo, SPEC).spec, installed_profile())
    assert [(task.task_id, task.upstream) for task in lowered.tasks] == [
        ("create_spark", ()),
        ("transform", ("create_spark",)),
        ("report", ("transform",)),
        ("delete_spark", ("report",)),
        ("create_spark_eks", ("report",)),  # not paid for before its job can run
        ("eks_report", ("create_spark_eks",)),
        ("delete_spark_eks", ("eks_report",)),
    ]
    assert [(t.task_id, t.setups) for t in lowered.teardowns] == [
        ("delete_spark", ("create_spark",)),
        ("delete_spark_eks", ("create_spark_eks",)),
    ]
    tasks = {task.task_id: task for task in lowered.tasks}
    identity = {"dagen:dag-id": "managed_resources", "dagen:cluster": "spark", "dagen:run-id": "{{ run_id }}"}
    assert tasks["create_spark"].operator == (
        "generator.runtime.managed_resources.RetrySafeEmrServerlessCreateApplicationOperator"
    )
    assert tasks["create_spark"].kwargs == {
        "aws_conn_id": "aws_default",
        "release_label": "emr-7.5.0",
        "job_type": "SPARK",
        "config": {
            "name": "managed_resources-spark",
            "autoStartConfiguration": {"enabled": True},
            "autoStopConfiguration": {"enabled": True, "idleTimeoutMinutes": 10},
            "tags": {**identity, "team": "data-platform"},
        },
        "wait_for_completion": True,
        "deferrable": True,
        "waiter_delay": 1,
        "waiter_max_attempts": 1800,
        "doc_md": "Create EMR Serverless application `spark` and wait until it is CREATED.",
    }
    assert tasks["delete_spark"].operator == (
        "generator.runtime.managed_resources.RetrySafeEmrServerlessDeleteApplicationOperator"
    )
    assert tasks["delete_spark"].kwargs == {
        "aws_conn_id": "aws_default",
        "force_stop": True,
        "wait_for_completion": True,
        "deferrable": False,
        "waiter_delay": 1,
        "waiter_max_attempts": 1800,
        "doc_md": "Stop and delete EMR Serverless application `spark`; runs even when its tasks failed.",
        "application_id": XCOM,
        "retries": 3,
    }
    assert tasks["transform"].kwargs["application_id"] == XCOM
    assert tasks["report"].kwargs["application_id"] == XCOM
    assert tasks["create_spark_eks"].operator == (
        "generator.runtime.managed_resources.RetrySafeEmrEksCreateClusterOperator"
    )
    assert tasks["create_spark_eks"].kwargs == {
        "aws_conn_id": "aws_default",
        "virtual_cluster_name": "managed_resources-spark_eks",
        "eks_cluster_name": "analytics-eks",
        "eks_namespace": "spark-jobs",
        "tags": {**identity, "dagen:cluster": "spark_eks"},
        "doc_md": "Create EMR on EKS virtual cluster `spark_eks`.",
    }
    assert tasks["delete_spark_eks"].operator == (
        "generator.runtime.managed_resources.RetrySafeEmrEksDeleteVirtualClusterOperator"
    )
    assert tasks["delete_spark_eks"].kwargs == {
        "virtual_cluster_id": "{{ ti.xcom_pull(task_ids='create_spark_eks') }}",
        "aws_conn_id": "aws_default",
        "poll_interval": 30,
        "max_attempts": 60,
        "doc_md": "Delete EMR on EKS virtual cluster `spark_eks`; runs even when its jobs failed.",
        "retries": 3,
    }
    assert tasks["eks_report"].kwargs["virtual_cluster_id"] == "{{ ti.xcom_pull(task_ids='create_spark_eks') }}"
    assert tasks["eks_report"].kwargs["job_retry_max_attempts"] == 2


def test_an_existing_application_is_neither_created_nor_deleted(repo: Path) -> None:
    lowered = lower(result_of(repo, "tests/cases/valid_managed_resources/pipeline.yaml").spec, installed_profile())
    assert [task.task_id for task in lowered.tasks] == [
        "create_spark",
        "transform",
        "report",
        "delete_spark",
        "create_spark_eks",
        "on_eks",
        "delete_spark_eks",
    ]
    report = next(task for task in lowered.tasks if task.task_id == "report")
    assert report.kwargs["application_id"] == "{{ var.value.spark_application_id }}"
    create = next(task for task in lowered.tasks if task.task_id == "create_spark")
    assert create.kwargs["config"]["initialCapacity"] == {
        "DRIVER": {"workerCount": 1, "workerConfiguration": {"cpu": "2vCPU", "memory": "4GB"}},
        "EXECUTOR": {"workerCount": 2, "workerConfiguration": {"cpu": "4vCPU", "memory": "8GB", "disk": "20GB"}},
    }
    assert create.kwargs["config"]["maximumCapacity"] == {"cpu": "200vCPU", "memory": "800GB"}


def test_the_schema_takes_each_kinds_own_keys(tmp_path: Path) -> None:
    spec = tmp_path / "kinds.yaml"
    spec.write_text(
        "start_date: 2024-01-01\nschedule: null\nclusters:\n"
        "  spark: {kind: emr_serverless, release_label: emr-7.5.0, subnet_id: subnet-0a}\n"
        "  etl: {release_label: emr-7.5.0, instance_groups: {primary: {instance_type: m5.xlarge}}, type: SPARK}\n"
        "tasks:\n"
        "  a: {type: emr_serverless_job, cluster: spark, execution_role_arn: 'arn:aws:iam::123456789012:role/j',"
        " spark: {entry_point: 's3://bkt/a.py'}}\n"
        "  b: {type: emr_step, cluster: etl, spark: {script: 's3://bkt/b.py'}}\n"
    )
    (result,) = process([spec], profile=installed_profile(), airflow_major=airflow_major())
    # (the order of two schema errors follows jsonschema's iteration, not the file)
    assert sorted((d.code, d.line, d.column, d.message) for d in result.diagnostics) == [
        ("DG201", 4, 59, "unknown key 'subnet_id' in clusters.spark"),
        ("DG201", 5, 91, "unknown key 'type' in clusters.etl"),
    ]


def test_airflow_builds_the_pair_as_setup_and_teardown(repo: Path) -> None:
    result = result_of(repo, SPEC)
    dag = build_dag(result.dag_id, result.config)
    assert graph(dag) == {
        "create_spark": {
            "operator": "RetrySafeEmrServerlessCreateApplicationOperator",
            "upstream": [],
            "trigger_rule": "all_success",
            "role": "setup",
        },
        "delete_spark": {
            "operator": "RetrySafeEmrServerlessDeleteApplicationOperator",
            "upstream": ["create_spark", "report"],
            "trigger_rule": "all_done_setup_success",
            "role": "teardown",
        },
        "report": {
            "operator": "RetrySafeEmrServerlessStartJobOperator",
            "upstream": ["transform"],
            "trigger_rule": "all_success",
            "role": "work",
        },
        "transform": {
            "operator": "RetrySafeEmrServerlessStartJobOperator",
            "upstream": ["create_spark"],
            "trigger_rule": "all_success",
            "role": "work",
        },
        "create_spark_eks": {
            "operator": "RetrySafeEmrEksCreateClusterOperator",
            "upstream": ["report"],
            "trigger_rule": "all_success",
            "role": "setup",
        },
        "eks_report": {
            "operator": "RetrySafeEmrContainerOperator",
            "upstream": ["create_spark_eks"],
            "trigger_rule": "all_success",
            "role": "work",
        },
        "delete_spark_eks": {
            "operator": "RetrySafeEmrEksDeleteVirtualClusterOperator",
            "upstream": ["create_spark_eks", "eks_report"],
            "trigger_rule": "all_done_setup_success",
            "role": "teardown",
        },
    }


@pytest.fixture(scope="module")
def local(request: pytest.FixtureRequest) -> Any:
    cache = request.config.cache
    assert cache is not None
    done: dict[tuple[str, ...], Any] = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAGEN_CACHE_DIR", str(cache.mkdir("dagen-local-run")))
        patch.chdir(Path(__file__).resolve().parent.parent)

        def run(*fail: str, spec: str = LOCAL) -> Any:
            if (spec, *fail) not in done:
                done[(spec, *fail)] = run_local(spec, params=[], fail=list(fail), flaky=[], absent=[])
            return done[(spec, *fail)]

        yield run


def _states(outcome: Any) -> dict[str, str]:
    assert outcome.report is not None, outcome.output
    return {row["task_id"]: row["state"] for row in outcome.report["tasks"]}


def test_a_local_run_creates_the_application_runs_its_jobs_and_deletes_it(local: Any) -> None:
    outcome = local()
    assert outcome.exit_code == 0, outcome.output
    assert _states(outcome) == {
        "create_spark": "success",
        "transform": "success",
        "report": "success",
        "delete_spark": "success",
    }
    runs = outcome.report["emulator"]["serverless_job_runs"]
    assert [(run["entry_point"], run["state"], run["origin"]) for run in runs] == [
        ("s3://dagen-local/jobs/transform.py", "SUCCESS", "transform"),
        ("s3://dagen-local/jobs/report.py", "SUCCESS", "report"),
    ]
    assert len({run["on"] for run in runs}) == 1  # both on the application create_spark made (by XCom)


def test_a_failed_job_fails_the_run_and_the_application_is_still_deleted(local: Any) -> None:
    outcome = local("transform")
    assert outcome.exit_code == 1, outcome.output
    assert outcome.report["state"] == "failed"
    assert _states(outcome) == {
        "create_spark": "success",
        "transform": "failed",
        "report": "upstream_failed",
        "delete_spark": "success",
    }
    runs = outcome.report["emulator"]["serverless_job_runs"]
    assert [(run["state"], run["origin"]) for run in runs] == [("FAILED", "transform")]


def test_a_local_run_creates_the_virtual_cluster_runs_its_job_and_deletes_it(local: Any) -> None:
    outcome = local(spec=LOCAL_EKS)
    assert outcome.exit_code == 0, outcome.output
    assert _states(outcome) == {"create_spark_eks": "success", "transform": "success", "delete_spark_eks": "success"}
    runs = outcome.report["emulator"]["eks_job_runs"]
    assert [(run["entry_point"], run["state"], run["origin"]) for run in runs] == [
        ("s3://dagen-local/jobs/transform.py", "COMPLETED", "transform")
    ]


def test_a_failed_eks_job_fails_the_run_and_the_virtual_cluster_is_still_deleted(local: Any) -> None:
    outcome = local("transform", spec=LOCAL_EKS)
    assert outcome.exit_code == 1, outcome.output
    assert outcome.report["state"] == "failed"
    assert _states(outcome) == {"create_spark_eks": "success", "transform": "failed", "delete_spark_eks": "success"}
    runs = outcome.report["emulator"]["eks_job_runs"]
    assert [(run["state"], run["origin"]) for run in runs] == [("FAILED", "transform")]


# ----------------------------------------------------------------------------- Redshift clusters

IDENTITY = {"dagen:dag-id": "sales_daily", "dagen:cluster": "warehouse", "dagen:run-id": "{{ run_id }}"}


def test_a_redshift_cluster_has_a_deterministic_valid_identifier() -> None:
    assert redshift_cluster.cluster_identifier("sales_daily", "warehouse") == "sales-daily-warehouse"
    assert redshift_cluster.cluster_identifier("2024_Sales", "w__1") == "c-2024-sales-w-1"
    long = redshift_cluster.cluster_identifier("d" * 80, "warehouse")
    assert len(long) == 63 and long.startswith("d" * 54 + "-") and long == long.lower()


def test_the_redshift_pair_creates_with_a_managed_password_and_deletes_without_a_snapshot() -> None:
    create, delete = redshift_cluster.lifecycle(
        "warehouse",
        {"node_type": "ra3.xlplus", "number_of_nodes": 2, "tags": {"team": "bi"}, "final_snapshot": True},
        identity=IDENTITY,
        poll=30,
        aws={"aws_conn_id": "aws_default"},
        seconds=None,
    )
    assert create == {
        "aws_conn_id": "aws_default",
        "cluster_identifier": "sales-daily-warehouse",
        "node_type": "ra3.xlplus",
        "master_username": "awsuser",
        "manage_master_password": True,
        "db_name": "dev",
        "cluster_type": "multi-node",
        "number_of_nodes": 2,
        "publicly_accessible": False,
        "encrypted": True,
        "tags": [{"Key": key, "Value": value} for key, value in {**IDENTITY, "team": "bi"}.items()],
        "wait_for_completion": True,
        "deferrable": True,
        "poll_interval": 30,
        "max_attempt": 120,
        "doc_md": "Create Redshift cluster `warehouse` (sales-daily-warehouse) and wait until it is available.",
    }
    assert delete == {
        "aws_conn_id": "aws_default",
        "cluster_identifier": "sales-daily-warehouse",
        "skip_final_cluster_snapshot": False,
        "final_cluster_snapshot_identifier": "sales-daily-warehouse-final-{{ ts_nodash | lower }}",
        "wait_for_completion": True,
        "deferrable": False,
        "poll_interval": 30,
        "max_attempts": 120,
        "doc_md": "Delete Redshift cluster `warehouse` (sales-daily-warehouse); runs even when its tasks failed.",
    }


def test_no_task_type_runs_on_a_redshift_cluster_yet(tmp_path: Path) -> None:
    spec = tmp_path / "warehouse.yaml"
    spec.write_text(
        "start_date: 2024-01-01\nschedule: null\nclusters:\n"
        "  warehouse: {kind: redshift, node_type: ra3.xlplus}\n"
        "  shared: {kind: redshift, existing_cluster_id: analytics, node_type: ra3.xlplus}\n"
        "tasks:\n"
        "  load: {type: emr_step, cluster: warehouse, spark: {script: 's3://bkt/load.py'}}\n"
    )
    (result,) = process([spec], profile=installed_profile(), airflow_major=airflow_major())
    assert [(d.code, d.line, d.message, d.hint) for d in result.diagnostics] == [
        (
            "DG520",
            5,
            "cluster 'shared' is an existing Redshift cluster (existing_cluster_id) and cannot also set node_type",
            "remove the creation settings, or remove existing_cluster_id to have the pipeline create it",
        ),
        (
            "DG522",
            7,
            "task 'load' (emr_step) runs on cluster 'warehouse', which is a Redshift cluster (kind: redshift)",
            "emr_step tasks run on a cluster with `kind: emr`",
        ),
        ("DG305", 5, "cluster 'shared' is not used by any task", "remove it, or set `cluster: shared` on its tasks"),
    ]


@pytest.fixture
def moto_redshift(monkeypatch: pytest.MonkeyPatch) -> Any:
    from moto import mock_aws

    for name, value in {
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        import boto3

        yield boto3.client("redshift", region_name="eu-west-1")


def test_the_redshift_operators_adopt_on_retry_and_delete_what_is_there(moto_redshift: Any) -> None:
    from generator.runtime.managed_resources import (
        RetrySafeRedshiftCreateClusterOperator,
        RetrySafeRedshiftDeleteClusterOperator,
    )

    create_kwargs, delete_kwargs = redshift_cluster.lifecycle(
        "warehouse", {"node_type": "ra3.xlplus"}, identity=IDENTITY, poll=1, aws={"aws_conn_id": None}, seconds=None
    )
    create_kwargs = {**create_kwargs, "deferrable": False, "tags": [{"Key": "dagen:dag-id", "Value": "sales_daily"}]}
    for _ in range(2):  # the second try finds the cluster the first created, and adopts it
        create = RetrySafeRedshiftCreateClusterOperator(task_id="create_warehouse", **create_kwargs)
        assert create.execute({}) == "sales-daily-warehouse"
    (cluster,) = moto_redshift.describe_clusters()["Clusters"]
    assert (cluster["ClusterIdentifier"], cluster["ClusterStatus"], cluster["NodeType"]) == (
        "sales-daily-warehouse",
        "available",
        "ra3.xlplus",
    )
    assert {"Key": "dagen:dag-id", "Value": "sales_daily"} in cluster["Tags"]
    for _ in range(2):  # the second try finds nothing to delete, and succeeds
        RetrySafeRedshiftDeleteClusterOperator(task_id="delete_warehouse", **delete_kwargs).execute({})
    assert moto_redshift.describe_clusters()["Clusters"] == []


def test_the_redshift_pair_is_allowed_on_its_own_cluster_only() -> None:
    create, delete = redshift_cluster.lifecycle(
        "warehouse", {"node_type": "ra3.xlplus"}, identity=IDENTITY, poll=30, aws={}, seconds=None
    )
    builder = PolicyBuilder(Arns(region="eu-west-1", account="123456789012"))
    for task_id, operator, kwargs in (
        ("create_warehouse", redshift_cluster.CREATE_OPERATOR, create),
        ("delete_warehouse", redshift_cluster.DELETE_OPERATOR, delete),
    ):
        managed_resource_tasks(builder, OperatorTask(task_id=task_id, operator=operator, kwargs=kwargs), "sales_daily")
    cluster = "arn:aws:redshift:eu-west-1:123456789012:cluster:sales-daily-warehouse"
    assert builder.document()["Statement"] == [
        {
            "Sid": "RedshiftCreateOwnClusters",
            "Effect": "Allow",
            "Action": ["redshift:CreateCluster", "redshift:CreateTags", "redshift:DescribeClusters"],
            "Resource": cluster,
        },
        {
            "Sid": "RedshiftDeleteOwnClusters",
            "Effect": "Allow",
            "Action": ["redshift:DeleteCluster", "redshift:DescribeClusters"],
            "Resource": cluster,
        },
        {
            "Sid": "RedshiftManagedAdminSecrets",
            "Effect": "Allow",
            "Action": [
                "secretsmanager:CreateSecret",
                "secretsmanager:DescribeSecret",
                "secretsmanager:RotateSecret",
                "secretsmanager:TagResource",
            ],
            "Resource": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:redshift!*",
        },
    ]


# ----------------------------------------------------------------------------- EMR on EKS jobs: logs and retries


def test_an_eks_job_sends_its_logs_to_cloudwatch_and_s3_and_retries_its_driver(tmp_path: Path) -> None:
    spec = tmp_path / "eks.yaml"
    spec.write_text(
        "start_date: 2024-01-01\nschedule: null\ntasks:\n  etl:\n    type: emr_eks_job\n"
        "    virtual_cluster_id: a1b2c3d4e5f6g7h8i9j0k1l2m\n"
        "    execution_role_arn: arn:aws:iam::123456789012:role/emr-eks-job\n"
        "    release_label: emr-7.5.0-latest\n    spark: {entry_point: 's3://bkt/etl.py'}\n"
        "    monitoring:\n      cloudwatch: {log_group: /emr-eks/jobs, log_stream_prefix: etl}\n"
        "      s3_log_uri: s3://my-logs/eks/\n    job_retry_max_attempts: 3\n"
    )
    (result,) = process([spec], profile=installed_profile(), airflow_major=airflow_major())
    (task,) = lower(result.spec, installed_profile()).tasks
    assert task.kwargs["configuration_overrides"] == {
        "monitoringConfiguration": {
            "cloudWatchMonitoringConfiguration": {"logGroupName": "/emr-eks/jobs", "logStreamNamePrefix": "etl"},
            "s3MonitoringConfiguration": {"logUri": "s3://my-logs/eks/"},
        }
    }
    assert task.kwargs["job_retry_max_attempts"] == 3
    dag = build_dag(result.dag_id, result.config)
    operator = dag.get_task("etl")
    assert operator.job_retry_max_attempts == 3
    assert operator.configuration_overrides == task.kwargs["configuration_overrides"]


def test_the_preview_says_what_each_kind_creates(repo: Path) -> None:
    from datetime import datetime, timezone

    from generator.preview.model import preview_paths

    (preview,) = preview_paths([repo / SPEC], now=datetime(2024, 1, 1, tzinfo=timezone.utc)).previews
    shown = [cluster.to_json() for cluster in preview.clusters]
    common = {"existing_cluster_id": None, "instances": [], "step_concurrency": None, "log_uri": None}
    assert shown == [
        {
            "name": "spark",
            "create_task": "create_spark",
            "terminate_task": "delete_spark",
            "emr_name": "managed_resources-spark",
            "release": "emr-7.5.0",
            "applications": ["EMR Serverless SPARK application"],
            "idle_timeout_seconds": 600,
            **common,
        },
        {
            "name": "spark_eks",
            "create_task": "create_spark_eks",
            "terminate_task": "delete_spark_eks",
            "emr_name": "managed_resources-spark_eks",
            "release": None,
            "applications": ["EMR on EKS virtual cluster on analytics-eks, namespace spark-jobs"],
            "idle_timeout_seconds": None,
            **common,
        },
    ]


def test_the_delete_task_id_is_reserved(tmp_path: Path) -> None:
    spec = tmp_path / "reserved.yaml"
    spec.write_text(
        "start_date: 2024-01-01\nschedule: null\nclusters:\n"
        "  spark: {kind: emr_serverless, release_label: emr-7.5.0}\n"
        "tasks:\n"
        "  delete_spark: {type: emr_serverless_job, cluster: spark,"
        " execution_role_arn: 'arn:aws:iam::123456789012:role/j', spark: {entry_point: 's3://bkt/a.py'}}\n"
    )
    (result,) = process([spec], profile=installed_profile(), airflow_major=airflow_major())
    assert [(d.code, d.line, d.message) for d in result.diagnostics] == [
        ("DG304", 6, "task id 'delete_spark' collides with the generated task that deletes cluster 'spark'")
    ]
