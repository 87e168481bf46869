"""The notifier a spec's ``notifications`` compile to: one callback fanning out to its targets.

Airflow callbacks are Python objects; dag-factory builds this one from plain
data (``{"callback": "generator.notifications.PipelineNotifier", ...}``), so a
spec never needs Python.  Each target is an SNS topic (the provider's
SnsNotifier), email addresses (the SMTP provider's SmtpNotifier), or a function
by dotted path from a module shipped beside the pipelines.  One failing target
does not stop the others; the errors are logged.
"""

from __future__ import annotations

import logging
from typing import Any

try:
    from airflow.sdk import BaseNotifier
except ImportError:  # Airflow 2
    from airflow.notifications.basenotifier import BaseNotifier  # type: ignore[no-redef]

log = logging.getLogger(__name__)

EVENT_WORDS = {
    "on_task_failure": "failed",
    "on_task_retry": "is up for retry",
    "on_run_failure": "run failed",
    "on_run_success": "run succeeded",
}
TASK_EVENTS = ("on_task_failure", "on_task_retry")


def default_subject(event: str) -> str:
    if event in TASK_EVENTS:
        return f"[Airflow] {{{{ dag.dag_id }}}}.{{{{ ti.task_id }}}} {EVENT_WORDS[event]}"
    return f"[Airflow] {{{{ dag.dag_id }}}} {EVENT_WORDS[event]}"


def default_message(event: str) -> str:
    lines = [
        f"DAG {{{{ dag.dag_id }}}}: {EVENT_WORDS[event]}",
        "Run: {{ run_id }}",
    ]
    if event in TASK_EVENTS:
        lines += ["Task: {{ ti.task_id }} (try {{ ti.try_number }})", "Log: {{ ti.log_url }}"]
    return "\n".join(lines)


class PipelineNotifier(BaseNotifier):  # type: ignore[misc]
    """Tell every target of one event."""

    template_fields = ("targets",)

    def __init__(self, *, event: str, targets: list[dict[str, Any]], aws_conn_id: str = "aws_default") -> None:
        super().__init__()
        self.event = event
        self.targets = targets
        self.aws_conn_id = aws_conn_id

    def _notifiers(self, context: Any) -> list[Any]:
        notifiers: list[Any] = []
        for target in self.targets:
            subject = target.get("subject") or default_subject(self.event)
            if "sns" in target:
                from airflow.providers.amazon.aws.notifications.sns import SnsNotifier

                notifiers.append(
                    SnsNotifier(
                        aws_conn_id=self.aws_conn_id,
                        target_arn=target["sns"],
                        subject=subject,
                        message=default_message(self.event),
                    )
                )
            elif "email" in target:
                from airflow.providers.smtp.notifications.smtp import SmtpNotifier

                body = default_message(self.event).replace("\n", "<br>\n")
                notifiers.append(SmtpNotifier(to=target["email"], subject=subject, html_content=body))
            else:
                notifiers.append(_pipeline_function(target["callback"], context))
        return notifiers

    def notify(self, context: Any) -> None:
        for notifier in self._notifiers(context):
            try:
                notifier(context)
            except Exception:  # noqa: BLE001 - one broken target must not silence the others
                log.exception("notification %s for %s failed", notifier, self.event)


def _pipeline_function(path: str, context: Any) -> Any:
    """A function of a module under pipelines/ (as `python` tasks find theirs), found from the DAG's file."""
    from generator.task_types.python import import_pipeline_callable, pipelines_folder

    return import_pipeline_callable(path, pipelines_folder(context["dag"].fileloc))
