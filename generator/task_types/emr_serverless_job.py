"""``emr_serverless_job``: run a Spark job on an EMR Serverless application and wait for it.

Lowers to :class:`generator.runtime.emr_serverless.RetrySafeEmrServerlessStartJobOperator` (named
by path: compiling imports no provider), an ``EmrServerlessStartJobOperator``: it starts the
application if it is stopped, submits the job run and waits deferrably (no worker slot is held).

**A retry re-runs a failed job run, and never starts a duplicate** (:data:`RETRY`).  StartJobRun is
idempotent on its client token; the operator sends one token per try and first sends the earlier
tries' tokens of this run again, which gives back their job runs without starting anything: one
still running or succeeded is awaited or is the result, and only when all ended FAILED or CANCELLED
does the try start a new job run under its own token.  A clear starts afresh.

The Spark job driver and configuration overrides are shared with
:mod:`generator.task_types.emr_eks_job` (the two APIs take the same shapes).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from generator.core.diagnostics import Diagnostic
from generator.core.lowering_context import LowerContext
from generator.core.model import OperatorTask, TaskSpec
from generator.core.schema_parts import S3_URI, STRING, STRING_LIST, TEMPLATED_STRING, Schema, obj, prop
from generator.resources.emr_cluster import configurations

NAME = "emr_serverless_job"
SUMMARY = "Run a Spark job on an EMR Serverless application and wait for it."
OPERATORS = ("generator.runtime.emr_serverless.RetrySafeEmrServerlessStartJobOperator",)
MAPPED_KWARG = "job_driver"  # the argument that holds {{ item }} when the task is mapped at run time
MAPPED_SETTINGS = ("spark",)  # the keys of the spec that go into it
BASE_OPERATOR = "airflow.providers.amazon.aws.operators.emr.EmrServerlessStartJobOperator"
# Both EMR job APIs: the client token is one UUID per try (36 characters, within the 1-64 they accept).
RETRY = (
    "adopts the job run an earlier try of this run started (each try has its own client token and first re-sends "
    "the earlier ones; StartJobRun is idempotent on them): SUCCESS is the result, a running one is waited for; "
    "only when all ended FAILED or CANCELLED is a new job run started"
)

ROLE_ARN: Schema = {
    "type": "string",
    "pattern": r"^(.*\{\{.*\}\}.*|arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512})$",
    "title": "IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)",
}
ENTRY_POINT: Schema = {
    "type": "string",
    "pattern": r"^(s3://.+|local://.+|.*\{\{.*\}\}.*)$",
    "title": "s3:// URI (or local:// path in the image)",
}
# sparkSubmitParameters is one string split on whitespace, so a --conf value cannot hold a space.
SPARK_CONF: Schema = {
    "type": "object",
    "propertyNames": {"pattern": r"^\S+$", "title": "Spark property name"},
    "additionalProperties": {
        "type": ["string", "number", "boolean"],
        "pattern": r"^\S+$",
        "title": "value without spaces (put values with spaces under configurations: spark-defaults)",
    },
}

SPARK_SUBMIT = prop(
    obj(
        {
            "entry_point": prop(
                ENTRY_POINT, "The PySpark script or application jar.", "s3://my-bucket/jobs/daily_etl.py"
            ),
            "args": prop(STRING_LIST, "Arguments after the entry point.", ["--date", "{{ ds }}"]),
            "conf": prop(
                SPARK_CONF,
                "Spark properties passed as `--conf key=value`.",
                {"spark.executor.memory": "4g", "spark.dynamicAllocation.enabled": True},
            ),
            "parameters": prop(
                TEMPLATED_STRING,
                "Other spark-submit parameters, as on a command line (after the `--conf` ones).",
                "--jars s3://my-bucket/jars/udfs.jar --py-files s3://my-bucket/jobs/common.zip",
            ),
        },
        required=("entry_point",),
        title="spark-submit job driver",
    ),
    "The Spark job: what `spark-submit` runs.",
    {"entry_point": "s3://my-bucket/jobs/daily_etl.py", "args": ["--date", "{{ ds }}"]},
)
LOG_URI = prop(S3_URI, "Where the job's driver and executor logs go (S3 monitoring).", "s3://my-logs/spark/")
CONFIGURATIONS = prop(
    {"type": "array", "items": {"$ref": "#/$defs/emr_configuration"}},
    "Application configuration classifications for this job run (e.g. `spark-defaults`).",
    [{"classification": "spark-defaults", "properties": {"spark.driver.extraJavaOptions": "-Dlog4j.debug=false"}}],
)

PROPERTIES = {
    "application_id": prop(
        TEMPLATED_STRING,
        "Id of the EMR Serverless application (started if it is stopped); or `cluster`.",
        "00fkabc0123456789",
        "{{ var.value.spark_application_id }}",
    ),
    "cluster": prop(
        STRING,
        "Name of the application under `clusters` (`kind: emr_serverless`) the job runs on; or `application_id`.",
        "spark",
    ),
    "execution_role_arn": prop(
        ROLE_ARN,
        "Runtime role the job assumes (passed to EMR Serverless).",
        "arn:aws:iam::123456789012:role/emr-serverless-job",
    ),
    "spark": SPARK_SUBMIT,
    "log_uri": LOG_URI,
    "configurations": CONFIGURATIONS,
    "name": prop(TEMPLATED_STRING, "Job run name (default: DAG id and task id).", "daily-etl-{{ ds }}"),
}
REQUIRED = ("execution_role_arn", "spark")
ONE_OF = (("application_id", "cluster"),)


def check(task_id: str, task: dict[str, Any], at: Any) -> Iterator[Diagnostic]:
    given = [key for key in ONE_OF[0] if key in task]
    if len(given) != 1:
        yield Diagnostic(
            code="DG523",
            **at(("tasks", task_id, "cluster") if given else ("tasks", task_id), key=True),
            message=f"emr_serverless_job '{task_id}' sets {'both' if given else 'neither'} of application_id and "
            "cluster: it runs on one application",
            hint="name an application the pipeline owns with `cluster:` (under clusters, kind: emr_serverless), "
            "or an existing one with application_id",
        )


def _conf_text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def spark_submit(spark: dict[str, Any]) -> dict[str, Any]:
    """The API's spark-submit driver (``entryPoint``, ``entryPointArguments``, ``sparkSubmitParameters``)."""
    driver: dict[str, Any] = {"entryPoint": spark["entry_point"]}
    if spark.get("args"):
        driver["entryPointArguments"] = list(spark["args"])
    parameters = [f"--conf {key}={_conf_text(value)}" for key, value in spark.get("conf", {}).items()]
    if spark.get("parameters"):
        parameters.append(spark["parameters"])
    if parameters:
        driver["sparkSubmitParameters"] = " ".join(parameters)
    return driver


