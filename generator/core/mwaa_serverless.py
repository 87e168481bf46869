"""What Amazon MWAA Serverless runs: the one table its checks and its compiler read.

MWAA Serverless runs dag-factory YAML workflows on Airflow 3 without an environment, with an
allow-list of provider operators and a subset of DAG and task parameters (see :data:`SOURCES`).
:mod:`generator.spec.serverless_checks` refuses what a spec asks for that the service cannot run or
would ignore, and :mod:`generator.compile.serverless_workflow` writes the workflow from these rules
alone; a test checks every emitted operator and key against them.
"""

from __future__ import annotations

from generator.core.value_formats import PRESET_CRON

# Where the rules come from, and when they were read.
SOURCES = (
    ("https://docs.aws.amazon.com/mwaa/latest/mwaa-serverless-userguide/operators.html", "2026-12-02"),
    (
        "https://docs.aws.amazon.com/mwaa/latest/mwaa-serverless-userguide/supported-airflow-parameters.html",
        "2026-12-02",
    ),
    ("https://docs.aws.amazon.com/mwaa/latest/mwaa-serverless-userguide/custom-code-operators.html", "2026-12-02"),
    (
        "https://github.com/awslabs/python-to-yaml-dag-converter-mwaa-serverless/blob/main/"
        "dag_converter/validator_schema.yaml",
        "2026-12-02",
    ),
)

_AWS = "airflow.providers.amazon.aws"
_EMR_OPERATORS = (
    "EmrAddStepsOperator EmrCreateJobFlowOperator EmrModifyClusterOperator EmrTerminateJobFlowOperator "
    "EmrStartNotebookExecutionOperator EmrStopNotebookExecutionOperator EmrContainerOperator "
    "EmrEksCreateClusterOperator EmrServerlessCreateApplicationOperator EmrServerlessStartJobOperator "
    "EmrServerlessStopApplicationOperator EmrServerlessDeleteApplicationOperator"
).split()
_EMR_SENSORS = (
    "EmrJobFlowSensor EmrStepSensor EmrNotebookExecutionSensor EmrContainerSensor EmrServerlessJobSensor "
    "EmrServerlessApplicationSensor"
).split()
_S3_OPERATORS = (
    "S3CreateBucketOperator S3DeleteBucketOperator S3CopyObjectOperator S3CreateObjectOperator "
    "S3DeleteObjectsOperator S3ListOperator S3ListPrefixesOperator"
).split()
_GLUE_OPERATORS = (
    "GlueJobOperator GlueDataQualityOperator GlueDataQualityRuleSetEvaluationRunOperator "
    "GlueDataQualityRuleRecommendationRunOperator"
).split()

# The operators a workflow may use (full class paths).  Python and Bash operators run only with a code
# package uploaded beside the workflow, which dagen does not build: they are not here.
ALLOWED_OPERATORS = frozenset(
    {
        f"{_AWS}.operators.athena.AthenaOperator",
        f"{_AWS}.sensors.athena.AthenaSensor",
        *(f"{_AWS}.operators.emr.{name}" for name in _EMR_OPERATORS),
        *(f"{_AWS}.sensors.emr.{name}" for name in _EMR_SENSORS),
        *(f"{_AWS}.operators.glue.{name}" for name in _GLUE_OPERATORS),
        f"{_AWS}.operators.glue_crawler.GlueCrawlerOperator",
        f"{_AWS}.sensors.glue.GlueJobSensor",
        f"{_AWS}.sensors.glue_crawler.GlueCrawlerSensor",
        f"{_AWS}.sensors.glue_catalog_partition.GlueCatalogPartitionSensor",
        f"{_AWS}.operators.lambda_function.LambdaCreateFunctionOperator",
        f"{_AWS}.operators.lambda_function.LambdaInvokeFunctionOperator",
        f"{_AWS}.sensors.lambda_function.LambdaFunctionStateSensor",
        *(f"{_AWS}.operators.s3.{name}" for name in _S3_OPERATORS),
        f"{_AWS}.sensors.s3.S3KeySensor",
        f"{_AWS}.sensors.s3.S3KeysUnchangedSensor",
        f"{_AWS}.operators.sns.SnsPublishOperator",
        f"{_AWS}.operators.sqs.SqsPublishOperator",
        f"{_AWS}.operators.step_function.StepFunctionStartExecutionOperator",
        f"{_AWS}.operators.step_function.StepFunctionGetExecutionOutputOperator",
        f"{_AWS}.sensors.step_function.StepFunctionExecutionSensor",
        f"{_AWS}.operators.redshift_data.RedshiftDataOperator",
        f"{_AWS}.transfers.s3_to_redshift.S3ToRedshiftOperator",
        f"{_AWS}.transfers.redshift_to_s3.RedshiftToS3Operator",
        "airflow.providers.standard.operators.empty.EmptyOperator",
        "airflow.operators.empty.EmptyOperator",
    }
)
EMPTY_OPERATOR = "airflow.providers.standard.operators.empty.EmptyOperator"
SNS_OPERATOR = f"{_AWS}.operators.sns.SnsPublishOperator"

