"""IAM statements of the ``sns_publish`` tasks: sns:Publish on the topic a task names (widened when templated)."""

from __future__ import annotations

from generator.core.model import OperatorTask
from generator.iam.builder import PolicyBuilder, widen


def sns_publish_tasks(builder: PolicyBuilder, task: OperatorTask) -> None:
    topic = widen(task.kwargs["target_arn"])
    if not topic.startswith("arn:"):  # templated from its start: any topic of the account and region
        topic = builder.arns.make("sns", "*")
    builder.allow("SnsPublishMessages", ["sns:Publish"], [topic])
