"""``glue_job``: run an existing AWS Glue job (owned by CloudFormation or the console).

Lowers to ``GlueJobOperator`` with only the job name, its arguments and the run
sizing: the operator never creates or rewrites the job definition.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from generator.core.diagnostics import Diagnostic
from generator.core.lowering_context import LowerContext
from generator.core.model import OperatorTask, TaskSpec
from generator.core.schema_parts import POSITIVE_INT, STRING, TEMPLATED_STRING, prop

NAME = "glue_job"
SUMMARY = "Run an existing AWS Glue job and wait for it."
OPERATORS = ("airflow.providers.amazon.aws.operators.glue.GlueJobOperator",)
MAPPED_KWARG = "script_args"  # the argument that holds {{ item }} when the task is mapped at run time
MAPPED_SETTINGS = ("arguments",)  # the keys of the spec that go into it

PROPERTIES = {
    "job_name": prop(TEMPLATED_STRING, "Name of the existing Glue job.", "movielens-curate"),
    "arguments": prop(
        {
            "type": "object",
            "propertyNames": {"pattern": "^--[A-Za-z0-9_.-]+$"},
            "additionalProperties": {"type": "string"},
        },
        "Job arguments for this run (keys start with `--`; values are strings, Jinja allowed).",
        {"--input": "s3://my-bucket/output/", "--run_date": "{{ ds }}"},
    ),
    "worker_type": prop(
        {
            "enum": [
                "G.025X",
                "G.1X",
                "G.2X",
                "G.4X",
                "G.8X",
                "G.12X",
                "G.16X",
                "R.1X",
                "R.2X",
                "R.4X",
                "R.8X",
                "Z.2X",
                "Standard",
            ]
        },
        "Worker type for this run.",
        "G.1X",
    ),
    "number_of_workers": prop(POSITIVE_INT, "Number of workers for this run.", 2),
    "max_capacity": prop(
        {"type": "number", "minimum": 0.0625}, "DPUs for Python shell jobs (not with worker_type).", 1
    ),
    "execution_class": prop({"enum": ["STANDARD", "FLEX"]}, "FLEX runs on spare capacity at a lower price.", "FLEX"),
    "security_configuration": prop(STRING, "Glue security configuration for this run.", "glue-encrypted"),
}
REQUIRED = ("job_name",)


def check(task_id: str, task: dict[str, Any], at: Any) -> Iterator[Diagnostic]:
    if "max_capacity" in task and ("worker_type" in task or "number_of_workers" in task):
        pointer = ("tasks", task_id, "max_capacity")
        where = at(pointer, key=True)
        yield Diagnostic(
            code="DG505",
            **where,
            message="max_capacity cannot be combined with worker_type or number_of_workers",
            hint="Spark jobs: worker_type + number_of_workers; Python shell jobs: max_capacity",
        )


def lower(task: TaskSpec, ctx: LowerContext) -> list[OperatorTask]:
    settings = task.settings
    run: dict[str, Any] = {"Timeout": max(1, -(-task.timeout // 60))}
    for key, api_name in (
        ("worker_type", "WorkerType"),
        ("number_of_workers", "NumberOfWorkers"),
        ("max_capacity", "MaxCapacity"),
        ("execution_class", "ExecutionClass"),
        ("security_configuration", "SecurityConfiguration"),
    ):
        if key in settings:
            run[api_name] = settings[key]
    kwargs: dict[str, Any] = {
        **ctx.aws(),
        "job_name": settings["job_name"],
        "script_args": dict(settings.get("arguments", {})),
        "run_job_kwargs": run,
        "wait_for_completion": True,
        "deferrable": True,
        "verbose": False,
        "job_poll_interval": task.poll_interval,
    }
    if ctx.profile.glue_waiter_arguments:
        kwargs["waiter_delay"] = task.poll_interval
        kwargs["waiter_max_attempts"] = ctx.max_attempts(task)
    return [OperatorTask(task_id=task.task_id, operator=OPERATORS[0], kwargs=kwargs)]
