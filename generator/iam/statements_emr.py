"""IAM statements of the EMR tasks: clusters (RunJobFlow, steps, terminate), notebooks, EMR Serverless, EMR on EKS.

EMR clusters are the pipeline's own: RunJobFlow is allowed only with the
``dagen:dag-id`` tag the compiler puts on every cluster, and every later call
(steps, describe, terminate, notebooks) only on clusters carrying that tag; a
long-running cluster a task names is granted by id.  A cluster's create and
terminate tasks find the clusters of their DAG run by tags
(:mod:`generator.runtime.emr_cluster`): ListClusters, which EMR authorises on
no resource (``"*"``, no condition key applies), then DescribeCluster and
TerminateJobFlows, on the DAG's own clusters only.
"""

from __future__ import annotations

from generator.core.model import OperatorTask
from generator.iam.builder import TAG_KEY, Arns, PolicyBuilder, role_arn, widen


def _existing_cluster(arns: Arns, cluster_id: str) -> str | None:
    """The ARN of a long-running cluster a task names, or None for the pipeline's own (an XCom of create_*).

    A running cluster was not created with the pipeline's tag, so it is granted by id (widened when templated).
    """
    if cluster_id.startswith("{{ ti.xcom_pull(task_ids='create_"):
        return None
    return arns.make("elasticmapreduce", f"cluster/{widen(cluster_id)}")


# The cluster pair's operators (generator.runtime.emr_cluster), by class name.
_CREATE = "RetrySafeEmrCreateJobFlowOperator"
_TERMINATE = "RetrySafeEmrTerminateJobFlowOperator"


def emr_cluster_tasks(builder: PolicyBuilder, task: OperatorTask, dag_id: str) -> None:
    arns = builder.arns
    own_clusters = ("StringEquals", f"elasticmapreduce:ResourceTag/{TAG_KEY}", dag_id)
    cluster = arns.make("elasticmapreduce", "cluster/*")
    name = task.operator.rsplit(".", 1)[1]
    if name in (_CREATE, _TERMINATE):
        # Both find the run's clusters by tags; EMR has no resource-level permission for ListClusters.
        builder.allow("EmrFindRunClusters", ["elasticmapreduce:ListClusters"], ["*"])
    if name == _CREATE:
        request = task.kwargs["job_flow_overrides"]
        builder.allow(
            "EmrCreateTaggedClusters",
            ["elasticmapreduce:RunJobFlow"],
            ["*"],
            ("StringEquals", f"elasticmapreduce:RequestTag/{TAG_KEY}", dag_id),
        )
        # DescribeCluster: adoption, the wait, the log link; TerminateJobFlows: the provider's clean-up of a
        # cluster whose wait failed (9.34) or whose task was killed.
        builder.allow(
            "EmrManageOwnClusters",
            ["elasticmapreduce:DescribeCluster", "elasticmapreduce:TerminateJobFlows"],
            [cluster],
            own_clusters,
        )
        builder.allow(
            "PassEmrServiceRole",
            ["iam:PassRole"],
            [role_arn(arns, request["ServiceRole"])],
            ("StringEquals", "iam:PassedToService", "elasticmapreduce.amazonaws.com"),
        )
        builder.allow(
            "PassEmrInstanceRole",
            ["iam:PassRole"],
            [role_arn(arns, request["JobFlowRole"])],
            ("StringEquals", "iam:PassedToService", "ec2.amazonaws.com"),
        )
    if name == "EmrAddStepsOperator":
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
        if "execution_role_arn" in task.kwargs:  # an EMR runtime role: passed with the step
            builder.allow(
                "PassEmrStepRuntimeRoles",
                ["iam:PassRole"],
                [role_arn(arns, task.kwargs["execution_role_arn"])],
                ("StringEquals", "iam:PassedToService", "elasticmapreduce.amazonaws.com"),
            )
    elif name == _TERMINATE:
        builder.allow(
            "EmrManageOwnClusters",
            ["elasticmapreduce:DescribeCluster", "elasticmapreduce:TerminateJobFlows"],
            [cluster],
            own_clusters,
        )


def notebook_tasks(builder: PolicyBuilder, task: OperatorTask, dag_id: str) -> None:
    """One task starts the execution and waits for it (generator.runtime.emr_notebook), finding the executions
    of its run's earlier tries by their tags: ListNotebookExecutions, then DescribeNotebookExecution."""
    arns = builder.arns
    # StartNotebookExecution is authorised on the editor and on the cluster: one statement each,
    # because only the cluster carries the pipeline's tag.
    existing = _existing_cluster(arns, task.kwargs["cluster_id"])
    if existing:
        builder.allow("EmrStartNotebooksOnExistingClusters", ["elasticmapreduce:StartNotebookExecution"], [existing])
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
        [role_arn(arns, task.kwargs["service_role"])],
        ("StringEquals", "iam:PassedToService", "elasticmapreduce.amazonaws.com"),
    )
    # Execution ids are made by EMR at run time: any notebook execution of the account.
    builder.allow(
        "EmrWatchNotebookExecutions",
        ["elasticmapreduce:DescribeNotebookExecution"],
        [arns.make("elasticmapreduce", "notebook-execution/*")],
    )
    # ListNotebookExecutions has no resource-level permission: EMR authorises it on "*" only.
    builder.allow("EmrFindNotebookExecutions", ["elasticmapreduce:ListNotebookExecutions"], ["*"])


def emr_serverless_tasks(builder: PolicyBuilder, task: OperatorTask) -> None:
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
        [role_arn(arns, kwargs["execution_role_arn"])],
        ("StringEquals", "iam:PassedToService", "emr-serverless.amazonaws.com"),
    )


def emr_eks_tasks(builder: PolicyBuilder, task: OperatorTask) -> None:
    """EMR on EKS assumes the execution role through the namespace's service account: no PassRole, but
    StartJobRun is limited to the roles the specs name."""
    arns, kwargs = builder.arns, task.kwargs
    cluster = f"/virtualclusters/{widen(kwargs['virtual_cluster_id'])}"
    builder.allow(
        "EmrEksStartJobRuns",
        ["emr-containers:StartJobRun"],
        [arns.make("emr-containers", cluster)],
        ("ArnLike", "emr-containers:ExecutionRoleArn", role_arn(arns, kwargs["execution_role_arn"])),
    )
    builder.allow(
        "EmrEksWatchJobRuns",
        ["emr-containers:CancelJobRun", "emr-containers:DescribeJobRun"],
        [arns.make("emr-containers", f"{cluster}/jobruns/*")],
    )
