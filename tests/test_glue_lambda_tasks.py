"""Glue crawlers, Glue jobs and Lambda functions a pipeline creates when they are missing (``create_if_missing``).

The exact operator arguments on both provider lines, the forms without the new keys unchanged, the DAG
this lane's Airflow builds, and real local runs in which the pipeline's own tasks create what they run
(the emulator makes nothing beforehand) and a retry adopts what its first try created.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from generator.compile.build import airflow_major, build_dag
from generator.compile.lower import lower
from generator.compile.pipelines import process
from generator.core.model import OperatorTask
from generator.core.provider_profile import LEGACY, MODERN, ProviderProfile, installed_profile
from tests.test_local_run import local_runs, states
from tests.test_task_types_more import aws, client, rendered, spy

__all__ = ["aws"]  # the moto server fixture of test_task_types_more

SPEC = "tests/specs/glue_lambda.yaml"
LOCAL = "tests/local_run/glue_lambda.yaml"
CRAWLER = "airflow.providers.amazon.aws.operators.glue_crawler.GlueCrawlerOperator"
RUN_CRAWLER = "airflow.providers.amazon.aws.operators.glue_crawler.GlueCrawlerRunOperator"
GLUE_JOB = "airflow.providers.amazon.aws.operators.glue.GlueJobOperator"
SNS = "airflow.providers.amazon.aws.operators.sns.SnsPublishOperator"
INVOKE = "airflow.providers.amazon.aws.operators.lambda_function.LambdaInvokeFunctionOperator"
CREATE_FUNCTION = "generator.runtime.lambda_function.CreateLambdaFunctionIfMissingOperator"
OWNED_CRAWLER_CONFIG = {
    "Name": "owned-crawler",
    "Role": "arn:aws:iam::123456789012:role/glue-crawler",
    "DatabaseName": "curated",
    "Targets": {
        "S3Targets": [
            {"Path": "s3://{{ params.data_bucket }}/curated/movies/"},
            {"Path": "s3://glue-data/curated/ratings/"},
        ]
    },
    "TablePrefix": "curated_",
}


def lowered(repo: Path, profile: ProviderProfile) -> dict[str, OperatorTask]:
    (result,) = process([repo / SPEC], profile=profile, airflow_major=3 if profile is MODERN else 2)
    assert result.spec is not None, result.diagnostics
    return {task.task_id: task for task in lower(result.spec, profile).tasks}


def conn(profile: ProviderProfile) -> dict[str, Any]:
    return {"aws_conn_id": "aws_data", "region_name": "eu-west-1"} if profile is MODERN else {"aws_conn_id": "aws_data"}


@pytest.mark.parametrize("profile", [MODERN, LEGACY], ids=["9.34", "9.0"])
def test_a_crawler_to_create_lowers_to_the_crawler_operator_with_its_definition(
    repo: Path, profile: ProviderProfile
) -> None:
    task = lowered(repo, profile)["crawl_owned"]
    assert task.operator == CRAWLER
    expected = {
        **conn(profile),
        "poll_interval": 30,
        "wait_for_completion": True,
        "deferrable": True,
        "config": OWNED_CRAWLER_CONFIG,
    }
    if profile is MODERN:  # a retry whose first crawl still runs waits for it
        expected["fail_on_already_running"] = False
    assert task.kwargs == expected


@pytest.mark.parametrize("profile", [MODERN, LEGACY], ids=["9.34", "9.0"])
def test_a_crawler_without_create_if_missing_is_lowered_as_before(repo: Path, profile: ProviderProfile) -> None:
    task = lowered(repo, profile)["crawl_existing"]
    common = {**conn(profile), "poll_interval": 30, "wait_for_completion": True, "deferrable": True}
    if profile is MODERN:
        assert (task.operator, task.kwargs) == (RUN_CRAWLER, {**common, "crawler_name": "existing-crawler"})
    else:
        assert (task.operator, task.kwargs) == (CRAWLER, {**common, "config": {"Name": "existing-crawler"}})


@pytest.mark.parametrize("profile", [MODERN, LEGACY], ids=["9.34", "9.0"])
def test_a_glue_job_to_create_gets_its_script_role_and_definition(repo: Path, profile: ProviderProfile) -> None:
    tasks = lowered(repo, profile)
    waiter = {"waiter_delay": 30, "waiter_max_attempts": 720} if profile is MODERN else {}
    run = {
        **conn(profile),
        "wait_for_completion": True,
        "deferrable": True,
        "verbose": False,
        "job_poll_interval": 30,
    }
    assert tasks["curate_owned"].operator == GLUE_JOB
    assert tasks["curate_owned"].kwargs == {
        **run,
        "job_name": "owned-job",
        "script_args": {"--run_date": "{{ ds }}"},
        "run_job_kwargs": {"Timeout": 360, "WorkerType": "G.1X", "NumberOfWorkers": 2},
        "script_location": "s3://glue-scripts/curate.py",
        "iam_role_arn": "arn:aws:iam::123456789012:role/glue-jobs",
        "create_job_kwargs": {
            "GlueVersion": "4.0",
            "WorkerType": "G.1X",
            "NumberOfWorkers": 2,
            "DefaultArguments": {"--enable-metrics": "true"},
        },
        **waiter,
    }
    # a role given by name: the hook looks its ARN up (iam:GetRole)
    assert tasks["curate_by_role_name"].kwargs == {
        **run,
        "job_name": "owned-{{ params.data_bucket }}",
        "script_args": {},
        "run_job_kwargs": {"Timeout": 360, "WorkerType": "G.2X", "NumberOfWorkers": 4},
        "script_location": "s3://glue-scripts/by_name.py",
        "iam_role_name": "glue-jobs-by-name",
        "create_job_kwargs": {"GlueVersion": "5.0", "WorkerType": "G.2X", "NumberOfWorkers": 4},
        **waiter,
    }


@pytest.mark.parametrize("profile", [MODERN, LEGACY], ids=["9.34", "9.0"])
def test_a_lambda_to_create_gets_a_create_function_task_before_the_invoke(repo: Path, profile: ProviderProfile) -> None:
    tasks = lowered(repo, profile)
    create = tasks["load_partitions_create_function"]
    assert (create.operator, create.kwargs) == (
        CREATE_FUNCTION,
        {
            **conn(profile),
            "function_name": "owned-loader",
            "runtime": "python3.12",
            "handler": "app.handler",
            "role": "arn:aws:iam::123456789012:role/loader",
            "code": {"S3Bucket": "lambda-code", "S3Key": "loader/{{ params.data_bucket }}.zip"},
            "wait_for_completion": True,
            "waiter_delay": 30,
            "waiter_max_attempts": 720,
            "deferrable": False,
            "timeout": 120,
            "config": {"MemorySize": 256},
        },
    )
    assert create.upstream == ("curate_owned",)
    invoke = tasks["load_partitions"]
    assert (invoke.operator, invoke.upstream) == (INVOKE, ("load_partitions_create_function",))
    assert invoke.kwargs == {
        **conn(profile),
        "function_name": "owned-loader",
        "invocation_type": "RequestResponse",
        "botocore_config": {"read_timeout": 960, "retries": {"total_max_attempts": 1}},
        "payload": '{"day": {{ (ds) | tojson }}}',
    }
    minimal = tasks["load_defaults_create_function"].kwargs
    assert "timeout" not in minimal and "config" not in minimal
    assert minimal["code"] == {"S3Bucket": "lambda-code", "S3Key": "minimal.zip"}


@pytest.mark.parametrize("profile", [MODERN, LEGACY], ids=["9.34", "9.0"])
def test_sns_publish_lowers_to_the_publish_operator(repo: Path, profile: ProviderProfile) -> None:
    tasks = lowered(repo, profile)
    assert (tasks["announce"].operator, tasks["announce"].kwargs) == (
        SNS,
        {
            **conn(profile),
            "target_arn": "arn:aws:sns:eu-west-1:123456789012:daily-loads",
            "message": "loaded {{ ds }}: {{ ti.xcom_pull(task_ids='load_partitions') }}",
            "subject": "Daily load",
            "message_attributes": {"pipeline": "glue_lambda", "rows": 42, "tags": ["a", "b"]},
        },
    )
    assert tasks["announce_anywhere"].kwargs == {
        **conn(profile),
        "target_arn": "{{ var.value.loads_topic_arn }}",
        "message": "done",
    }


@pytest.mark.parametrize("profile", [MODERN, LEGACY], ids=["9.34", "9.0"])
def test_an_emr_step_with_a_runtime_role_passes_it_to_add_steps(repo: Path, profile: ProviderProfile) -> None:
    task = lowered(repo, profile)["governed_step"]
    assert task.operator == "airflow.providers.amazon.aws.operators.emr.EmrAddStepsOperator"
    assert task.kwargs == {
        **conn(profile),
        "job_flow_id": "{{ ti.xcom_pull(task_ids='create_governed') }}",
        "steps": [
            {
                "Name": "governed_step",
                "ActionOnFailure": "CONTINUE",
                "HadoopJarStep": {
                    "Jar": "command-runner.jar",
                    "Args": ["spark-submit", "--deploy-mode", "cluster", "s3://glue-scripts/step.py"],
                },
            }
        ],
        "wait_for_completion": True,
        "deferrable": True,
        "waiter_delay": 30,
        "waiter_max_attempts": 720,
        "execution_role_arn": "arn:aws:iam::123456789012:role/emr-step-runtime",
    }


def test_the_dag_builds_with_operators_that_create_what_is_missing(repo: Path) -> None:
    (result,) = process([repo / SPEC], profile=installed_profile(), airflow_major=airflow_major())
    assert result.config is not None, result.diagnostics
    dag = build_dag(result.dag_id, result.config)
    crawler, job = dag.get_task("crawl_owned"), dag.get_task("curate_owned")
    assert type(crawler).__name__ == "GlueCrawlerOperator" and crawler.config == OWNED_CRAWLER_CONFIG
    assert type(job).__name__ == "GlueJobOperator"
    assert (job.script_location, job.iam_role_arn, job.iam_role_name) == (
        "s3://glue-scripts/curate.py",
        "arn:aws:iam::123456789012:role/glue-jobs",
        None,
    )
    assert job.create_job_kwargs["WorkerType"] == "G.1X" and job.update_config is False
    assert dag.get_task("curate_by_role_name").iam_role_name == "glue-jobs-by-name"
    assert sorted(dag.get_task("crawl_owned").downstream_task_ids) == ["curate_owned"]
    # the graph: curate_owned -> load_partitions_create_function -> load_partitions
    assert sorted(dag.get_task("curate_owned").downstream_task_ids) == ["load_partitions_create_function"]
    assert sorted(dag.get_task("load_partitions_create_function").downstream_task_ids) == ["load_partitions"]
    assert sorted(dag.get_task("load_defaults").upstream_task_ids) == ["load_defaults_create_function"]
    assert type(dag.get_task("load_partitions_create_function")).__name__ == "CreateLambdaFunctionIfMissingOperator"
    assert dag.get_task("governed_step").execution_role_arn == "arn:aws:iam::123456789012:role/emr-step-runtime"


def build(repo: Path) -> Any:
    (result,) = process([repo / SPEC], profile=installed_profile(), airflow_major=airflow_major())
    assert result.config is not None, result.diagnostics
    return build_dag(result.dag_id, result.config)


def test_a_retried_create_function_adopts_the_function_and_never_updates_it(repo: Path, aws: str) -> None:
    import io
    import json
    import zipfile

    iam, s3, lam = client(aws, "iam"), client(aws, "s3"), client(aws, "lambda")
    trust = {
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    }
    iam.create_role(RoleName="loader", AssumeRolePolicyDocument=json.dumps(trust))
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return event\n")
    s3.create_bucket(Bucket="lambda-code", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket="lambda-code", Key="minimal.zip", Body=package.getvalue())
    results, creates = [], []
    for try_number in (1, 2):  # each try builds the DAG again: a new operator, as a retry gets
        dag = build(repo)
        task, context = rendered(dag, "load_defaults_create_function", try_number=try_number, max_tries=2)
        creates.append(spy(task, "create_function"))
        updates = spy(task, "update_function_code") + spy(task, "update_function_configuration")
        results.append(task.execute(context))
        assert updates == []
    arn = lam.get_function(FunctionName="owned-minimal")["Configuration"]["FunctionArn"]
    assert results == [arn, arn]
    assert [len(calls) for calls in creates] == [1, 0]  # try 2 found the function try 1 created
    assert creates[0][0]["Code"] == {"S3Bucket": "lambda-code", "S3Key": "minimal.zip"}


# ----------------------------------------------------------------------------- local runs


@pytest.fixture(scope="module")
def runs(request: pytest.FixtureRequest) -> Any:
    with pytest.MonkeyPatch.context() as patch:
        yield local_runs(request, patch)


def test_the_pipeline_creates_its_crawler_and_job_then_runs_them(runs: Any) -> None:
    outcome = runs(LOCAL)
    assert outcome.exit_code == 0, outcome.output
    assert states(outcome) == {
        "crawl": "success",
        "curate": "success",
        "load_create_function": "success",
        "load": "success",
        "summarise": "success",
        "announce": "success",
    }
    assert outcome.report is not None
    # nothing the tasks create is made beforehand: only the Lambda code (and its role) and the topic it names
    assert outcome.report["named_resources"] == [
        "Lambda code s3://dagen-glue-owned/lambda/loader.zip (for load_create_function, which creates the function)",
        "SNS topic dagen-owned-loads (us-east-1)",
    ]
    seen = outcome.report["emulator"]
    assert [(c["crawler"], c["state"], c["origin"]) for c in seen["crawls"]] == [
        ("dagen-owned-crawler", "SUCCEEDED", "crawl")
    ]
    assert [(r["job"], r["state"], r["origin"]) for r in seen["job_runs"]] == [
        ("dagen-owned-job", "SUCCEEDED", "curate")
    ]
    assert [(i["function"], i["state"], i["origin"], i["payload"]) for i in seen["invocations"]] == [
        ("dagen-owned-loader", "SUCCEEDED", "load", {"day": outcome.report["logical_date"][:10]})
    ]
    # the message carries what the invoke returned (the emulated function answers with its event) and the
    # execution's output (XCom key `output`; the local state machine is one Pass state: output = input)
    day = outcome.report["logical_date"][:10]
    # (the invoke returns the response payload as text; the output is parsed JSON, rendered as a dict)
    assert [{key: value for key, value in m.items() if key != "id"} for m in seen["messages"]] == [
        {
            "topic": "arn:aws:sns:us-east-1:123456789012:dagen-owned-loads",
            "subject": "Daily load",
            "message": f"loaded: {{\"day\": \"{day}\"}}; summary: {{'day': '{day}', 'table': 'movies'}}",
            "origin": "announce",
        }
    ]


def test_a_retry_adopts_the_crawler_and_job_its_first_try_created(runs: Any) -> None:
    outcome = runs(LOCAL, "--flaky", "crawl", "--flaky", "curate")
    assert outcome.exit_code == 0, outcome.output
    assert outcome.report is not None
    assert {row["task_id"]: (row["state"], row["try_number"]) for row in outcome.report["tasks"]} == {
        "crawl": ("success", 2),
        "curate": ("success", 2),
        "load_create_function": ("success", 1),
        "load": ("success", 1),
        "summarise": ("success", 1),
        "announce": ("success", 1),
    }
    seen = outcome.report["emulator"]
    # the second try found what the first created (a second CreateCrawler/CreateJob would fail) and ran it again
    assert [(c["crawler"], c["state"]) for c in seen["crawls"]] == [("dagen-owned-crawler", "SUCCEEDED")] * 2
    assert [(r["job"], r["state"]) for r in seen["job_runs"]] == [("dagen-owned-job", "SUCCEEDED")] * 2
