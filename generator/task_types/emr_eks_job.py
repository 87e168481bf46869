"""``emr_eks_job``: run a Spark job on an EMR on EKS virtual cluster and wait for it.

Lowers to ``EmrContainerOperator`` through a subclass that only adds
``client_request_token`` to its template fields,
:data:`IdempotentEmrContainerOperator` (defined here, built when dag-factory
first asks for it, so that validating a spec never imports Airflow).

**Why a subclass.**  StartJobRun is idempotent on its client token.  Without
one, the operator sends a fresh ``uuid4()`` (providers 9.0: made when the DAG
file is parsed, i.e. once per try; 9.34: made in ``execute``), so every retry
starts a second job run.  A fixed token would be worse: every later run of the
DAG would get the first run's job back.  The token must be rendered per run,
but ``client_request_token`` is not a template field and, unlike EMR
Serverless, the operator has no templated field that reaches the request.  The
token is :data:`generator.task_types.emr_serverless_job.CLIENT_TOKEN`: the same
for every try of a task in one run, new when the task is cleared.  Everything
else is the provider's operator, unchanged.
"""

from __future__ import annotations

from typing import Any

from generator.core.lowering_context import LowerContext
from generator.core.model import OperatorTask, TaskSpec
from generator.core.schema_parts import TEMPLATED_STRING, Schema, prop
from generator.task_types.emr_serverless_job import (
    CLIENT_TOKEN,
    CONFIGURATIONS,
    LOG_URI,
    ROLE_ARN,
    SPARK_SUBMIT,
    configuration_overrides,
    spark_submit,
)

NAME = "emr_eks_job"
SUMMARY = "Run a Spark job on an EMR on EKS virtual cluster and wait for it."
OPERATOR_CLASS = "IdempotentEmrContainerOperator"
OPERATORS = (f"{__name__}.{OPERATOR_CLASS}",)
BASE_OPERATOR = "airflow.providers.amazon.aws.operators.emr.EmrContainerOperator"

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


def _operator_class() -> type:
    from airflow.providers.amazon.aws.operators.emr import EmrContainerOperator

    class IdempotentEmrContainerOperator(EmrContainerOperator):  # type: ignore[misc,valid-type]
        """``EmrContainerOperator`` whose ``client_request_token`` is rendered per run (see the module)."""

        template_fields = (*EmrContainerOperator.template_fields, "client_request_token")

    # Importable by its dotted path, like any operator (DAG serialisation names the class by module and name).
    IdempotentEmrContainerOperator.__module__ = __name__
    IdempotentEmrContainerOperator.__qualname__ = OPERATOR_CLASS
    return IdempotentEmrContainerOperator


def __getattr__(name: str) -> Any:
    """Build the operator class on first use: the module itself must import without Airflow."""
    if name == OPERATOR_CLASS:
        cls = _operator_class()
        globals()[name] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def lower(task: TaskSpec, ctx: LowerContext) -> list[OperatorTask]:
    settings = task.settings
    kwargs: dict[str, Any] = {
        **ctx.aws(),
        "name": settings.get("name", f"{ctx.spec.dag_id}.{task.task_id}"),
        "virtual_cluster_id": settings["virtual_cluster_id"],
        "execution_role_arn": settings["execution_role_arn"],
        "release_label": settings["release_label"],
        "job_driver": {"sparkSubmitJobDriver": spark_submit(settings["spark"])},
        "client_request_token": CLIENT_TOKEN,
        "wait_for_completion": True,
        "deferrable": True,
        "poll_interval": task.poll_interval,
        "max_polling_attempts": ctx.max_attempts(task),
    }
    overrides = configuration_overrides(settings)
    if overrides:
        kwargs["configuration_overrides"] = overrides
    return [OperatorTask(task_id=task.task_id, operator=OPERATORS[0], kwargs=kwargs)]
