"""``emr_eks_job``: run a Spark job on an EMR on EKS virtual cluster and wait for it.

Lowers to :class:`generator.runtime.emr_containers.RetrySafeEmrContainerOperator` (named by path:
compiling imports no provider), an ``EmrContainerOperator`` that waits deferrably and sends one
client token per try: a retry re-runs a failed job run and never starts a duplicate, by the rule of
:mod:`generator.task_types.emr_serverless_job` (:data:`RETRY`; StartJobRun is idempotent on the
token here too).  Everything else is the provider's operator, unchanged.

``monitoring`` sends the job's logs to CloudWatch Logs (``cloudWatchMonitoringConfiguration``) and S3
(``s3MonitoringConfiguration``, as ``log_uri`` does: one of the two).  The logs are written by the job's
execution role (its ``logs:CreateLogStream``/``logs:PutLogEvents`` on the group, S3 ``PutObject``), not by
MWAA's: ``dagen iam`` adds nothing for them.  ``job_retry_max_attempts`` is EMR on EKS's own retry of the
job's driver within one job run (``retryPolicyConfiguration``), besides Airflow's retries of the task.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from generator.core.diagnostics import Diagnostic
from generator.core.lowering_context import LowerContext
from generator.core.model import OperatorTask, TaskSpec
from generator.core.schema_parts import S3_URI, STRING, TEMPLATED_STRING, Schema, obj, prop
from generator.task_types.emr_serverless_job import (
    CONFIGURATIONS,
    LOG_URI,
    ROLE_ARN,
    SPARK_SUBMIT,
    configuration_overrides,
    spark_submit,
)

NAME = "emr_eks_job"
SUMMARY = "Run a Spark job on an EMR on EKS virtual cluster and wait for it."
OPERATORS = ("generator.runtime.emr_containers.RetrySafeEmrContainerOperator",)
BASE_OPERATOR = "airflow.providers.amazon.aws.operators.emr.EmrContainerOperator"
RETRY = (
    "adopts the job run an earlier try of this run started (each try has its own client token and first re-sends "
    "the earlier ones; StartJobRun is idempotent on them): COMPLETED is the result, a running one is waited for; "
    "only when all ended FAILED or CANCELLED is a new job run started"
)

RELEASE_LABEL: Schema = {
    "type": "string",
    "pattern": r"^(emr-[0-9]+\.[0-9]+\.[0-9]+(-latest|-[0-9]{8})?|.*\{\{.*\}\}.*)$",
    "title": "EMR on EKS release label such as emr-7.5.0-latest",
}

PROPERTIES = {
    "virtual_cluster_id": prop(
        TEMPLATED_STRING,
        "Id of the EMR on EKS virtual cluster (an EKS namespace registered with EMR); or `cluster`.",
        "a1b2c3d4e5f6g7h8i9j0k1l2m",
        "{{ var.value.emr_eks_virtual_cluster_id }}",
    ),
    "cluster": prop(
        STRING,
        "Name of the virtual cluster under `clusters` (`kind: emr_eks`) the job runs on; or `virtual_cluster_id`.",
        "spark_eks",
    ),
    "execution_role_arn": prop(
        ROLE_ARN,
        "Job execution role (assumed through the namespace's service account).",
        "arn:aws:iam::123456789012:role/emr-eks-job",
    ),
    "release_label": prop(RELEASE_LABEL, "EMR release the job runs on.", "emr-7.5.0-latest"),
    "spark": SPARK_SUBMIT,
    "log_uri": LOG_URI,
    "configurations": CONFIGURATIONS,
    "name": prop(TEMPLATED_STRING, "Job run name (default: DAG id and task id).", "daily-etl-{{ ds }}"),
    "monitoring": prop(
        obj(
            {
                "cloudwatch": prop(
                    obj(
                        {
                            "log_group": prop(STRING, "CloudWatch Logs group of the job's logs.", "/emr-eks/jobs"),
                            "log_stream_prefix": prop(STRING, "Prefix of the job's log streams.", "daily-etl"),
                        },
                        required=("log_group",),
                        title="CloudWatch monitoring",
                    ),
                    "Send the driver's and executors' logs to CloudWatch Logs.",
                    {"log_group": "/emr-eks/jobs", "log_stream_prefix": "daily-etl"},
                ),
                "s3_log_uri": prop(S3_URI, "Where the job's logs go in S3 (or `log_uri`).", "s3://my-logs/eks/"),
            },
            title="job monitoring",
        ),
        "Where the job's logs go (written by the execution role).",
        {"cloudwatch": {"log_group": "/emr-eks/jobs"}},
    ),
    "job_retry_max_attempts": prop(
        {"type": "integer", "minimum": 1},
        "Attempts EMR on EKS makes at the job's driver within one job run (its retry policy).",
        3,
    ),
}
REQUIRED = ("execution_role_arn", "release_label", "spark")
ONE_OF = (("virtual_cluster_id", "cluster"),)


def check(task_id: str, task: dict[str, Any], at: Any) -> Iterator[Diagnostic]:
    given = [key for key in ONE_OF[0] if key in task]
    if len(given) != 1:
        yield Diagnostic(
            code="DG525",
            **at(("tasks", task_id, "cluster") if given else ("tasks", task_id), key=True),
            message=f"emr_eks_job '{task_id}' sets {'both' if given else 'neither'} of virtual_cluster_id and "
            "cluster: it runs on one virtual cluster",
            hint="name a virtual cluster the pipeline owns with `cluster:` (under clusters, kind: emr_eks), "
            "or an existing one with virtual_cluster_id",
        )
    if "log_uri" in task and "s3_log_uri" in task.get("monitoring", {}):
        yield Diagnostic(
            code="DG524",
            **at(("tasks", task_id, "monitoring", "s3_log_uri"), key=True),
            message=f"emr_eks_job '{task_id}' sets both log_uri and monitoring.s3_log_uri: the job has one S3 log "
            "location",
            hint="keep one of them (monitoring.s3_log_uri beside monitoring.cloudwatch reads best)",
        )


def _overrides(settings: dict[str, Any]) -> dict[str, Any]:
    """configurationOverrides with the monitoring settings (CloudWatch, S3) merged in."""
    monitoring = settings.get("monitoring", {})
    overrides = configuration_overrides(
        {**settings, "log_uri": monitoring["s3_log_uri"]} if "s3_log_uri" in monitoring else settings
    )
    if "cloudwatch" in monitoring:
        cloudwatch = {"logGroupName": monitoring["cloudwatch"]["log_group"]}
        if "log_stream_prefix" in monitoring["cloudwatch"]:
            cloudwatch["logStreamNamePrefix"] = monitoring["cloudwatch"]["log_stream_prefix"]
        configured = overrides.setdefault("monitoringConfiguration", {})
        overrides["monitoringConfiguration"] = {"cloudWatchMonitoringConfiguration": cloudwatch, **configured}
    return overrides


def lower(task: TaskSpec, ctx: LowerContext) -> list[OperatorTask]:
    settings = task.settings
    kwargs: dict[str, Any] = {
        **ctx.aws(),
        "name": settings.get("name", f"{ctx.spec.dag_id}.{task.task_id}"),
        "virtual_cluster_id": (
            settings["virtual_cluster_id"] if task.cluster is None else ctx.cluster_id(task.cluster)
        ),
        "execution_role_arn": settings["execution_role_arn"],
        "release_label": settings["release_label"],
        "job_driver": {"sparkSubmitJobDriver": spark_submit(settings["spark"])},
        "wait_for_completion": True,
        "deferrable": True,
        "poll_interval": task.poll_interval,
        "max_polling_attempts": ctx.max_attempts(task),
    }
    overrides = _overrides(settings)
    if overrides:
        kwargs["configuration_overrides"] = overrides
    if "job_retry_max_attempts" in settings:
        kwargs["job_retry_max_attempts"] = settings["job_retry_max_attempts"]
    return [OperatorTask(task_id=task.task_id, operator=OPERATORS[0], kwargs=kwargs)]
