"""IAM statements of the managed resources other than EMR clusters (``clusters:`` entries with a ``kind``).

An EMR Serverless application the pipeline creates carries the ``dagen:dag-id`` tag
(:mod:`generator.compile.lower`): CreateApplication, and the TagResource that tagging on create needs, are
allowed only with that tag in the request (``aws:RequestTag``), and every later call of the create and
delete tasks (GetApplication for the waits, StopApplication, DeleteApplication, ListJobRuns for the
cancellation of running jobs) only on applications carrying it (``aws:ResourceTag``).  The delete task
cancels the application's running jobs (CancelJobRun on its job runs, which carry no tag of their own).
The first application of an account creates EMR Serverless's service-linked role, so
``iam:CreateServiceLinkedRole`` is allowed for that service only.

A Redshift cluster the pipeline creates has a deterministic identifier
(:func:`generator.resources.redshift_cluster.cluster_identifier`): CreateCluster, CreateTags (tags on create),
DescribeClusters (the waits, adoption) and DeleteCluster are allowed on that cluster's ARN only, and
CreateClusterSnapshot on its final snapshots when it takes one.  Its admin password is managed by Redshift in
Secrets Manager, in a secret Redshift names ``redshift!...``: creating the cluster needs CreateSecret,
RotateSecret, TagResource and DescribeSecret on those secrets only.

An EMR on EKS virtual cluster the pipeline creates carries the ``dagen:dag-id`` tag: CreateVirtualCluster (and
TagResource) only with it in the request, DescribeVirtualCluster and DeleteVirtualCluster only on virtual
clusters carrying it; its first use in an account creates EMR on EKS's service-linked role.
"""

from __future__ import annotations

from generator.core.model import OperatorTask
from generator.iam.builder import TAG_KEY, PolicyBuilder

_CREATE = "RetrySafeEmrServerlessCreateApplicationOperator"
_DELETE = "RetrySafeEmrServerlessDeleteApplicationOperator"
_REDSHIFT_CREATE = "RetrySafeRedshiftCreateClusterOperator"
_REDSHIFT_DELETE = "RetrySafeRedshiftDeleteClusterOperator"


def managed_resource_tasks(builder: PolicyBuilder, task: OperatorTask, dag_id: str) -> None:
    """The create and delete tasks of every kind besides EMR clusters (generator.runtime.managed_resources)."""
    if "Redshift" in task.operator:
        redshift_cluster_tasks(builder, task)
    elif "EmrEks" in task.operator:
        emr_eks_virtual_cluster_tasks(builder, task, dag_id)
    else:
        emr_serverless_application_tasks(builder, task, dag_id)


def redshift_cluster_tasks(builder: PolicyBuilder, task: OperatorTask) -> None:
    arns, kwargs = builder.arns, task.kwargs
    identifier = kwargs["cluster_identifier"]
    cluster = arns.make("redshift", f"cluster:{identifier}")
    name = task.operator.rsplit(".", 1)[1]
    if name == _REDSHIFT_CREATE:
        builder.allow(
            "RedshiftCreateOwnClusters",
            ["redshift:CreateCluster", "redshift:CreateTags", "redshift:DescribeClusters"],
            [cluster],
        )
        builder.allow(
            "RedshiftManagedAdminSecrets",
            [
                "secretsmanager:CreateSecret",
                "secretsmanager:DescribeSecret",
                "secretsmanager:RotateSecret",
                "secretsmanager:TagResource",
            ],
            [arns.make("secretsmanager", "secret:redshift!*")],
        )
    if name == _REDSHIFT_DELETE:
        builder.allow("RedshiftDeleteOwnClusters", ["redshift:DeleteCluster", "redshift:DescribeClusters"], [cluster])
        if not kwargs.get("skip_final_cluster_snapshot", True):
            builder.allow(
                "RedshiftFinalSnapshots",
                ["redshift:CreateClusterSnapshot"],
                [arns.make("redshift", f"snapshot:{identifier}/*")],
            )


def emr_serverless_application_tasks(builder: PolicyBuilder, task: OperatorTask, dag_id: str) -> None:
    applications = builder.arns.make("emr-serverless", "/applications/*")
    own = ("StringEquals", f"aws:ResourceTag/{TAG_KEY}", dag_id)
    name = task.operator.rsplit(".", 1)[1]
    if name == _CREATE:
        builder.allow(
            "EmrServerlessCreateTaggedApplications",
            ["emr-serverless:CreateApplication", "emr-serverless:TagResource"],
            [applications],
            ("StringEquals", f"aws:RequestTag/{TAG_KEY}", dag_id),
        )
        builder.allow("EmrServerlessWatchOwnApplications", ["emr-serverless:GetApplication"], [applications], own)
        builder.allow(
            "EmrServerlessServiceLinkedRole",
            ["iam:CreateServiceLinkedRole"],
            [builder.arns.make("iam", "role/aws-service-role/ops.emr-serverless.amazonaws.com/*", regional=False)],
            ("StringEquals", "iam:AWSServiceName", "ops.emr-serverless.amazonaws.com"),
        )
    if name == _DELETE:
        builder.allow(
            "EmrServerlessDeleteOwnApplications",
            [
                "emr-serverless:DeleteApplication",
                "emr-serverless:GetApplication",
                "emr-serverless:ListJobRuns",
                "emr-serverless:StopApplication",
            ],
            [applications],
            own,
        )
        builder.allow(
            "EmrServerlessCancelOwnApplicationJobs",
            ["emr-serverless:CancelJobRun", "emr-serverless:GetJobRun"],
            [builder.arns.make("emr-serverless", "/applications/*/jobruns/*")],
        )


def emr_eks_virtual_cluster_tasks(builder: PolicyBuilder, task: OperatorTask, dag_id: str) -> None:
    clusters = builder.arns.make("emr-containers", "/virtualclusters/*")
    if task.operator.endswith("CreateClusterOperator"):
        builder.allow(
            "EmrEksCreateTaggedVirtualClusters",
            ["emr-containers:CreateVirtualCluster", "emr-containers:TagResource"],
            [clusters],
            ("StringEquals", f"aws:RequestTag/{TAG_KEY}", dag_id),
        )
        builder.allow(
            "EmrEksServiceLinkedRole",
            ["iam:CreateServiceLinkedRole"],
            [builder.arns.make("iam", "role/aws-service-role/emr-containers.amazonaws.com/*", regional=False)],
            ("StringEquals", "iam:AWSServiceName", "emr-containers.amazonaws.com"),
        )
    else:
        builder.allow(
            "EmrEksDeleteOwnVirtualClusters",
            ["emr-containers:DeleteVirtualCluster", "emr-containers:DescribeVirtualCluster"],
            [clusters],
            ("StringEquals", f"aws:ResourceTag/{TAG_KEY}", dag_id),
        )
