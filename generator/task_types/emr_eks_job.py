"""``emr_eks_job``: run a Spark job on an EMR on EKS virtual cluster and wait for it.

Lowers to :class:`generator.runtime.emr_containers.RetrySafeEmrContainerOperator` (named by path:
compiling imports no provider), an ``EmrContainerOperator`` that waits deferrably and sends one
client token per try: a retry re-runs a failed job run and never starts a duplicate, by the rule of
:mod:`generator.task_types.emr_serverless_job` (:data:`RETRY`; StartJobRun is idempotent on the
token here too).  Everything else is the provider's operator, unchanged.
"""

from __future__ import annotations

from typing import Any

from generator.core.lowering_context import LowerContext
from generator.core.model import OperatorTask, TaskSpec
from generator.core.schema_parts import TEMPLATED_STRING, Schema, prop
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
        "Id of the EMR on EKS virtual cluster (an EKS namespace registered with EMR).",
        "a1b2c3d4e5f6g7h8i9j0k1l2m",
        "{{ var.value.emr_eks_virtual_cluster_id }}",
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
}
REQUIRED = ("virtual_cluster_id", "execution_role_arn", "release_label", "spark")


def lower(task: TaskSpec, ctx: LowerContext) -> list[OperatorTask]:
    settings = task.settings
    kwargs: dict[str, Any] = {
        **ctx.aws(),
        "name": settings.get("name", f"{ctx.spec.dag_id}.{task.task_id}"),
        "virtual_cluster_id": settings["virtual_cluster_id"],
        "execution_role_arn": settings["execution_role_arn"],
        "release_label": settings["release_label"],
        "job_driver": {"sparkSubmitJobDriver": spark_submit(settings["spark"])},
        "wait_for_completion": True,
        "deferrable": True,
        "poll_interval": task.poll_interval,
        "max_polling_attempts": ctx.max_attempts(task),
    }
    overrides = configuration_overrides(settings)
    if overrides:
        kwargs["configuration_overrides"] = overrides
    return [OperatorTask(task_id=task.task_id, operator=OPERATORS[0], kwargs=kwargs)]