def configuration_overrides(settings: dict[str, Any]) -> dict[str, Any]:
    """The API's ``configurationOverrides`` (application configuration, S3 logs); empty when neither is set."""
    out: dict[str, Any] = {}
    if settings.get("configurations"):
        out["applicationConfiguration"] = configurations(settings["configurations"], capitalised=False)
    if "log_uri" in settings:
        out["monitoringConfiguration"] = {"s3MonitoringConfiguration": {"logUri": settings["log_uri"]}}
    return out


def lower(task: TaskSpec, ctx: LowerContext) -> list[OperatorTask]:
    settings = task.settings
    kwargs: dict[str, Any] = {
        **ctx.aws(),
        "application_id": settings["application_id"] if task.cluster is None else ctx.cluster_id(task.cluster),
        "execution_role_arn": settings["execution_role_arn"],
        "job_driver": {"sparkSubmit": spark_submit(settings["spark"])},
        "name": settings.get("name", f"{ctx.spec.dag_id}.{task.task_id}"),
        "wait_for_completion": True,
        "deferrable": True,
        "waiter_delay": task.poll_interval,
        "waiter_max_attempts": ctx.max_attempts(task),
    }
    overrides = configuration_overrides(settings)
    if overrides:
        kwargs["configuration_overrides"] = overrides
    return [OperatorTask(task_id=task.task_id, operator=OPERATORS[0], kwargs=kwargs)]
