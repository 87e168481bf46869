"""The local AWS emulator on its own: the behaviours it adds to moto, over HTTP on 127.0.0.1 with boto3."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from botocore.exceptions import ClientError

from generator.local.emulator import LocalAws, runnable_in_moto
from generator.local.resources import buckets_named, create_local_resources, variables_read
from generator.local.sensor_objects import key_matching, provide_sensor_objects

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


# ----------------------------------------------------------------------------- EMR Serverless, EMR on EKS


def _serverless_run(aws: LocalAws, application: str, origin: str, token: str) -> str:
    aws.attribute_to(origin)
    return str(
        aws.client("emr-serverless").start_job_run(
            applicationId=application,
            clientToken=token,
            executionRoleArn=ROLE,
            jobDriver={"sparkSubmit": {"entryPoint": "s3://b/job.py"}},
        )["jobRunId"]
    )


@pytest.mark.parametrize(
    ("fail", "seen"),
    [
        (False, [("RUNNING", None), ("SUCCESS", None), ("SUCCESS", None)]),
        (True, [("RUNNING", None), ("FAILED", "serverless cause"), ("FAILED", "serverless cause")]),
    ],
)
def test_emr_serverless_job_run_progresses_one_state_per_poll(
    aws: LocalAws, fail: bool, seen: list[tuple[str, str | None]]
) -> None:
    client = aws.client("emr-serverless")
    application = client.create_application(name=f"app-{fail}", releaseLabel="emr-7.5.0", type="SPARK")
    origin = f"serverless_{'fails' if fail else 'passes'}"
    if fail:
        aws.fail(origin, "serverless cause")
    run_id = _serverless_run(aws, application["applicationId"], origin, token=origin)
    runs = [client.get_job_run(applicationId=application["applicationId"], jobRunId=run_id)["jobRun"] for _ in seen]
    assert [(run["state"], run.get("stateDetails")) for run in runs] == seen


def test_emr_serverless_start_is_idempotent_on_its_client_token(aws: LocalAws) -> None:
    """What dagen's retries rely on: the same token gives back the job run the first try started."""
    client = aws.client("emr-serverless")
    application = client.create_application(name="tokens", releaseLabel="emr-7.5.0", type="SPARK")["applicationId"]
    first = _serverless_run(aws, application, "a", token="token-1")
    assert _serverless_run(aws, application, "a", token="token-1") == first
    assert _serverless_run(aws, application, "a", token="token-2") != first
    assert [run["id"] for run in aws.snapshot()["serverless_job_runs"] if run["on"] == application][:1] == [first]


@pytest.mark.parametrize(
    ("fail", "seen"),
    [
        (False, [("RUNNING", None, None), ("COMPLETED", None, None)]),
        (True, [("RUNNING", None, None), ("FAILED", "eks cause", "USER_ERROR")]),
    ],
)
def test_emr_on_eks_job_run_progresses_and_is_idempotent(
    aws: LocalAws, fail: bool, seen: list[tuple[str, str | None, str | None]]
) -> None:
    client = aws.client("emr-containers")
    cluster = client.create_virtual_cluster(
        name=f"vc-{fail}",
        containerProvider={"id": "eks", "type": "EKS", "info": {"eksInfo": {"namespace": f"ns-{str(fail).lower()}"}}},
    )["id"]
    origin = f"eks_{'fails' if fail else 'passes'}"
    if fail:
        aws.fail(origin, "eks cause")
    aws.attribute_to(origin)
    request = {
        "virtualClusterId": cluster,
        "clientToken": origin,
        "executionRoleArn": ROLE,
        "releaseLabel": "emr-7.5.0-latest",
        "jobDriver": {"sparkSubmitJobDriver": {"entryPoint": "s3://b/job.py"}},
    }
    run_id = client.start_job_run(**request)["id"]
    assert client.start_job_run(**request)["id"] == run_id
    runs = [client.describe_job_run(id=run_id, virtualClusterId=cluster)["jobRun"] for _ in seen]
    assert [(run["state"], run.get("stateDetails"), run.get("failureReason")) for run in runs] == seen


# ----------------------------------------------------------------------------- Athena


@pytest.fixture(scope="module")
def athena(aws: LocalAws) -> Any:
    aws.client("s3").create_bucket(Bucket="athena-results")
    aws.client("athena").create_work_group(
        Name="enforced", Configuration={"ResultConfiguration": {"OutputLocation": "s3://athena-results/group/"}}
    )
    return aws.client("athena")


