"""The connections section of a preview: each Airflow connection the DAG's tasks and notifications use.

Read from the built DAG, not from a list of task types: every operator
attribute named ``*_conn_id`` that holds a connection id (``aws_conn_id``,
an ``http_wait`` task's ``http_conn_id``, a generic operator's
``redshift_conn_id``...), the SMTP connection of a task given Airflow's own
``email``, and the connections of the notifiers the DAG and its tasks call
(SNS through the AWS connection, email through the SMTP provider's
``SmtpNotifier``, whose default connection is read from the installed provider),
and the ``*conn_id`` keys of what a Python operator's callable receives (the
AWS connection of a ``run_if: {s3_exists: ...}`` check or a branch's S3 path).
A connection's type is what its argument's name says (``http_conn_id``: http).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# Where a Python operator keeps what its callable receives (a run_if check's condition, a branch's paths).
_ARGUMENT_ATTRIBUTES = frozenset({"op_args", "op_kwargs"})
_TASK_CALLBACKS = ("on_failure_callback", "on_retry_callback", "on_success_callback", "on_execute_callback")
_DAG_CALLBACKS = ("on_failure_callback", "on_success_callback", "sla_miss_callback")  # the last: Airflow 2


@dataclass(frozen=True, kw_only=True)
class ConnectionPreview:
    conn_id: str
    conn_type: str  # from the argument that names it: aws_conn_id -> aws; a bare conn_id -> any
    tasks: tuple[str, ...]  # the Airflow tasks whose operators use it, in the preview's order
    notifications: tuple[str, ...]  # the notification events whose targets use it (on_task_failure...)

    def to_json(self) -> dict[str, Any]:
        return {
            "conn_id": self.conn_id,
            "type": self.conn_type,
            "tasks": list(self.tasks),
            "notifications": list(self.notifications),
        }


def _kind(argument: str) -> str:
    return argument.lstrip("_").removesuffix("conn_id").removesuffix("_") or "any"


def _named(value: Any, depth: int = 0) -> Iterator[tuple[str, str]]:
    """(argument, conn id) of every ``*conn_id`` key in a value, JSON text included (a ``run_if`` condition's)."""
    if depth > 20:
        return
    if isinstance(value, str) and value.startswith("{") and "conn_id" in value:
        try:
            value = json.loads(value)
        except ValueError:
            return
    if isinstance(value, dict):
        for key, sub in value.items():
            if isinstance(key, str) and key.endswith("conn_id") and isinstance(sub, str) and sub:
                yield key, sub
            else:
                yield from _named(sub, depth + 1)
    elif isinstance(value, (list, tuple)):
        for sub in value:
            yield from _named(sub, depth + 1)


def _operator_connections(task: Any) -> list[tuple[str, str]]:
    """(conn id, type) of each connection an operator names: its ``*_conn_id`` attributes, and in its arguments."""
    found = []
    for name, value in sorted(vars(task).items()):
        if name.startswith("_"):
            continue
        if name.endswith("conn_id") and isinstance(value, str) and value:
            found.append((value, _kind(name)))
        elif name in _ARGUMENT_ATTRIBUTES:
            found.extend((conn_id, _kind(key)) for key, conn_id in _named(value))
    mailed = getattr(task, "email_on_failure", False) or getattr(task, "email_on_retry", False)
    if getattr(task, "email", None) and mailed:
        found.append((_email_conn_id(), "smtp"))  # Airflow's own task email
    return found


def _email_conn_id() -> str:
    """The connection Airflow's task email uses (``[email] email_conn_id``, on both majors)."""
    from airflow.configuration import conf

    return str(conf.get("email", "email_conn_id", fallback="smtp_default"))


def _smtp_notifier_conn_id(addresses: list[str]) -> str:
    """The connection an email notification target sends through: the SMTP notifier's default."""
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    return str(SmtpNotifier(to=addresses, subject="-").smtp_conn_id)


def _callbacks(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _notifier_targets(dag: Any) -> list[tuple[str, list[dict[str, Any]], str]]:
    """(event, targets, AWS connection) of every pipeline notifier the DAG or its tasks call."""
    from generator.compile.notifications import PipelineNotifier

    callbacks = [cb for name in _DAG_CALLBACKS for cb in _callbacks(getattr(dag, name, None))]
    callbacks += [cb for task in dag.tasks for name in _TASK_CALLBACKS for cb in _callbacks(getattr(task, name, None))]
    found = [(cb.event, cb.targets, cb.aws_conn_id) for cb in callbacks if isinstance(cb, PipelineNotifier)]
    for alert in _callbacks(getattr(dag, "deadline", None)):  # Airflow 3: the sla's Deadline Alert
        kwargs = getattr(getattr(alert, "callback", None), "kwargs", None) or {}
        if "targets" in kwargs:
            found.append(("on_sla_miss", kwargs["targets"], kwargs.get("aws_conn_id", "aws_default")))
    return found


def _target_connection(target: dict[str, Any], aws_conn_id: str) -> tuple[str, str] | None:
    if "sns" in target:
        return aws_conn_id, "aws"
    if "email" in target:
        return _smtp_notifier_conn_id(target["email"]), "smtp"
    return None  # a callback: whatever the function does


def connection_previews(dag: Any, task_order: list[str]) -> tuple[ConnectionPreview, ...]:
    """The DAG's connections, in order of first use (tasks in ``task_order``, then notifications)."""
    from generator.compile.notifications import EVENT_WORDS

    order = list(EVENT_WORDS)
    position = {task_id: index for index, task_id in enumerate(task_order)}
    kinds: dict[str, str] = {}
    tasks: dict[str, list[str]] = {}
    events: dict[str, list[str]] = {}
    for task in sorted(dag.tasks, key=lambda t: position.get(t.task_id, len(position))):
        for conn_id, kind in _operator_connections(task):
            kinds.setdefault(conn_id, kind)
            users = tasks.setdefault(conn_id, [])
            if task.task_id not in users:
                users.append(task.task_id)
    for event, targets, aws_conn_id in _notifier_targets(dag):
        for target in targets:
            named = _target_connection(target, aws_conn_id)
            if named is None:
                continue
            kinds.setdefault(named[0], named[1])
            told = events.setdefault(named[0], [])
            if event not in told:
                told.append(event)
    return tuple(
        ConnectionPreview(
            conn_id=conn_id,
            conn_type=kind,
            tasks=tuple(tasks.get(conn_id, ())),
            notifications=tuple(sorted(events.get(conn_id, ()), key=order.index)),
        )
        for conn_id, kind in kinds.items()
    )
