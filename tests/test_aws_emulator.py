"""The local AWS emulator on its own: the behaviours it adds to moto, over HTTP on 127.0.0.1 with boto3."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from botocore.exceptions import ClientError

from generator.aws_emulator import LocalAws, runnable_in_moto
from generator.local_resources import buckets_named, create_local_resources, variables_read

REPO = Path(__file__).resolve().parent.parent
ROLE = "arn:aws:iam::123456789012:role/test"


@pytest.fixture(scope="module")
def aws() -> Any:
    with LocalAws() as emulator:
        yield emulator


@pytest.fixture
def cluster(aws: LocalAws) -> str:
    aws.attribute_to("create_cluster")
    return str(
        aws.client("emr").run_job_flow(
            Name="test",
            ReleaseLabel="emr-7.5.0",
            Instances={
                "KeepJobFlowAliveWhenNoSteps": True,
                "InstanceGroups": [{"InstanceRole": "MASTER", "InstanceType": "m5.xlarge", "InstanceCount": 1}],
            },
            JobFlowRole="EMR_EC2_DefaultRole",
            ServiceRole="EMR_DefaultRole",
        )["JobFlowId"]
    )


def _add_step(aws: LocalAws, cluster: str, origin: str) -> str:
    aws.attribute_to(origin)
    step = {
        "Name": origin,
        "ActionOnFailure": "CONTINUE",
        "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["true"]},
    }
    return str(aws.client("emr").add_job_flow_steps(JobFlowId=cluster, Steps=[step])["StepIds"][0])


def test_server_listens_on_loopback_only(aws: LocalAws) -> None:
    assert urlparse(aws.endpoint_url).hostname == "127.0.0.1"


@pytest.mark.parametrize(
    ("fail", "states"),
    [(False, ["RUNNING", "COMPLETED", "COMPLETED"]), (True, ["RUNNING", "FAILED", "FAILED"])],
)
def test_emr_step_progresses_one_state_per_poll(aws: LocalAws, cluster: str, fail: bool, states: list[str]) -> None:
    origin = f"step_{'fails' if fail else 'passes'}"
    if fail:
        aws.fail(origin, "the cause")
    step_id = _add_step(aws, cluster, origin)
    emr = aws.client("emr")
    seen = [emr.describe_step(ClusterId=cluster, StepId=step_id)["Step"]["Status"] for _ in states]
    assert [status["State"] for status in seen] == states
    if fail:
        assert seen[-1]["FailureDetails"] == {"Reason": "dagen-emulated-failure", "Message": "the cause"}
        assert seen[-1]["StateChangeReason"] == {"Message": "the cause"}
    assert emr.describe_cluster(ClusterId=cluster)["Cluster"]["Status"]["State"] == "WAITING"


def test_list_steps_moves_every_listed_step(aws: LocalAws, cluster: str) -> None:
    first, second = _add_step(aws, cluster, "a"), _add_step(aws, cluster, "b")
    emr = aws.client("emr")
    rounds = [
        sorted(step["Status"]["State"] for step in emr.list_steps(ClusterId=cluster, StepIds=[first, second])["Steps"])
        for _ in range(2)
    ]
    assert rounds == [["RUNNING", "RUNNING"], ["COMPLETED", "COMPLETED"]]


def test_notebook_execution_runs_to_finished(aws: LocalAws, cluster: str) -> None:
    aws.register_editor("e-TESTEDITOR")
    aws.attribute_to("notebook")
    emr = aws.client("emr")
    execution_id = emr.start_notebook_execution(
        EditorId="e-TESTEDITOR",
        RelativePath="nb.ipynb",
        ExecutionEngine={"Id": cluster, "Type": "EMR"},
        ServiceRole="EMR_Notebooks_DefaultRole",
        NotebookParams=json.dumps({"X": [1, 2]}),
    )["NotebookExecutionId"]
    seen = [emr.describe_notebook_execution(NotebookExecutionId=execution_id)["NotebookExecution"] for _ in range(3)]
    assert [execution["Status"] for execution in seen] == ["RUNNING", "FINISHED", "FINISHED"]
    assert json.loads(seen[-1]["NotebookParams"]) == {"X": [1, 2]}
    assert seen[-1]["ExecutionEngine"] == {"Id": cluster, "Type": "EMR"}
    assert "EndTime" in seen[-1]


def test_notebook_execution_fails_with_the_cause(aws: LocalAws, cluster: str) -> None:
    aws.register_editor("e-TESTEDITOR")
    aws.fail("bad_notebook", "notebook cause")
    aws.attribute_to("bad_notebook")
    emr = aws.client("emr")
    execution_id = emr.start_notebook_execution(
        EditorId="e-TESTEDITOR", RelativePath="nb.ipynb", ExecutionEngine={"Id": cluster}, ServiceRole="r"
    )["NotebookExecutionId"]
    seen = [emr.describe_notebook_execution(NotebookExecutionId=execution_id)["NotebookExecution"] for _ in range(2)]
    assert [(execution["Status"], execution.get("LastStateChangeReason")) for execution in seen] == [
        ("RUNNING", None),
        ("FAILED", "notebook cause"),
    ]
    emr.stop_notebook_execution(NotebookExecutionId=execution_id)  # a finished execution stays as it is
    assert emr.describe_notebook_execution(NotebookExecutionId=execution_id)["NotebookExecution"]["Status"] == "FAILED"


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"EditorId": "e-UNKNOWN"}, "Editor 'e-UNKNOWN' does not exist."),
        ({"NotebookParams": "{not json"}, "NotebookParams is not valid JSON"),
        ({"NotebookParams": "[1]"}, "NotebookParams must be a JSON object"),
        ({"ExecutionEngine": {"Id": "j-NOSUCHCLUSTER"}}, "Cluster id 'j-NOSUCHCLUSTER' is not valid."),
    ],
)
def test_notebook_execution_requests_are_checked(
    aws: LocalAws, cluster: str, change: dict[str, Any], error: str
) -> None:
    aws.register_editor("e-TESTEDITOR")
    request = {
        "EditorId": "e-TESTEDITOR",
        "RelativePath": "nb.ipynb",
        "ExecutionEngine": {"Id": cluster},
        "ServiceRole": "r",
    }
    with pytest.raises(ClientError, match=error):
        aws.client("emr").start_notebook_execution(**{**request, **change})


def test_notebook_needs_a_live_cluster(aws: LocalAws, cluster: str) -> None:
    aws.register_editor("e-TESTEDITOR")
    emr = aws.client("emr")
    emr.terminate_job_flows(JobFlowIds=[cluster])
    with pytest.raises(ClientError, match=f"Cluster {cluster} is TERMINATED, not WAITING or RUNNING"):
        emr.start_notebook_execution(
            EditorId="e-TESTEDITOR", RelativePath="n", ExecutionEngine={"Id": cluster}, ServiceRole="r"
        )


def _state_machine(aws: LocalAws, name: str, definition: dict[str, Any]) -> str:
    return str(
        aws.client("stepfunctions").create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)[
            "stateMachineArn"
        ]
    )


SYNC_DEFINITION = {
    "StartAt": "Run",
    "States": {"Run": {"Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync", "End": True}},
}
PASS_DEFINITION = {"StartAt": "Shape", "States": {"Shape": {"Type": "Pass", "Result": {"done": True}, "End": True}}}


def test_definition_moto_cannot_run_is_completed_by_the_emulator(aws: LocalAws) -> None:
    arn = _state_machine(aws, "sync-machine", SYNC_DEFINITION)
    sfn = aws.client("stepfunctions")
    aws.attribute_to("curate")
    execution = sfn.start_execution(stateMachineArn=arn, name="run-1", input='{"bucket": "b"}')["executionArn"]
    seen = [sfn.describe_execution(executionArn=execution) for _ in range(2)]
    assert [item["status"] for item in seen] == ["SUCCEEDED", "SUCCEEDED"]
    assert json.loads(seen[0]["output"]) == {"bucket": "b"}


def test_definition_moto_can_run_really_runs(aws: LocalAws) -> None:
    import time

    arn = _state_machine(aws, "pass-machine", PASS_DEFINITION)
    sfn = aws.client("stepfunctions")
    execution = sfn.start_execution(stateMachineArn=arn, name="run-1", input="{}")["executionArn"]
    for _ in range(50):
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            break
        time.sleep(0.1)
    assert (described["status"], json.loads(described["output"])) == ("SUCCEEDED", {"done": True})


def test_failed_execution_carries_the_cause(aws: LocalAws) -> None:
    arn = _state_machine(aws, "failing-machine", PASS_DEFINITION)
    sfn = aws.client("stepfunctions")
    aws.fail("doomed", "execution cause")
    aws.attribute_to("doomed")
    execution = sfn.start_execution(stateMachineArn=arn, name="run-1")["executionArn"]
    described = sfn.describe_execution(executionArn=execution)
    assert (described["status"], described["error"], described["cause"]) == (
        "FAILED",
        "Dagen.EmulatedFailure",
        "execution cause",
    )


def test_lost_response_leaves_the_execution_started(aws: LocalAws) -> None:
    """Why the compiler names executions per try: the same name again is ExecutionAlreadyExists."""
    arn = _state_machine(aws, "lossy-machine", SYNC_DEFINITION)
    sfn = aws.client("stepfunctions")
    aws.lose_first_response("flaky")
    aws.attribute_to("flaky")
    with pytest.raises(ClientError, match="took effect but its response was lost"):
        sfn.start_execution(stateMachineArn=arn, name="try-1", input="{}")
    assert [item["name"] for item in sfn.list_executions(stateMachineArn=arn)["executions"]] == ["try-1"]
    with pytest.raises(sfn.exceptions.ExecutionAlreadyExists):
        sfn.start_execution(stateMachineArn=arn, name="try-1", input='{"other": 1}')
    assert sfn.start_execution(stateMachineArn=arn, name="try-2", input="{}")["executionArn"].endswith(":try-2")


def test_execution_names_are_checked(aws: LocalAws) -> None:
    arn = _state_machine(aws, "named-machine", SYNC_DEFINITION)
    with pytest.raises(ClientError, match="InvalidName"):
        aws.client("stepfunctions").start_execution(stateMachineArn=arn, name="bad name?")


def test_glue_job_run_fails_with_the_cause_and_crawler_finishes(aws: LocalAws) -> None:
    glue = aws.client("glue")
    glue.create_job(Name="job", Role=ROLE, Command={"Name": "glueetl", "ScriptLocation": "s3://b/job.py"})
    glue.create_crawler(Name="crawler", Role=ROLE, DatabaseName="db", Targets={"S3Targets": [{"Path": "s3://b/x/"}]})
    aws.fail("glue_task", "glue cause")
    aws.attribute_to("glue_task")
    run_id = glue.start_job_run(JobName="job", Arguments={"--date": "2024-01-01"})["JobRunId"]
    run = glue.get_job_run(JobName="job", RunId=run_id)["JobRun"]
    assert (run["JobRunState"], run["ErrorMessage"], run["Arguments"]) == (
        "FAILED",
        "glue cause",
        {"--date": "2024-01-01"},
    )
    aws.attribute_to("crawl_task")
    glue.start_crawler(Name="crawler")
    crawler = glue.get_crawler(Name="crawler")["Crawler"]
    assert (crawler["State"], crawler["LastCrawl"]["Status"]) == ("READY", "SUCCEEDED")
    (metrics,) = glue.get_crawler_metrics(CrawlerNameList=["crawler"])["CrawlerMetricsList"]
    assert (metrics["CrawlerName"], metrics["StillEstimating"], metrics["TimeLeftSeconds"]) == ("crawler", False, 0.0)


def test_snapshot_names_who_started_what(aws: LocalAws, cluster: str) -> None:
    step_id = _add_step(aws, cluster, "recorded_step")
    snapshot = aws.snapshot()
    (step,) = [item for item in snapshot["steps"] if item["id"] == step_id]
    assert (step["origin"], step["cluster"], step["state"], step["args"]) == (
        "recorded_step",
        cluster,
        "PENDING",
        ["true"],
    )
    assert any(item["id"] == cluster and item["origin"] == "create_cluster" for item in snapshot["clusters"])


def test_movielens_template_resources_are_created(aws: LocalAws) -> None:
    config = {"tasks": {"curate": {"state_machine_arn": "{{ var.value.movielens_state_machine_arn }}"}}}
    resources = create_local_resources(aws, config, {"data_bucket": "movielens-test-bucket"})
    arn = resources.variables["movielens_state_machine_arn"]
    assert arn == "arn:aws:states:us-east-1:123456789012:stateMachine:mwaa-movielens-curation"
    definition = aws.client("stepfunctions").describe_state_machine(stateMachineArn=arn)["definition"]
    # DefinitionSubstitutions were applied: the job and crawler names, the .sync resource.
    assert '"JobName": "mwaa-movielens-curate"' in definition
    assert "${" not in definition
    assert runnable_in_moto(definition) is False
    glue = aws.client("glue")
    assert glue.get_job(JobName="mwaa-movielens-curate")["Job"]["DefaultArguments"]["--input"] == (
        "s3://movielens-test-bucket/output/"
    )
    assert {"mwaa-movielens-most-popular-movies", "mwaa-movielens-top-rated-movies"} <= {
        crawler["Name"] for crawler in glue.get_crawlers()["Crawlers"]
    }
    assert "movielens-test-bucket" in resources.buckets
    assert resources.skipped == ["movielens.yaml:DataBucketPolicy (AWS::S3::BucketPolicy)"]


@pytest.mark.parametrize(
    ("config", "params", "variables", "buckets"),
    [
        (
            {"a": "{{ var.value.emr_subnet_id }}", "b": ["s3://{{ params.data }}/x", "s3://literal-bucket/k"]},
            {"data": "param-bucket", "uri": "s3://uri-bucket/prefix"},
            ["emr_subnet_id"],
            ["literal-bucket", "param-bucket", "uri-bucket"],
        ),
        ({"a": "{{ var.json.settings }} {{ var.value.x }} {{ params.y }}"}, {}, ["settings", "x"], []),
    ],
)
def test_what_a_pipeline_refers_to(
    config: dict[str, Any], params: dict[str, Any], variables: list[str], buckets: list[str]
) -> None:
    assert variables_read(config) == variables
    assert buckets_named(config, params) == buckets
