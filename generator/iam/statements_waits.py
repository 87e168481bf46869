"""IAM statements of the ``wait_until`` sensors: the one describe/get call each sensor makes, on what it reads.

A waited resource may be anyone's (not only the pipeline's own clusters), so
EMR calls are not limited by the ``dagen:dag-id`` tag: each goes to the ARN
built from the identifier, widened where it is a template (a whole templated
id is every resource of that type in the account and region).
"""

from __future__ import annotations

from collections.abc import Callable

from generator.core.model import OperatorTask
from generator.iam.builder import PolicyBuilder, widen
from generator.iam.statements_lambda import _lambda_function_arn


def _emr_cluster(builder: PolicyBuilder, task: OperatorTask) -> str:
    return builder.arns.make("elasticmapreduce", f"cluster/{widen(task.kwargs['job_flow_id'])}")


def _job_flow(builder: PolicyBuilder, task: OperatorTask) -> None:
    builder.allow("WaitForEmrClusters", ["elasticmapreduce:DescribeCluster"], [_emr_cluster(builder, task)])


def _step(builder: PolicyBuilder, task: OperatorTask) -> None:
    # DescribeCluster too: the sensor reads the cluster's log URI for its link
    actions = ["elasticmapreduce:DescribeCluster", "elasticmapreduce:DescribeStep"]
    builder.allow("WaitForEmrSteps", actions, [_emr_cluster(builder, task)])


def _notebook(builder: PolicyBuilder, task: OperatorTask) -> None:
    execution = builder.arns.make(
        "elasticmapreduce", f"notebook-execution/{widen(task.kwargs['notebook_execution_id'])}"
    )
    builder.allow("WaitForEmrNotebookExecutions", ["elasticmapreduce:DescribeNotebookExecution"], [execution])


def _serverless_application(builder: PolicyBuilder, task: OperatorTask) -> None:
    application = builder.arns.make("emr-serverless", f"/applications/{widen(task.kwargs['application_id'])}")
    builder.allow("WaitForEmrServerlessApplications", ["emr-serverless:GetApplication"], [application])


def _serverless_job(builder: PolicyBuilder, task: OperatorTask) -> None:
    kwargs = task.kwargs
    run = f"/applications/{widen(kwargs['application_id'])}/jobruns/{widen(kwargs['job_run_id'])}"
    builder.allow(
        "WaitForEmrServerlessJobRuns", ["emr-serverless:GetJobRun"], [builder.arns.make("emr-serverless", run)]
    )


def _execution(builder: PolicyBuilder, task: OperatorTask) -> None:
    arn = widen(task.kwargs["execution_arn"])
    if not arn.startswith("arn:"):  # templated as a whole: any execution of any state machine
        arn = builder.arns.make("states", "execution:*")
    builder.allow("WaitForStatesExecutions", ["states:DescribeExecution"], [arn])


def _crawler(builder: PolicyBuilder, task: OperatorTask) -> None:
    crawler = builder.arns.make("glue", f"crawler/{widen(task.kwargs['crawler_name'])}")
    builder.allow("WaitForGlueCrawlers", ["glue:GetCrawler"], [crawler])


def _glue_job(builder: PolicyBuilder, task: OperatorTask) -> None:
    job = builder.arns.make("glue", f"job/{widen(task.kwargs['job_name'])}")
    builder.allow("WaitForGlueJobRuns", ["glue:GetJobRun"], [job])


def _redshift(builder: PolicyBuilder, task: OperatorTask) -> None:
    cluster = builder.arns.make("redshift", f"cluster:{widen(task.kwargs['cluster_identifier'])}")
    builder.allow("WaitForRedshiftClusters", ["redshift:DescribeClusters"], [cluster])


def _lambda(builder: PolicyBuilder, task: OperatorTask) -> None:
    kwargs = task.kwargs
    function = _lambda_function_arn(builder.arns, kwargs["function_name"], kwargs.get("qualifier"))
    builder.allow("WaitForLambdaFunctions", ["lambda:GetFunction"], [function])


def _athena(builder: PolicyBuilder, task: OperatorTask) -> None:
    # GetQueryExecution is authorised on the query's workgroup, which the id does not tell
    workgroups = builder.arns.make("athena", "workgroup/*")
    builder.allow("WaitForAthenaQueries", ["athena:GetQueryExecution"], [workgroups])


WAIT_SENSORS: dict[str, Callable[[PolicyBuilder, OperatorTask], None]] = {
    "EmrJobFlowSensor": _job_flow,
    "EmrStepSensor": _step,
    "EmrNotebookExecutionSensor": _notebook,
    "EmrServerlessApplicationSensor": _serverless_application,
    "EmrServerlessJobSensor": _serverless_job,
    "StepFunctionExecutionSensor": _execution,
    "GlueCrawlerSensor": _crawler,
    "GlueJobSensor": _glue_job,
    "RedshiftClusterSensor": _redshift,
    "LambdaFunctionStateSensor": _lambda,
    "AthenaSensor": _athena,
}