@pytest.mark.parametrize(
    ("origin", "request_", "state", "reason", "location"),
    [
        ("query_ok", {"ResultConfiguration": {"OutputLocation": "s3://athena-results/q/"}}, "SUCCEEDED", None, "q/"),
        ("query_in_group", {"WorkGroup": "enforced"}, "SUCCEEDED", None, "group/"),
        (
            # the workgroup enforces its own location: the request's is ignored, as Athena does
            "query_enforced",
            {"WorkGroup": "enforced", "ResultConfiguration": {"OutputLocation": "s3://elsewhere/x/"}},
            "SUCCEEDED",
            None,
            "group/",
        ),
        (
            "query_no_bucket",
            {"ResultConfiguration": {"OutputLocation": "s3://no-such-bucket/q/"}},
            "FAILED",
            "Unable to verify/create output bucket no-such-bucket",
            None,
        ),
        ("query_fails", {"WorkGroup": "enforced"}, "FAILED", "athena cause", "group/"),
    ],
)
def test_athena_query_state_reason_and_result_location(
    aws: LocalAws,
    athena: Any,
    origin: str,
    request_: dict[str, Any],
    state: str,
    reason: str | None,
    location: str | None,
) -> None:
    if origin == "query_fails":
        aws.fail(origin, "athena cause")
    aws.attribute_to(origin)
    query_id = athena.start_query_execution(QueryString="SELECT 1", **request_)["QueryExecutionId"]
    execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
    assert (execution["Status"]["State"], execution["Status"].get("StateChangeReason")) == (state, reason)
    if location:
        assert execution["ResultConfiguration"]["OutputLocation"] == f"s3://athena-results/{location}{query_id}.csv"


def test_athena_query_without_a_result_location_is_refused(athena: Any) -> None:
    with pytest.raises(ClientError, match="No output location provided"):
        athena.start_query_execution(QueryString="SELECT 1", WorkGroup="primary")


# ----------------------------------------------------------------------------- Lambda


@pytest.fixture(scope="module")
def function(aws: LocalAws) -> str:
    config = {"tasks": {"invoke": {"operator": LAMBDA, "function_name": "echo", "qualifier": "live"}}}
    resources = create_local_resources(aws, config, {})
    assert resources.named == ["Lambda function echo:live (for invoke; answers with its event)"]
    return "echo"


LAMBDA = "airflow.providers.amazon.aws.operators.lambda_function.LambdaInvokeFunctionOperator"


@pytest.mark.parametrize(
    ("origin", "invocation_type", "status", "function_error", "payload"),
    [
        ("invoke_ok", "RequestResponse", 200, None, {"day": "2024-01-01"}),
        (
            "invoke_fails",
            "RequestResponse",
            200,
            "Unhandled",
            {"errorMessage": "lambda cause", "errorType": "DagenEmulatedFailure"},
        ),
        # An asynchronous invoke is accepted; the function fails later, out of the caller's sight.
        ("invoke_event_fails", "Event", 202, None, {"day": "2024-01-01"}),
    ],
)
def test_lambda_invoke_answers_with_the_event_or_the_injected_error(
    aws: LocalAws,
    function: str,
    origin: str,
    invocation_type: str,
    status: int,
    function_error: str | None,
    payload: dict[str, Any],
) -> None:
    if "fails" in origin:
        aws.fail(origin, "lambda cause")
    aws.attribute_to(origin)
    answer = aws.client("lambda").invoke(
        FunctionName=function, InvocationType=invocation_type, Payload=json.dumps({"day": "2024-01-01"})
    )
    assert (answer["StatusCode"], answer.get("FunctionError")) == (status, function_error)
    assert json.loads(answer["Payload"].read()) == payload
    (recorded,) = [item for item in aws.snapshot()["invocations"] if item["origin"] == origin]
    assert (recorded["state"], recorded["payload"]) == (
        "FAILED" if "fails" in origin else "SUCCEEDED",
        {"day": "2024-01-01"},
    )


@pytest.mark.parametrize(
    ("name", "qualifier"),
    [
        ("echo", None),
        ("echo", "live"),
        ("echo:live", None),
        ("echo", "1"),
        ("123456789012:function:echo", None),  # moto alone answers HTTP 500
        ("arn:aws:lambda:us-east-1:123456789012:function:echo:live", None),
    ],
)
def test_lambda_invoke_takes_every_form_of_function_name(
    aws: LocalAws, function: str, name: str, qualifier: str | None
) -> None:
    kwargs = {"Qualifier": qualifier} if qualifier else {}
    assert aws.client("lambda").invoke(FunctionName=name, Payload=b"{}", **kwargs)["StatusCode"] == 200


@pytest.mark.parametrize(
    ("name", "qualifier"),
    [("no-such-function", None), ("echo", "nope"), ("echo:2", None)],  # moto alone ignores Qualifier
)
def test_lambda_invoke_of_an_unknown_function_or_qualifier_is_not_found(
    aws: LocalAws, function: str, name: str, qualifier: str | None
) -> None:
    kwargs = {"Qualifier": qualifier} if qualifier else {}
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        aws.client("lambda").invoke(FunctionName=name, Payload=b"{}", **kwargs)


