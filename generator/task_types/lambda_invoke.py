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
"""

from __future__ import annotations

from typing import Any

from generator.core.lowering_context import LowerContext
from generator.core.model import OperatorTask, TaskSpec
from generator.core.schema_parts import TEMPLATED_STRING, prop
from generator.core.templating import json_with_templates

NAME = "lambda_invoke"
SUMMARY = "Invoke an AWS Lambda function with a JSON payload."
OPERATORS = ("airflow.providers.amazon.aws.operators.lambda_function.LambdaInvokeFunctionOperator",)
MAPPED_KWARG = "payload"  # the argument that holds {{ item }} when the task is mapped at run time
MAPPED_SETTINGS = ("payload",)  # the keys of the spec that go into it

# Lambda stops a function after 900 s; past that (plus time to return the response) nothing can arrive.
LAMBDA_MAX_SECONDS = 900
RESPONSE_MARGIN_SECONDS = 60

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
}
REQUIRED = ("function_name",)


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
    return [OperatorTask(task_id=task.task_id, operator=OPERATORS[0], kwargs=kwargs)]
