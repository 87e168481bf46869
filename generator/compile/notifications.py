"""The notifier a spec's ``notifications`` compile to: one callback fanning out to its targets.

Airflow callbacks are Python objects; dag-factory builds this one from plain
data (``{"callback": "generator.compile.notifications.PipelineNotifier", ...}``), so a
spec never needs Python.  Each target is an SNS topic (the provider's
SnsNotifier), email addresses (the SMTP provider's SmtpNotifier), or a function
by dotted path from a module shipped beside the pipelines.  One failing target
does not stop the others; the errors are logged.

A missed ``sla`` reaches the same notifier by each Airflow's own route:
Airflow 2 calls the DAG's ``sla_miss_callback`` (with the late tasks), Airflow 3
runs a Deadline Alert's callback in the triggerer (:func:`notify_sla_miss`,
with the run and its deadline).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from jinja2.sandbox import SandboxedEnvironment

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
    "on_sla_miss": "missed its SLA",
}
TASK_EVENTS = ("on_task_failure", "on_task_retry")


def default_subject(event: str) -> str:
    if event in TASK_EVENTS:
        return f"[Airflow] {{{{ dag.dag_id }}}}.{{{{ ti.task_id }}}} {EVENT_WORDS[event]}"
    return f"[Airflow] {{{{ dag.dag_id }}}} {EVENT_WORDS[event]}"


def default_message(event: str, sla: str | None = None) -> str:
    lines = [f"DAG {{{{ dag.dag_id }}}}: {EVENT_WORDS[event]}"]
    if event == "on_sla_miss":
        # Airflow 3 tells the run and its deadline; Airflow 2 the tasks that were late.
        lines += [
            f"A run should finish within {sla} of its logical date.",
            "{% if deadline_time is defined %}Run: {{ run_id }} (deadline {{ deadline_time }}){% endif %}"
            "{% if task_list is defined %}Late tasks:\n{{ task_list }}{% endif %}",
        ]
        return "\n".join(lines)
    lines.append("Run: {{ run_id }}")
    if event in TASK_EVENTS:
        lines += ["Task: {{ ti.task_id }} (try {{ ti.try_number }})", "Log: {{ ti.log_url }}"]
    return "\n".join(lines)


class PipelineNotifier(BaseNotifier):  # type: ignore[misc]
    """Tell every target of one event."""

    template_fields = ("targets",)

    def __init__(
        self, *, event: str, targets: list[dict[str, Any]], aws_conn_id: str = "aws_default", sla: str | None = None
    ) -> None:
        super().__init__()
        self.event = event
        self.targets = targets
        self.aws_conn_id = aws_conn_id
        self.sla = sla

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
                        message=default_message(self.event, self.sla),
                    )
                )
            elif "email" in target:
                from airflow.providers.smtp.notifications.smtp import SmtpNotifier

                body = default_message(self.event, self.sla).replace("\n", "<br>\n")
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
    from generator.runtime.pipeline_modules import import_pipeline_callable, pipelines_folder

    return import_pipeline_callable(path, pipelines_folder(context["dag"].fileloc))


class DeadlineDag:
    """What a Deadline Alert's context tells of the DAG: its id (the triggerer has no DAG object)."""

    render_template_as_native_obj = False

    def __init__(self, dag_id: str) -> None:
        from airflow.configuration import conf

        self.dag_id = dag_id
        # The loader's file in the DAGs folder: callback targets are found in the pipelines/ folder beside it.
        self.fileloc = str(Path(conf.get("core", "dags_folder")) / "pipelines_loader.py")

    def get_template_env(self, force_sandboxed: bool = False) -> SandboxedEnvironment:
        return SandboxedEnvironment(cache_size=0)


async def notify_sla_miss(
    *, targets: list[dict[str, Any]], aws_conn_id: str, sla: str, context: dict[str, Any] | None = None
) -> None:
    """Airflow 3's Deadline Alert callback for ``sla``: tell the ``on_sla_miss`` targets (runs in the triggerer).

    ``context`` is what Airflow's scheduler hands a missed deadline: the run (``dag_run``, as the REST API
    shows it) and the ``deadline``.  The targets are told as on Airflow 2, in a thread (they are blocking).
    """
    run = dict((context or {}).get("dag_run") or {})
    deadline = dict((context or {}).get("deadline") or {})
    notifier_context = {
        "dag": DeadlineDag(run.get("dag_id", "")),
        "dag_run": run,
        "run_id": run.get("dag_run_id"),
        "logical_date": run.get("logical_date"),
        "deadline_time": deadline.get("deadline_time"),
    }
    notifier = PipelineNotifier(event="on_sla_miss", targets=targets, aws_conn_id=aws_conn_id, sla=sla)
    await asyncio.to_thread(notifier, notifier_context)