# ----------------------------------------------------------------------------- resources tasks name


NAMED_CONFIG = {
    "tasks": {
        "etl": {
            "operator": "airflow.providers.amazon.aws.operators.emr.EmrServerlessStartJobOperator",
            "application_id": "00fkabc0123456789",
        },
        "eks": {
            "operator": "generator.runtime.emr_containers.RetrySafeEmrContainerOperator",
            "virtual_cluster_id": "{{ params.virtual_cluster }}",
        },
        "load": {"operator": LAMBDA, "function_name": "arn:aws:lambda:us-east-1:123456789012:function:loader:live"},
        "count": {"operator": "airflow.providers.amazon.aws.operators.athena.AthenaOperator", "workgroup": "analytics"},
        "step": {
            "operator": "airflow.providers.amazon.aws.operators.emr.EmrAddStepsOperator",
            "job_flow_id": "j-LONGRUNNING01",
        },
        "made_step": {
            # a cluster the pipeline creates: its id arrives by XCom, nothing is made for it
            "operator": "airflow.providers.amazon.aws.operators.emr.EmrAddStepsOperator",
            "job_flow_id": "{{ ti.xcom_pull(task_ids='create_etl') }}",
        },
        "announce": {
            "target_arn": "arn:aws:sns:eu-west-1:123456789012:events",
            "other": "arn:aws:sns:us-east-1:999999999999:theirs",
        },
    }
}


def test_resources_tasks_name_literally_or_by_a_param_are_made_with_those_ids(aws: LocalAws) -> None:
    resources = create_local_resources(aws, NAMED_CONFIG, {"virtual_cluster": "vc0123456789abcdefghijklm"})
    assert resources.named == [
        "EMR Serverless application 00fkabc0123456789 (for etl)",
        "EMR on EKS virtual cluster vc0123456789abcdefghijklm (for eks)",
        "Lambda function loader:live (for load; answers with its event)",
        "Athena workgroup analytics (for count)",
        "EMR cluster j-LONGRUNNING01, WAITING (for step)",
        "SNS topic events (eu-west-1)",
        "SNS topic theirs of account 999999999999 not made: the emulator is account 123456789012",
    ]
    application = aws.client("emr-serverless").get_application(applicationId="00fkabc0123456789")["application"]
    assert application["state"] == "STOPPED"  # as an idle application is: the operator starts it
    described = aws.client("emr-containers").describe_virtual_cluster(id="vc0123456789abcdefghijklm")
    assert described["virtualCluster"]["state"] == "RUNNING"
    alias = aws.client("lambda").get_alias(FunctionName="loader", Name="live")
    assert alias["FunctionVersion"] == "1"
    group = aws.client("athena").get_work_group(WorkGroup="analytics")["WorkGroup"]
    assert (
        group["Configuration"]["ResultConfiguration"]["OutputLocation"] == "s3://dagen-local-athena-results/analytics/"
    )
    cluster = aws.client("emr").describe_cluster(ClusterId="j-LONGRUNNING01")["Cluster"]
    assert cluster["Status"]["State"] == "WAITING"
    topics = aws.client("sns", "eu-west-1").list_topics()["Topics"]
    assert {"TopicArn": "arn:aws:sns:eu-west-1:123456789012:events"} in topics


@pytest.mark.parametrize(
    ("variable", "note", "check"),
    [
        ("alerts_topic_arn", "an SNS topic", "arn:aws:sns:us-east-1:123456789012:dagen-local-alerts-topic-arn"),
        ("spark_application_id", "a stopped EMR Serverless Spark application", None),
        ("eks_virtual_cluster_id", "an EMR on EKS virtual cluster", None),
        ("shared_emr_cluster_id", "a long-running EMR cluster, WAITING", "j-"),
        ("analytics_workgroup", "an Athena workgroup with a result location", "dagen-local-analytics-workgroup"),
        ("loader_function_name", "a Lambda function (answers with its event)", "dagen-local-loader-function-name"),
        ("job_role_arn", "an IAM role", "arn:aws:iam::123456789012:role/dagen-local-job-role-arn"),
    ],
)
def test_variables_get_a_local_resource_by_their_name(
    aws: LocalAws, variable: str, note: str, check: str | None
) -> None:
    resources = create_local_resources(aws, {"tasks": {"t": {"x": f"{{{{ var.value.{variable} }}}}"}}}, {})
    value = resources.variables[variable]
    assert resources.notes[variable] == note
    if check:
        assert value.startswith(check)


