"""``glue_job``: run an AWS Glue job and wait for it; optionally create the job when it is missing.

Without ``create_if_missing`` the job exists already (CloudFormation, the console): the task lowers to
``GlueJobOperator`` with only the job name, its arguments and the run sizing, and the operator never
creates or rewrites the job definition.

With ``create_if_missing`` the pipeline owns the job: ``GlueJobOperator`` also gets ``script_location``,
the role (``iam_role_arn`` for an ARN, ``iam_role_name`` for a name, which the hook resolves with
iam:GetRole) and ``create_job_kwargs`` (``GlueVersion``, ``WorkerType``, ``NumberOfWorkers``,
``DefaultArguments``).  The job's sizing is the task's own ``worker_type``/``number_of_workers`` (one
way to say it: the same values size the job definition and each run), so ``create_if_missing`` needs
both (DG545).  The hook calls GetJob; a missing job is created (CreateJob, ``MaxConcurrentRuns`` 1,
``MaxRetries`` 0), an existing job is **left as it is** (``update_config`` stays false: a changed spec
does not rewrite a job that exists; delete it or change it in Glue).  Then StartJobRun.  **A retry**
finds the job the first try created and starts a new job run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from generator.core.diagnostics import Diagnostic
from generator.core.lowering_context import LowerContext
from generator.core.model import OperatorTask, TaskSpec
from generator.core.schema_parts import POSITIVE_INT, ROLE, S3_URI, STRING, TEMPLATED_STRING, obj, prop

NAME = "glue_job"
SUMMARY = "Run an AWS Glue job and wait for it (optionally creating it)."
OPERATORS = ("airflow.providers.amazon.aws.operators.glue.GlueJobOperator",)
MAPPED_KWARG = "script_args"  # the argument that holds {{ item }} when the task is mapped at run time
MAPPED_SETTINGS = ("arguments",)  # the keys of the spec that go into it

_ARGUMENTS: dict[str, Any] = {
    "type": "object",
    "propertyNames": {"pattern": "^--[A-Za-z0-9_.-]+$"},
    "additionalProperties": {"type": "string"},
}
CREATE_IF_MISSING = obj(
    {
        "script_location": prop(S3_URI, "The job's script in S3.", "s3://my-bucket/glue/curate.py"),
        "role": prop(
            ROLE,
            "The role the job runs as: a name or an ARN (a template must render an ARN); the MWAA role gets "
            "iam:PassRole on it to Glue.",
            "arn:aws:iam::123456789012:role/glue-jobs",
            "glue-jobs",
        ),
        "glue_version": prop({"enum": ["3.0", "4.0", "5.0"]}, "Glue version of the job.", "5.0", default="5.0"),
        "default_arguments": prop(
            _ARGUMENTS,
            "Arguments of every run of the job (keys start with `--`; a run's `arguments` override them).",
            {"--enable-metrics": "true"},
        ),
    },
    required=("script_location", "role"),
)

PROPERTIES = {
    "job_name": prop(TEMPLATED_STRING, "Name of the Glue job.", "movielens-curate"),
    "arguments": prop(
        _ARGUMENTS,
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
    "create_if_missing": prop(
        CREATE_IF_MISSING,
        "Create the job when it does not exist (sized by `worker_type` and `number_of_workers`; an existing "
        "job is left as it is).",
        {"script_location": "s3://my-bucket/glue/curate.py", "role": "arn:aws:iam::123456789012:role/glue-jobs"},
    ),
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
    if "create_if_missing" in task and not ("worker_type" in task and "number_of_workers" in task):
        where = at(("tasks", task_id, "create_if_missing"), key=True)
        yield Diagnostic(
            code="DG545",
            **where,
            message="create_if_missing needs worker_type and number_of_workers (the size of the job it creates)",
            hint="set e.g. worker_type: G.1X and number_of_workers: 2 on the task; they size the job and each run",
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
    create = settings.get("create_if_missing")
    if create is not None:
        kwargs.update(creation_kwargs(create, settings))
    if ctx.profile.glue_waiter_arguments:
        kwargs["waiter_delay"] = task.poll_interval
        kwargs["waiter_max_attempts"] = ctx.max_attempts(task)
    return [OperatorTask(task_id=task.task_id, operator=OPERATORS[0], kwargs=kwargs)]


def creation_kwargs(create: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """What ``GlueJobOperator`` needs to create the job when GetJob does not find it."""
    role = create["role"]
    job: dict[str, Any] = {
        "GlueVersion": create.get("glue_version", "5.0"),
        "WorkerType": settings["worker_type"],
        "NumberOfWorkers": settings["number_of_workers"],
    }
    if "default_arguments" in create:
        job["DefaultArguments"] = dict(create["default_arguments"])
    role_key = "iam_role_name" if not role.startswith("arn:") and "{{" not in role else "iam_role_arn"
    return {"script_location": create["script_location"], role_key: role, "create_job_kwargs": job}
