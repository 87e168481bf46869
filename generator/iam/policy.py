"""Least-privilege IAM for the MWAA execution role, derived from the compiled pipelines.

Each operator a pipeline compiles to needs a known set of API calls (what the
provider's operator, hook, waiter and trigger call); resources are as narrow as
the specs allow:

* EMR clusters are the pipeline's own: RunJobFlow is allowed only with the
  ``dagen:dag-id`` tag the compiler puts on every cluster, and every later call
  (steps, describe, terminate, notebooks) only on clusters carrying that tag;
* state machines, Glue jobs and crawlers, EMR Studio editors by name;
* ``iam:PassRole`` only on the roles the specs name, only to the service that
  uses them.

A value that is a Jinja template is only known at run time, so it is widened:
each template becomes ``*`` inside its ARN segment (a whole templated state
machine ARN becomes every state machine of the account and region).  Region
and account are ``*`` unless given (``--region``, ``--account-id``); the
CloudFormation form uses the stack's own region, account and partition.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from generator.core.model import LoweredPipeline, OperatorTask

TAG_KEY = "dagen:dag-id"
_TEMPLATE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)


def widen(value: str) -> str:
    """A runtime-templated value as an IAM wildcard pattern."""
    return _TEMPLATE.sub("*", value)


@dataclass
class Arns:
    """ARN builder for one target (concrete values, or CloudFormation pseudo parameters)."""

    partition: str = "aws"
    region: str = "*"
    account: str = "*"

    def make(self, service: str, resource: str, *, regional: bool = True) -> str:
        region = self.region if regional else ""
        return f"arn:{self.partition}:{service}:{region}:{self.account}:{resource}"


@dataclass(frozen=True)
class _Entry:
    sid: str
    action: str
    resource: str
    condition: tuple[str, str, str] | None  # (operator, key, value)


class PolicyBuilder:
    """Collects what each task needs, then folds it into few statements with unique Sids."""

    def __init__(self, arns: Arns) -> None:
        self.arns = arns
        self.entries: set[_Entry] = set()

    def allow(
        self,
        sid: str,
        actions: Iterable[str],
        resources: Iterable[str],
        condition: tuple[str, str, str] | None = None,
    ) -> None:
        resources = tuple(resources)
        self.entries.update(_Entry(sid, action, resource, condition) for action in actions for resource in resources)

    def document(self) -> dict[str, Any]:
        # action -> (resources, condition values), per Sid and condition key
        by_action: dict[tuple[str, str | None, str | None, str], tuple[set[str], set[str]]] = {}
        for entry in self.entries:
            operator, key, value = entry.condition or (None, None, None)
            resources, values = by_action.setdefault((entry.sid, operator, key, entry.action), (set(), set()))
            resources.add(entry.resource)
            if value is not None:
                values.add(value)
        # actions that share resources and condition values become one statement
        grouped: dict[tuple[str, str | None, str | None, frozenset[str], frozenset[str]], list[str]] = {}
        for (sid, operator, key, action), (resources, values) in by_action.items():
            grouped.setdefault((sid, operator, key, frozenset(resources), frozenset(values)), []).append(action)
        statements = []
        ordered = sorted(grouped.items(), key=lambda item: (item[0][0], sorted(item[1]), sorted(item[0][3])))
        per_sid = Counter(group[0] for group, _ in ordered)
        seen: Counter[str] = Counter()
        for (sid, operator, condition_key, resource_set, value_set), actions in ordered:
            seen[sid] += 1
            statement: dict[str, Any] = {
                "Sid": sid if per_sid[sid] == 1 else f"{sid}{seen[sid]}",  # Sids must be unique in a policy
                "Effect": "Allow",
                "Action": _one_or_list(sorted(actions)),
                "Resource": _one_or_list(sorted(resource_set)),
            }
            if operator and condition_key:
                statement["Condition"] = {operator: {condition_key: _one_or_list(sorted(value_set))}}
            statements.append(statement)
        return {"Version": "2012-10-17", "Statement": statements}


def _one_or_list(items: list[str]) -> str | list[str]:
    return items[0] if len(items) == 1 else items


def _role_arn(arns: Arns, role: str) -> str:
    if role.startswith("arn:"):
        return widen(role)
    return arns.make("iam", f"role/{widen(role)}", regional=False)


def _state_machine_name(arn: str) -> str:
    parts = widen(arn).split(":")
    return parts[6] if len(parts) == 7 and parts[5] == "stateMachine" else "*"


def _existing_cluster(arns: Arns, cluster_id: str) -> str | None:
    """The ARN of a long-running cluster a task names, or None for the pipeline's own (an XCom of create_*).

    A running cluster was not created with the pipeline's tag, so it is granted by id (widened when templated).
    """
    if cluster_id.startswith("{{ ti.xcom_pull(task_ids='create_"):
        return None
    return arns.make("elasticmapreduce", f"cluster/{widen(cluster_id)}")


def _emr_cluster_tasks(builder: PolicyBuilder, task: OperatorTask, dag_id: str) -> None:
    arns = builder.arns
    own_clusters = ("StringEquals", f"elasticmapreduce:ResourceTag/{TAG_KEY}", dag_id)
    cluster = arns.make("elasticmapreduce", "cluster/*")
    name = task.operator.rsplit(".", 1)[1]
    if name == "EmrCreateJobFlowOperator":
        request = task.kwargs["job_flow_overrides"]
        builder.allow(
            "EmrCreateTaggedClusters",
            ["elasticmapreduce:RunJobFlow"],
            ["*"],
            ("StringEquals", f"elasticmapreduce:RequestTag/{TAG_KEY}", dag_id),
        )
        builder.allow("EmrManageOwnClusters", ["elasticmapreduce:DescribeCluster"], [cluster], own_clusters)
        builder.allow(
            "PassEmrServiceRole",
            ["iam:PassRole"],
            [_role_arn(arns, request["ServiceRole"])],
            ("StringEquals", "iam:PassedToService", "elasticmapreduce.amazonaws.com"),
        )
        builder.allow(
            "PassEmrInstanceRole",
            ["iam:PassRole"],
            [_role_arn(arns, request["JobFlowRole"])],
            ("StringEquals", "iam:PassedToService", "ec2.amazonaws.com"),
        )
    elif name == "EmrAddStepsOperator":
        actions = [
            "elasticmapreduce:AddJobFlowSteps",
            "elasticmapreduce:DescribeCluster",
            "elasticmapreduce:DescribeStep",
        ]
        existing = _existing_cluster(arns, task.kwargs["job_flow_id"])
        if existing:
            builder.allow("EmrRunStepsOnExistingClusters", actions, [existing])
        else:
            builder.allow("EmrRunStepsOnOwnClusters", actions, [cluster], own_clusters)
    elif name == "EmrTerminateJobFlowOperator":
        builder.allow(
            "EmrManageOwnClusters",
            ["elasticmapreduce:DescribeCluster", "elasticmapreduce:TerminateJobFlows"],
            [cluster],
            own_clusters,
        )


def _notebook_tasks(builder: PolicyBuilder, task: OperatorTask, dag_id: str) -> None:
    arns = builder.arns
    name = task.operator.rsplit(".", 1)[1]
    if name == "EmrStartNotebookExecutionOperator":
        # StartNotebookExecution is authorised on the editor and on the cluster: one statement each,
        # because only the cluster carries the pipeline's tag.
        existing = _existing_cluster(arns, task.kwargs["cluster_id"])
        if existing:
            builder.allow(
                "EmrStartNotebooksOnExistingClusters", ["elasticmapreduce:StartNotebookExecution"], [existing]
            )
        else:
            builder.allow(
                "EmrStartNotebooksOnOwnClusters",
                ["elasticmapreduce:StartNotebookExecution"],
                [arns.make("elasticmapreduce", "cluster/*")],
                ("StringEquals", f"elasticmapreduce:ResourceTag/{TAG_KEY}", dag_id),
            )
        builder.allow(
            "EmrStartNotebooksFromEditors",
            ["elasticmapreduce:StartNotebookExecution"],
            [arns.make("elasticmapreduce", f"editor/{widen(task.kwargs['editor_id'])}")],
        )
        builder.allow(
            "PassEmrNotebookRole",
            ["iam:PassRole"],
            [_role_arn(arns, task.kwargs["service_role"])],
            ("StringEquals", "iam:PassedToService", "elasticmapreduce.amazonaws.com"),
        )
    elif name == "EmrNotebookExecutionSensor":
        # Execution ids are made by EMR at run time: any notebook execution of the account.
        builder.allow(
            "EmrWatchNotebookExecutions",
            ["elasticmapreduce:DescribeNotebookExecution"],
            [arns.make("elasticmapreduce", "notebook-execution/*")],
        )


def _step_function_tasks(builder: PolicyBuilder, task: OperatorTask, state_machines: dict[str, str]) -> None:
    arns = builder.arns
    name = task.operator.rsplit(".", 1)[1]
    if name == "StepFunctionStartExecutionOperator":
        machine = _state_machine_name(task.kwargs["state_machine_arn"])
        state_machines[task.task_id] = machine
        builder.allow(
            "StatesStartExecutions", ["states:StartExecution"], [arns.make("states", f"stateMachine:{machine}")]
        )
    elif name == "StepFunctionExecutionSensor":
        # the start task's Airflow id; a task group prefixes it with "group."
        start_id = task.kwargs["execution_arn"].split("task_ids='")[1].split("'")[0].rsplit(".", 1)[-1]
        machine = state_machines.get(start_id, "*")
        builder.allow(
            "StatesWatchExecutions", ["states:DescribeExecution"], [arns.make("states", f"execution:{machine}:*")]
        )


def _glue_tasks(builder: PolicyBuilder, task: OperatorTask) -> None:
    arns = builder.arns
    name = task.operator.rsplit(".", 1)[1]
    if name == "GlueJobOperator":
        builder.allow(
            "GlueRunJobs",
            ["glue:GetJob", "glue:GetJobRun", "glue:StartJobRun"],
            [arns.make("glue", f"job/{widen(task.kwargs['job_name'])}")],
        )
    elif name in ("GlueCrawlerRunOperator", "GlueCrawlerOperator"):
        crawler = task.kwargs.get("crawler_name") or task.kwargs["config"]["Name"]
        builder.allow(
            "GlueRunCrawlers",
            ["glue:GetCrawler", "glue:StartCrawler"],
            [arns.make("glue", f"crawler/{widen(crawler)}")],
        )
        # GetCrawlerMetrics has no resource type: it can only be granted on "*".
        builder.allow("GlueReadCrawlerMetrics", ["glue:GetCrawlerMetrics"], ["*"])


def _s3_arn(arns: Arns, path: str) -> str:
    return f"arn:{arns.partition}:s3:::{path}"  # S3 ARNs name neither region nor account


def _s3_location(uri: str) -> tuple[str, str]:
    """Bucket and key of an s3:// URI, widened; a URI templated from its start is any bucket and key."""
    if not uri.startswith("s3://"):
        return "*", "*"
    bucket, _, key = uri[len("s3://") :].partition("/")
    return widen(bucket) or "*", widen(key)