@pytest.mark.parametrize(
    ("pattern", "key"),
    [
        ("incoming/2024-01-01/*.csv", "incoming/2024-01-01/dagen-local.csv"),
        ("part-????.parquet", "part-xxxx.parquet"),
        ("day=[0-9]*/[!_]*", "day=0dagen-local/adagen-local"),
        ("exact/_SUCCESS", "exact/_SUCCESS"),
    ],
)
def test_a_key_is_made_for_each_wait_pattern(pattern: str, key: str) -> None:
    assert key_matching(pattern) == key


def test_the_object_a_sensor_waits_for_is_put_where_it_looks(aws: LocalAws) -> None:
    from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor

    sensor = S3KeySensor(task_id="landed", bucket_key="s3://landing-zone/in/2024-01-01/*.csv", wildcard_match=True)
    assert provide_sensor_objects(aws, sensor, "ingest.landed") == ["s3://landing-zone/in/2024-01-01/dagen-local.csv"]
    (recorded,) = [item for item in aws.snapshot()["objects"] if item["uri"].startswith("s3://landing-zone/")]
    assert (recorded["origin"], recorded["provided_for"]) == (None, "ingest.landed")


# ----------------------------------------------------------------------------- loopback HTTP and SMTP


HTTP_CHECKS = [
    ({"status": [202]}, 202, "ready"),
    ({"json": {"path": "export.state", "equals": "COMPLETED"}}, 200, '{"export": {"state": "COMPLETED"}}'),
    ({"json": {"path": "items.1", "equals": True}}, 200, '{"items": [null, true]}'),
    ({"body_contains": "DONE"}, 200, "DONE"),
    (
        {"json": {"path": "a", "equals": 1}, "body_contains": "ok"},
        200,
        '{"a": 1, "dagen_local": "ok"}',
    ),
]


@pytest.mark.parametrize(("check", "status", "body"), HTTP_CHECKS)
def test_http_answer_satisfies_the_check(check: dict[str, Any], status: int, body: str) -> None:
    from generator.local.endpoints import answer_for
    from generator.task_types.http_wait import response_ready

    answered_status, answered, _type, unmet = answer_for(check)
    assert (answered_status, answered.decode(), unmet) == (status, body, None)

    class Response:
        status_code = answered_status
        text = answered.decode()

        def json(self) -> Any:
            return json.loads(self.text)

    assert response_ready(Response(), check)


def test_http_endpoint_answers_the_sensor_route_and_404_elsewhere(aws: LocalAws) -> None:
    import urllib.error
    import urllib.request

    from generator.local.endpoints import LocalEndpoints
    from generator.task_types.http_wait import response_check_lambda

    check = {"status": [200], "json": {"path": "state", "equals": "READY"}}
    config = {
        "tasks": {
            "ready": {
                "operator": "airflow.providers.http.sensors.http.HttpSensor",
                "http_conn_id": "orders_api",
                "endpoint": "v1/exports/{{ ds }}/status",
                "response_check_lambda": response_check_lambda(check),
                "task_group_name": "ingest",
            }
        }
    }
    aws.attribute_to("ingest.ready")
    with LocalEndpoints(config, lambda: aws.origin) as endpoints:
        connection = json.loads(endpoints.environment()["AIRFLOW_CONN_ORDERS_API"])
        base = f"http://{connection['host']}:{connection['port']}"
        with urllib.request.urlopen(f"{base}/v1/exports/2024-01-01/status?x=1") as answer:  # noqa: S310 - loopback
            assert (answer.status, json.loads(answer.read())) == (200, {"state": "READY"})
        with pytest.raises(urllib.error.HTTPError, match="404"):
            urllib.request.urlopen(f"{base}/v2/other")  # noqa: S310 - loopback
        assert endpoints.snapshot()["http_requests"] == [
            {
                "conn_id": "orders_api",
                "method": "GET",
                "path": "/v1/exports/2024-01-01/status",
                "status": 200,
                "origin": "ingest.ready",
            },
            {"conn_id": "orders_api", "method": "GET", "path": "/v2/other", "status": 404, "origin": "ingest.ready"},
        ]


def test_smtp_sink_records_what_smtplib_sends() -> None:
    import smtplib
    from email.message import EmailMessage

    from generator.local.endpoints import SmtpSink

    sink = SmtpSink(lambda: "failing_task").start()
    try:
        message = EmailMessage()
        message["Subject"], message["From"], message["To"] = "it failed", "a@example.com", "b@example.com"
        message.set_content(".starts with a dot\nbody")
        with smtplib.SMTP("127.0.0.1", sink.port, timeout=5) as client:
            client.send_message(message)
    finally:
        sink.stop()
    assert sink.messages == [
        {"from": "a@example.com", "to": ["b@example.com"], "subject": "it failed", "origin": "failing_task"}
    ]