# DAG keys the service validates, and the other keys of the workflow format (dag-factory's) it reads.
VALIDATED_DAG_KEYS = ("dag_id", "schedule", "start_date", "end_date", "max_active_runs")
WORKFLOW_DAG_KEYS = ("default_args", "params", "doc_md", "max_active_tasks", "task_groups", "tasks")
# DAG keys the service ignores (never written to a workflow).
IGNORED_DAG_KEYS = (
    "description",
    "catchup",
    "dagrun_timeout",
    "tags",
    "access_control",
    "on_failure_callback",
    "on_success_callback",
    "sla_miss_callback",
    "is_paused_upon_creation",
    "depends_on_past",
    "email_on_failure",
    "email_on_retry",
    "max_consecutive_failed_dag_runs",
    "template_searchpath",
    "user_defined_macros",
    "user_defined_filters",
    "render_template_as_native_obj",
    "dag_display_name",
    "owner_links",
)
# default_args the workflow may hold; any other default is written on each task instead.
DEFAULT_ARGS_KEYS = ("owner", "retries", "retry_delay")
# Keys of a workflow task besides its operator's own arguments.
TASK_KEYS = (
    "operator",
    "dependencies",
    "task_group_name",
    "trigger_rule",
    "doc_md",
    "retries",
    "retry_delay",
    "retry_exponential_backoff",
    "max_retry_delay",
)

# Task limits the service enforces: (largest value, the service's default).
MAX_RETRIES, DEFAULT_RETRIES = 3, 1
MAX_RETRY_DELAY_SECONDS, DEFAULT_RETRY_DELAY_SECONDS = 300, 300
MAX_EXECUTION_SECONDS, DEFAULT_EXECUTION_SECONDS = 3600, 3600

# Airflow's presets that are a cron expression (PRESET_CRON); the others (@once, @continuous) are refused.

# Task types whose serverless form needs dagen's runtime or a code package: never runnable there.
UNRUNNABLE_TYPES = {
    "python": "runs a Python callable, which needs a code package uploaded with the workflow",
    "branch": "chooses its paths with dagen's runtime (generator.runtime.conditions)",
    "http_wait": "uses HttpSensor, which is not on the service's operator list",
}
# Task types whose one task becomes two there: the start, then `<task>_wait`, a sensor in reschedule mode.
SPLIT_WAITS = frozenset({"emr_step", "emr_notebook"})
WAIT_SUFFIX = "_wait"
# Tasks the workflow adds (the run's final check, the SNS notifications) start with this.
GENERATED_PREFIX = "dagen_"
WORK_SUCCEEDED_TASK = "dagen_work_succeeded"
# Notification events the workflow can carry (an SNS publish after a failed task), and the channel.
SNS_EVENTS = ("on_task_failure", "on_run_failure")


def waits_in_one_try(task: dict[str, object]) -> bool:
    """Whether the task's wait runs inside one try, bounded by the service's cap on a try.

    A sensor in reschedule mode (a split wait, a non-deferrable ``s3_wait``) pokes in short tries of its
    own, so its ``timeout`` may be longer; every other type waits in one try (deferred or not).
    """
    kind = task.get("type")
    return not (kind in SPLIT_WAITS or (kind == "s3_wait" and not task.get("deferrable", False)))


def schedule_cron(schedule: str | None) -> str | None:
    """The schedule as the service takes it (a cron expression or None); a preset it has no cron for raises."""
    if schedule is None or not schedule.startswith("@"):
        return schedule
    return PRESET_CRON[schedule]
