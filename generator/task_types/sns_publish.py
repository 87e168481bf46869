"""``sns_publish``: publish one message to an Amazon SNS topic.

Lowers to ``SnsPublishOperator`` (both provider lines) with the topic ARN, the message and, when given,
the subject and the message attributes; all of them are templated, so a message can carry what an
earlier task returned (``{{ ti.xcom_pull(task_ids='...') }}``).  The task returns the message id.

**A retry publishes again**: SNS has no idempotency token for standard topics, so a try whose Publish
succeeded but whose task then failed (a lost response, a lost worker) sends a second, identical message.
Subscribers must tolerate duplicates (SNS delivers at least once anyway).
"""

from __future__ import annotations

from typing import Any

from generator.core.lowering_context import LowerContext
from generator.core.model import OperatorTask, TaskSpec
from generator.core.schema_parts import TEMPLATED_STRING, prop

NAME = "sns_publish"
SUMMARY = "Publish a message to an Amazon SNS topic."
OPERATORS = ("airflow.providers.amazon.aws.operators.sns.SnsPublishOperator",)

TOPIC_ARN = {
    "type": "string",
    "pattern": r"^(arn:aws[a-z-]*:sns:[a-z]{2}(-[a-z]+)+-[0-9]:[0-9]{12}:[A-Za-z0-9_-]{1,256}|.*(\{\{|\{%).*)$",
    "title": "SNS topic ARN",
}
ATTRIBUTE_VALUE = {
    "anyOf": [
        {"type": "string", "minLength": 1},
        {"type": "number"},
        {"type": "array", "items": {"type": "string"}, "minItems": 1},
    ]
}

PROPERTIES = {
    "topic_arn": prop(TOPIC_ARN, "ARN of the topic.", "arn:aws:sns:us-east-1:123456789012:daily-loads"),
    "message": prop(TEMPLATED_STRING, "The message (Jinja allowed).", "Loaded {{ ds }}"),
    "subject": prop(
        {**TEMPLATED_STRING, "maxLength": 100}, "Subject of the message (e-mail subscriptions show it).", "Daily load"
    ),
    "message_attributes": prop(
        {
            "type": "object",
            "propertyNames": {"minLength": 1, "maxLength": 256},
            "additionalProperties": ATTRIBUTE_VALUE,
        },
        "Message attributes: a string is `String`, a number `Number`, a list of strings `String.Array`.",
        {"pipeline": "daily_loads", "rows": 42},
    ),
}
REQUIRED = ("topic_arn", "message")


def lower(task: TaskSpec, ctx: LowerContext) -> list[OperatorTask]:
    settings = task.settings
    kwargs: dict[str, Any] = {**ctx.aws(), "target_arn": settings["topic_arn"], "message": settings["message"]}
    if "subject" in settings:
        kwargs["subject"] = settings["subject"]
    if "message_attributes" in settings:
        kwargs["message_attributes"] = dict(settings["message_attributes"])
    return [OperatorTask(task_id=task.task_id, operator=OPERATORS[0], kwargs=kwargs)]