def _athena_tasks(builder: PolicyBuilder, task: OperatorTask) -> None:
    """AthenaOperator: the query calls, and what Athena does as the caller (catalog reads, result writes)."""
    arns, kwargs = builder.arns, task.kwargs
    workgroup = arns.make("athena", f"workgroup/{widen(kwargs.get('workgroup', 'primary'))}")
    builder.allow(
        "AthenaRunQueries",
        ["athena:GetQueryExecution", "athena:StartQueryExecution", "athena:StopQueryExecution"],
        [workgroup],
    )
    if kwargs.get("catalog", "AwsDataCatalog") == "AwsDataCatalog":  # other catalogs are not the account's Glue
        database = widen(kwargs["database"])
        builder.allow(
            "AthenaReadGlueCatalog",
            [
                "glue:BatchGetPartition",
                "glue:GetDatabase",
                "glue:GetPartition",
                "glue:GetPartitions",
                "glue:GetTable",
                "glue:GetTables",
            ],
            [
                arns.make("glue", "catalog"),
                arns.make("glue", f"database/{database}"),
                arns.make("glue", f"table/{database}/*"),
            ],
        )
    if "output_location" in kwargs:  # else the workgroup's location, which the spec does not name
        bucket, prefix = _s3_location(kwargs["output_location"])
        builder.allow(
            "AthenaResultBuckets",
            ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
            [_s3_arn(arns, bucket)],
        )
        builder.allow(
            "AthenaWriteResults",
            ["s3:AbortMultipartUpload", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:PutObject"],
            [_s3_arn(arns, f"{bucket}/{prefix}*")],
        )


def _s3_wait_tasks(builder: PolicyBuilder, task: OperatorTask) -> None:
    """S3KeySensor: a pattern lists the bucket; a key is a HeadObject, which needs ListBucket to see a 404."""
    arns, kwargs = builder.arns, task.kwargs
    if kwargs.get("bucket_name"):
        bucket, key = widen(kwargs["bucket_name"]), widen(kwargs["bucket_key"])
    else:
        bucket, key = _s3_location(kwargs["bucket_key"])
    builder.allow("S3ListWaitedBuckets", ["s3:ListBucket"], [_s3_arn(arns, bucket)])
    if not kwargs.get("wildcard_match"):
        builder.allow("S3ReadWaitedObjects", ["s3:GetObject"], [_s3_arn(arns, f"{bucket}/{key}")])


def _emr_serverless_tasks(builder: PolicyBuilder, task: OperatorTask) -> None:
    arns, kwargs = builder.arns, task.kwargs
    application = f"/applications/{widen(kwargs['application_id'])}"
    builder.allow(
        "EmrServerlessRunJobs",
        ["emr-serverless:GetApplication", "emr-serverless:StartApplication", "emr-serverless:StartJobRun"],
        [arns.make("emr-serverless", application)],
    )
    builder.allow(
        "EmrServerlessWatchJobRuns",
        ["emr-serverless:CancelJobRun", "emr-serverless:GetJobRun"],
        [arns.make("emr-serverless", f"{application}/jobruns/*")],
    )
    builder.allow(
        "PassEmrServerlessRole",
        ["iam:PassRole"],
        [_role_arn(arns, kwargs["execution_role_arn"])],
        ("StringEquals", "iam:PassedToService", "emr-serverless.amazonaws.com"),
    )


def _emr_eks_tasks(builder: PolicyBuilder, task: OperatorTask) -> None:
    """EMR on EKS assumes the execution role through the namespace's service account: no PassRole, but
    StartJobRun is limited to the roles the specs name."""
    arns, kwargs = builder.arns, task.kwargs
    cluster = f"/virtualclusters/{widen(kwargs['virtual_cluster_id'])}"
    builder.allow(
        "EmrEksStartJobRuns",
        ["emr-containers:StartJobRun"],
        [arns.make("emr-containers", cluster)],
        ("ArnLike", "emr-containers:ExecutionRoleArn", _role_arn(arns, kwargs["execution_role_arn"])),
    )
    builder.allow(
        "EmrEksWatchJobRuns",
        ["emr-containers:CancelJobRun", "emr-containers:DescribeJobRun"],
        [arns.make("emr-containers", f"{cluster}/jobruns/*")],
    )


def _lambda_function_arn(arns: Arns, function: str, qualifier: str | None) -> str:
    """The ARN InvokeFunction is authorised on: a name, an ARN or a partial ARN, with its version or alias."""
    function = widen(function)
    if function.startswith("arn:"):
        arn = function
    elif ":function:" in function:  # ACCOUNT:function:NAME
        account, _, name = function.partition(":function:")
        arn = f"arn:{arns.partition}:lambda:{arns.region}:{account}:function:{name}"
    else:
        arn = arns.make("lambda", f"function:{function}")
    qualified = arn.count(":") > 6  # arn:partition:lambda:region:account:function:name[:qualifier]
    return f"{arn}:{widen(qualifier)}" if qualifier and not qualified else arn


def _lambda_tasks(builder: PolicyBuilder, task: OperatorTask) -> None:
    kwargs = task.kwargs
    function = _lambda_function_arn(builder.arns, kwargs["function_name"], kwargs.get("qualifier"))
    builder.allow("LambdaInvokeFunctions", ["lambda:InvokeFunction"], [function])


def _declared_permissions(builder: PolicyBuilder, settings: dict[str, Any]) -> None:
    """What a spec says its own code (an `operator` or `python` task) calls; dagen cannot know it."""
    for permission in settings.get("iam", []):
        builder.allow(
            "DeclaredByTasks", permission["actions"], [widen(resource) for resource in permission["resources"]]
        )


# Operators of the task types whose permissions follow from their arguments alone, by class name.
_BY_CLASS = {
    "AthenaOperator": _athena_tasks,
    "S3KeySensor": _s3_wait_tasks,
    "EmrServerlessStartJobOperator": _emr_serverless_tasks,
    "EmrContainerOperator": _emr_eks_tasks,
    "IdempotentEmrContainerOperator": _emr_eks_tasks,
    "LambdaInvokeFunctionOperator": _lambda_tasks,
}
# Task types that run code dagen does not see: they get what their `iam` entries declare.
_DECLARING_TYPES = ("operator", "python")
# Operators that call no AWS API (the http_wait sensor).
_NO_AWS = ("HttpSensor",)


def pipeline_policy(pipelines: Iterable[LoweredPipeline], arns: Arns) -> dict[str, Any]:
    """One policy document covering every pipeline."""
    builder = PolicyBuilder(arns)
    for pipeline in pipelines:
        for targets in pipeline.spec.notifications.values():
            topics = [widen(target["sns"]) for target in targets if "sns" in target]
            if topics:  # the notifier publishes through the pipeline's connection, i.e. this role
                topics = [t if t.startswith("arn:") else arns.make("sns", "*") for t in topics]
                builder.allow("SnsPublishNotifications", ["sns:Publish"], topics)
        state_machines: dict[str, str] = {}
        declaring = {t.task_id: t for t in pipeline.spec.tasks if t.type in _DECLARING_TYPES}
        for task in pipeline.tasks:
            module = task.operator.rsplit(".", 2)[-2]
            class_name = task.operator.rsplit(".", 1)[-1]
            if task.task_id in declaring:
                _declared_permissions(builder, declaring[task.task_id].settings)
            elif class_name in _BY_CLASS:
                _BY_CLASS[class_name](builder, task)
            elif class_name in _NO_AWS:
                continue
            elif module == "emr" and "Notebook" in task.operator:
                _notebook_tasks(builder, task, pipeline.spec.dag_id)
            elif module == "emr":
                _emr_cluster_tasks(builder, task, pipeline.spec.dag_id)
            elif module == "step_function":
                _step_function_tasks(builder, task, state_machines)
            elif module in ("glue", "glue_crawler"):
                _glue_tasks(builder, task)
            else:  # a new task type must say what it needs before its pipelines get a policy
                raise ValueError(f"no IAM mapping for {task.operator}")
    return builder.document()


def cloudformation_template(document: dict[str, Any]) -> dict[str, Any]:
    """A stack that attaches the policy to an existing role (the MWAA execution role)."""
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "Least-privilege permissions of the dagen pipelines (generated by `dagen iam`).",
        "Parameters": {
            "ExecutionRoleName": {
                "Type": "String",
                "AllowedPattern": r"^[\w+=,.@-]{1,64}$",
                "ConstraintDescription": "an IAM role name (the ExecutionRoleName output of mwaa-execution-role.yaml)",
                "Description": "Name of the MWAA execution role to attach the pipelines' permissions to.",
            }
        },
        "Resources": {
            "PipelinesPolicy": {
                "Type": "AWS::IAM::ManagedPolicy",
                "Properties": {
                    "Description": "What the dagen pipelines call: EMR, Step Functions, Glue and PassRole.",
                    "Roles": [{"Ref": "ExecutionRoleName"}],
                    "PolicyDocument": _sub_pseudo_parameters(document),
                },
            }
        },
        "Outputs": {
            "PipelinesPolicyArn": {
                "Description": "ARN of the managed policy attached to the execution role.",
                "Value": {"Ref": "PipelinesPolicy"},
            }
        },
    }


def _sub_pseudo_parameters(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sub_pseudo_parameters(sub) for key, sub in value.items()}
    if isinstance(value, list):
        return [_sub_pseudo_parameters(sub) for sub in value]
    if isinstance(value, str) and "${AWS::" in value:
        return {"Fn::Sub": value}
    return value


CLOUDFORMATION_ARNS = Arns(partition="${AWS::Partition}", region="${AWS::Region}", account="${AWS::AccountId}")
