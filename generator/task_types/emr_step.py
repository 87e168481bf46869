"""``emr_step``: one step (Spark, Hive, a command, or a jar) on a pipeline cluster.

Lowers to ``EmrAddStepsOperator`` that submits the step and waits for it,
deferrably, so a retry resubmits the step and no worker slot is held while it runs.

``execution_role_arn`` runs the step with an EMR runtime role (the operator's ``execution_role_arn``,
AddJobFlowSteps' ``ExecutionRoleArn``, on both provider lines): the step reaches AWS with that role's
permissions instead of the cluster's instance profile.  The cluster must have a security configuration
that enables runtime roles (and the role's trust policy must let the cluster's EC2 instance role assume
it); ``dagen iam`` grants iam:PassRole on the role to ``elasticmapreduce.amazonaws.com``.  A retry
submits the step again with the same role.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from generator.core.diagnostics import Diagnostic
from generator.core.lowering_context import LowerContext
from generator.core.model import OperatorTask, TaskSpec
from generator.core.schema_parts import S3_URI, STRING, STRING_LIST, TEMPLATED_STRING, obj, prop

NAME = "emr_step"
SUMMARY = "Run a Spark, Hive, shell-command or jar step on a pipeline EMR cluster."
OPERATORS = ("airflow.providers.amazon.aws.operators.emr.EmrAddStepsOperator",)
MAPPED_KWARG = "steps"  # the argument that holds {{ item }} when the task is mapped at run time
MAPPED_SETTINGS = ("name", "spark", "hive", "command", "jar")  # the keys of the spec that go into it
KINDS = ("spark", "hive", "command", "jar")

PROPERTIES = {
    "cluster": prop(STRING, "Name of the cluster (under `clusters`) the step runs on.", "preprocess"),
    "name": prop(TEMPLATED_STRING, "Step name shown in the EMR console (default: the task id).", "Preprocess movies"),
    "execution_role_arn": prop(
        {
            "type": "string",
            "pattern": r"^(arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]+|.*(\{\{|\{%).*)$",
            "title": "IAM role ARN",
        },
        "EMR runtime role the step runs as (the cluster's security configuration must enable runtime roles).",
        "arn:aws:iam::123456789012:role/emr-step-runtime",
    ),
    "action_on_failure": prop(
        {"enum": ["CONTINUE", "CANCEL_AND_WAIT", "TERMINATE_CLUSTER"]},
        "What EMR does when the step fails. Keep CONTINUE: the task fails and the pipeline terminates the cluster.",
        "CONTINUE",
        default="CONTINUE",
    ),
    "spark": prop(
        obj(
            {
                "script": prop(S3_URI, "PySpark script or application jar.", "s3://my-bucket/spark_jobs/job.py"),
                "args": prop(STRING_LIST, "Arguments after the script.", ["--input", "s3://my-bucket/raw/"]),
                "conf": prop(
                    {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}},
                    "Spark properties passed as `--conf key=value`.",
                    {"spark.sql.shuffle.partitions": "64"},
                ),
                "deploy_mode": prop(
                    {"enum": ["cluster", "client"]}, "spark-submit `--deploy-mode`.", "cluster", default="cluster"
                ),
                "main_class": prop(STRING, "`--class` for a jar application.", "com.example.Main"),
                "py_files": prop(
                    {"type": "array", "items": S3_URI},
                    "`--py-files`: modules the script imports.",
                    ["s3://my-bucket/spark_jobs/common.py"],
                ),
                "jars": prop(
                    {"type": "array", "items": S3_URI},
                    "`--jars`: extra jars on the classpath.",
                    ["s3://my-bucket/jars/udfs.jar"],
                ),
            },
            required=("script",),
            title="spark-submit step",
        ),
        "Run `spark-submit` through command-runner.jar.",
        {"script": "s3://my-bucket/spark_jobs/job.py", "args": ["--date", "{{ ds }}"]},
    ),
    "hive": prop(
        obj(
            {
                "script": prop(S3_URI, "HiveQL script.", "s3://my-bucket/hive/report.q"),
                "variables": prop(
                    {"type": "object", "additionalProperties": {"type": ["string", "number"]}},
                    "Variables passed as `-d NAME=value` (read as `${NAME}` in the script).",
                    {"INPUT": "s3://my-bucket/raw/"},
                ),
            },
            required=("script",),
            title="hive step",
        ),
        "Run a Hive script.",
        {"script": "s3://my-bucket/hive/report.q", "variables": {"DS": "{{ ds }}"}},
    ),
    "command": prop(
        {"type": "array", "minItems": 1, "items": TEMPLATED_STRING},
        "A command run by command-runner.jar on the primary node (program and arguments).",
        ["bash", "-c", "aws s3 cp s3://src/data.zip /tmp/ && unzip -o /tmp/data.zip -d /tmp/data"],
    ),
    "jar": prop(
        obj(
            {
                "path": prop(
                    TEMPLATED_STRING, "The jar: an s3:// URI or a path on the cluster.", "s3://my-bucket/jars/app.jar"
                ),
                "main_class": prop(STRING, "Main class, if the jar's manifest has none.", "com.example.Main"),
                "args": prop(STRING_LIST, "Arguments of the main class.", ["--date", "{{ ds }}"]),
            },
            required=("path",),
            title="custom jar step",
        ),
        "Run a custom jar.",
        {"path": "s3://my-bucket/jars/app.jar", "args": ["{{ ds }}"]},
    ),
}
REQUIRED = ("cluster",)
ONE_OF = (KINDS,)


def check(task_id: str, task: dict[str, Any], at: Any) -> Iterator[Diagnostic]:
    base = ("tasks", task_id)
    kinds = [kind for kind in KINDS if kind in task]
    if len(kinds) != 1:
        pointer = (*base, kinds[1]) if len(kinds) > 1 else base
        where = at(pointer, key=True)
        found = f"it sets {', '.join(kinds)}" if kinds else "it sets none"
        yield Diagnostic(
            code="DG501",
            **where,
            message=f"emr_step '{task_id}' must set exactly one of spark, hive, command, jar; {found}",
            hint="split the work into one task per step",
        )
    if task.get("action_on_failure") == "TERMINATE_CLUSTER":
        pointer = (*base, "action_on_failure")
        where = at(pointer)
        yield Diagnostic(
            code="DG502",
            **where,
            message="action_on_failure TERMINATE_CLUSTER fights the cluster lifecycle: the pipeline "
            "already terminates the cluster after its last task, even when a step fails",
            hint="use CONTINUE (the default) and let the failed task fail the run",
        )


def _spark_args(spark: dict[str, Any]) -> list[str]:
    args = ["spark-submit", "--deploy-mode", spark.get("deploy_mode", "cluster")]
    if "main_class" in spark:
        args += ["--class", spark["main_class"]]
    for key, value in spark.get("conf", {}).items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        args += ["--conf", f"{key}={text}"]
    if spark.get("py_files"):
        args += ["--py-files", ",".join(spark["py_files"])]
    if spark.get("jars"):
        args += ["--jars", ",".join(spark["jars"])]
    return [*args, spark["script"], *spark.get("args", [])]


def _hive_args(hive: dict[str, Any]) -> list[str]:
    args = ["hive-script", "--run-hive-script", "--args", "-f", hive["script"]]
    for key, value in hive.get("variables", {}).items():
        args += ["-d", f"{key}={value}"]
    return args


def hadoop_jar_step(settings: dict[str, Any]) -> dict[str, Any]:
    """The ``HadoopJarStep`` of the step's EMR definition."""
    if "spark" in settings:
        return {"Jar": "command-runner.jar", "Args": _spark_args(settings["spark"])}
    if "hive" in settings:
        return {"Jar": "command-runner.jar", "Args": _hive_args(settings["hive"])}
    if "command" in settings:
        return {"Jar": "command-runner.jar", "Args": list(settings["command"])}
    jar = settings["jar"]
    step: dict[str, Any] = {"Jar": jar["path"], "Args": list(jar.get("args", []))}
    if "main_class" in jar:
        step["MainClass"] = jar["main_class"]
    return step


def lower(task: TaskSpec, ctx: LowerContext) -> list[OperatorTask]:
    settings = task.settings
    step = {
        "Name": settings.get("name", task.task_id),
        "ActionOnFailure": settings.get("action_on_failure", "CONTINUE"),
        "HadoopJarStep": hadoop_jar_step(settings),
    }
    assert task.cluster is not None
    return [
        OperatorTask(
            task_id=task.task_id,
            operator=OPERATORS[0],
            kwargs={
                **ctx.aws(),
                "job_flow_id": ctx.cluster_id(task.cluster),
                "steps": [step],
                "wait_for_completion": True,
                "deferrable": True,
                "waiter_delay": task.poll_interval,
                "waiter_max_attempts": ctx.max_attempts(task),
                **({"execution_role_arn": settings["execution_role_arn"]} if "execution_role_arn" in settings else {}),
            },
        )
    ]
