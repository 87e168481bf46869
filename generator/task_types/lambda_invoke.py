"""``lambda_invoke``: invoke an AWS Lambda function with a JSON payload.

Lowers to ``LambdaInvokeFunctionOperator``.  The payload is serialised with
``json.dumps`` and its templates stay renderable (a value that is exactly one
``{{ ... }}`` renders as JSON, see :func:`generator.core.templating.json_with_templates`).

**One invocation per try.**  A synchronous invoke (``RequestResponse``) keeps
the HTTP request open while the function runs, up to 15 minutes; botocore's
default read timeout (60 s) would give up first and botocore would *retry*,
invoking the function again while the first invocation still runs.  So the
operator gets its own ``botocore_config`` (a parameter of both provider lines):
``read_timeout`` as long as the task may wait (its ``timeout``, at most the
Lambda limit plus a margin) and ``retries: {total_max_attempts: 1}``: botocore
never re-sends an invoke.  This config replaces the connection's
``config_kwargs`` for this task.  Airflow's own task retries do invoke again:
a function a pipeline retries must be safe to run twice.  ``invocation_type:
Event`` queues the event and returns at once (Lambda retries failed async
invocations itself); the task then succeeds when the event is accepted.

**A function the pipeline owns: ``create_if_missing``** (runtime, handler, role ARN, the ``.zip`` in S3,
optionally timeout and memory size) adds a task ``<task>_create_function`` before the invoke
(:class:`generator.runtime.lambda_function.CreateLambdaFunctionIfMissingOperator`): GetFunction, and only
when the function does not exist, CreateFunction, then a wait until it is ``Active``.  A function that
exists is neither created nor updated (its code and configuration stay as they are), so a retry, or the
next run, finds the function an earlier try created.  It creates ``$LATEST``: a ``qualifier`` (a version
or alias it would not make) cannot be combined with it (DG547), and the code must name the object as
``s3://bucket/key`` (DG546).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from generator.core.diagnostics import Diagnostic
from generator.core.lowering_context import LowerContext
from generator.core.model import OperatorTask, TaskSpec
from generator.core.schema_parts import S3_URI, STRING, TEMPLATED_STRING, obj, prop
from generator.core.templating import json_with_templates

NAME = "lambda_invoke"
SUMMARY = "Invoke an AWS Lambda function with a JSON payload."
INVOKE_OPERATOR = "airflow.providers.amazon.aws.operators.lambda_function.LambdaInvokeFunctionOperator"
CREATE_OPERATOR = "generator.runtime.lambda_function.CreateLambdaFunctionIfMissingOperator"
OPERATORS = (INVOKE_OPERATOR, CREATE_OPERATOR)
CREATE_SUFFIX = "_create_function"  # <task>_create_function: reserved (DG304) when the task sets create_if_missing
MAPPED_KWARG = "payload"  # the argument that holds {{ item }} when the task is mapped at run time
MAPPED_SETTINGS = ("payload",)  # the keys of the spec that go into it

# Lambda stops a function after 900 s; past that (plus time to return the response) nothing can arrive.
LAMBDA_MAX_SECONDS = 900
RESPONSE_MARGIN_SECONDS = 60

ROLE_ARN = {
    "type": "string",
    "pattern": r"^(arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]+|.*(\{\{|\{%).*)$",
    "title": "IAM role ARN",
}
CREATE_IF_MISSING = obj(
    {
        "runtime": prop(STRING, "The function's runtime.", "python3.12"),
        "handler": prop(STRING, "The function's handler (module.function).", "app.handler"),
        "role": prop(
            ROLE_ARN,
            "ARN of the role the function runs as; the MWAA role gets iam:PassRole on it to Lambda.",
            "arn:aws:iam::123456789012:role/load-partitions",
        ),
        "code": prop(S3_URI, "The deployment package: a .zip object in S3.", "s3://my-code/lambda/load.zip"),
        "timeout": prop(
            {"type": "integer", "minimum": 1, "maximum": LAMBDA_MAX_SECONDS}, "Seconds the function may run.", 60
        ),
        "memory_size": prop({"type": "integer", "minimum": 128, "maximum": 10240}, "Memory in MB.", 512),
    },
    required=("runtime", "handler", "role", "code"),
)

PROPERTIES = {
    "function_name": prop(
        TEMPLATED_STRING,
        "The function: its name, ARN or partial ARN (`123456789012:function:name`).",
        "load-partitions",
        "arn:aws:lambda:us-east-1:123456789012:function:load-partitions",
    ),
    "qualifier": prop(TEMPLATED_STRING, "Version or alias to invoke (default: $LATEST).", "live"),
    "payload": prop(
        {"type": "object"},
        "The event (serialised with json.dumps; Jinja allowed in values).",
        {"table": "events", "day": "{{ ds }}", "partitions": "{{ params.partitions }}"},
    ),
    "invocation_type": prop(
        {"enum": ["RequestResponse", "Event"]},
        "`RequestResponse` waits for the result (the task fails if the function fails); `Event` queues the "
        "event and returns at once.",
        "Event",
        default="RequestResponse",
    ),
    "create_if_missing": prop(
        CREATE_IF_MISSING,
        "Create the function (from code in S3) when it does not exist, in a task `<task>_create_function` "
        "before the invoke; an existing function is not updated.",
        {
            "runtime": "python3.12",
            "handler": "app.handler",
            "role": "arn:aws:iam::123456789012:role/load-partitions",
            "code": "s3://my-code/lambda/load.zip",
        },
    ),
}
REQUIRED = ("function_name",)


def create_task_id(task_id: str) -> str:
    return f"{task_id}{CREATE_SUFFIX}"


def generated_task_ids(task_id: str, task: dict[str, Any]) -> dict[str, str]:
    """The ids of the tasks this type adds (reserved: a spec task of that id is DG304)."""
    if "create_if_missing" not in task:
        return {}
    return {create_task_id(task_id): f"creates the Lambda function of '{task_id}'"}


def code_location(uri: str) -> tuple[str, str] | None:
    """``(bucket, key)`` of ``s3://bucket/key``; None when there is no key."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return (bucket, key) if uri.startswith("s3://") and bucket and key and not key.endswith("/") else None


def check(task_id: str, task: dict[str, Any], at: Any) -> Iterator[Diagnostic]:
    create = task.get("create_if_missing")
    if create is None:
        return
    if code_location(create["code"]) is None:
        yield Diagnostic(
            code="DG546",
            **at(("tasks", task_id, "create_if_missing", "code")),
            message=f"code '{create['code']}' does not name an object: it must be s3://bucket/key",
            hint="give the .zip deployment package's full S3 URI, e.g. s3://my-code/lambda/load.zip",
        )
    if "qualifier" in task:
        yield Diagnostic(
            code="DG547",
            **at(("tasks", task_id, "qualifier"), key=True),
            message="qualifier cannot be combined with create_if_missing, which creates only $LATEST",
            hint="remove the qualifier, or create the version or alias outside the pipeline",
        )


def create_task(task: TaskSpec, ctx: LowerContext) -> OperatorTask:
    """``<task>_create_function``: CreateFunction only when GetFunction does not find the function."""
    create = task.settings["create_if_missing"]
    location = code_location(create["code"])
    assert location is not None  # DG546
    kwargs: dict[str, Any] = {
        **ctx.aws(),
        "function_name": task.settings["function_name"],
        "runtime": create["runtime"],
        "handler": create["handler"],
        "role": create["role"],
        "code": {"S3Bucket": location[0], "S3Key": location[1]},
        "wait_for_completion": True,
        "waiter_delay": task.poll_interval,
        "waiter_max_attempts": ctx.max_attempts(task),
        "deferrable": False,
    }
    if "timeout" in create:
        kwargs["timeout"] = create["timeout"]
    if "memory_size" in create:
        kwargs["config"] = {"MemorySize": create["memory_size"]}
    return OperatorTask(task_id=create_task_id(task.task_id), operator=CREATE_OPERATOR, kwargs=kwargs)


def botocore_config(task: TaskSpec) -> dict[str, Any]:
    """A client that waits as long as the task may, and never re-sends the invoke."""
    read_timeout = min(task.timeout, LAMBDA_MAX_SECONDS + RESPONSE_MARGIN_SECONDS)
    return {"read_timeout": max(1, read_timeout), "retries": {"total_max_attempts": 1}}


def lower(task: TaskSpec, ctx: LowerContext) -> list[OperatorTask]:
    settings = task.settings
    kwargs: dict[str, Any] = {
        **ctx.aws(),
        "function_name": settings["function_name"],
        "invocation_type": settings.get("invocation_type", "RequestResponse"),
        "botocore_config": botocore_config(task),
    }
    if "qualifier" in settings:
        kwargs["qualifier"] = settings["qualifier"]
    if "payload" in settings:
        kwargs["payload"] = json_with_templates(settings["payload"])
    invoke = OperatorTask(task_id=task.task_id, operator=INVOKE_OPERATOR, kwargs=kwargs)
    return [create_task(task, ctx), invoke] if "create_if_missing" in settings else [invoke]
