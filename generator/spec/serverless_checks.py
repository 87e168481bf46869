"""Phase 2c, validate for ``--target mwaa-serverless``: what the service cannot run, or would ignore.

Runs on the merged, fan-out-expanded spec after the semantic checks (only with that target).  Every
rule comes from :mod:`generator.core.mwaa_serverless`; each diagnostic is located at the spec key
that asked for the construct, so what reaches :mod:`generator.compile.serverless_workflow` is what
the workflow can say.  Keys the service ignores but that change no run (``description``, ``tags``,
``catchup: false``, ``email_on_failure: false``) are dropped from the workflow, not refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from generator.core import mwaa_serverless as rules
from generator.core.diagnostics import Diagnostic
from generator.core.lowering_context import create_cluster_task_id
from generator.core.value_formats import seconds

At = Callable[..., dict[str, Any]]
_TARGET = "MWAA Serverless"


def _diagnostic(code: str, where: dict[str, Any], message: str, hint: str) -> Diagnostic:
    return Diagnostic(code=code, **where, message=message, hint=hint)


def _schedule(spec: dict[str, Any], at: At) -> Iterator[Diagnostic]:
    schedule = spec.get("schedule")
    if isinstance(schedule, dict):
        yield _diagnostic(
            "DG805",
            at(("schedule",), key=True),
            f"{_TARGET} has no asset schedules: a workflow runs on a cron expression or only when started",
            "use a cron expression, or schedule: null and start the workflow from the producer (StartWorkflowRun)",
        )
    elif isinstance(schedule, str) and schedule.startswith("@") and schedule not in rules.PRESET_CRON:
        yield _diagnostic(
            "DG805",
            at(("schedule",)),
            f"schedule '{schedule}' is not a cron expression, and {_TARGET} takes only cron or null",
            "use a cron expression (e.g. '0 0 * * *'), or schedule: null for runs started by hand",
        )


def _pipeline_settings(spec: dict[str, Any], at: At) -> Iterator[Diagnostic]:
    if spec.get("catchup") is True:
        yield _diagnostic(
            "DG803",
            at(("catchup",)),
            f"{_TARGET} ignores catchup: the intervals missed since start_date would not run",
            "remove catchup (or set it to false), and start runs for past dates by hand",
        )
    for key, what in (("dagrun_timeout", "a run that lasts too long"), ("sla", "a run that finishes late")):
        if key in spec:
            yield _diagnostic(
                "DG803",
                at((key,), key=True),
                f"{_TARGET} ignores {key}: nothing would stop or report {what}",
                f"remove {key}; on {_TARGET} each task try stops after {rules.MAX_EXECUTION_SECONDS // 60} minutes",
            )
    if spec.get("timezone") not in (None, "UTC", "Etc/UTC"):
        yield _diagnostic(
            "DG803",
            at(("timezone",)),
            f"an {_TARGET} workflow has no time zone: its cron schedule and dates are UTC",
            "remove timezone and write the schedule in UTC",
        )
    defaults = spec.get("task_defaults", {})
    if "email" in defaults:
        yield _diagnostic(
            "DG803",
            at(("task_defaults", "email"), key=True),
            f"{_TARGET} sends no email: nobody would be told",
            "remove email and notify through SNS: notifications: {on_task_failure: [{sns: TOPIC_ARN}]}",
        )
    for key in ("email_on_failure", "email_on_retry"):
        if defaults.get(key) is True:
            yield _diagnostic(
                "DG803",
                at(("task_defaults", key)),
                f"{_TARGET} ignores {key}: no email would be sent",
                "remove it (or set it to false) and notify through SNS under notifications.on_task_failure",
            )


def _notifications(spec: dict[str, Any], at: At) -> Iterator[Diagnostic]:
    for event, targets in spec.get("notifications", {}).items():
        for index, target in enumerate(targets):
            channel = next((key for key in ("sns", "email", "callback") if key in target), None)
            if channel == "sns" and event in rules.SNS_EVENTS:
                continue
            if channel is None:
                continue  # DG521 reported it
            if event not in rules.SNS_EVENTS:
                message = f"{_TARGET} cannot notify {event}: a workflow publishes to SNS only after a failure"
                hint = "move the target to notifications.on_task_failure or on_run_failure (sns only), or remove it"
            else:
                message = f"{_TARGET} has no {channel} notifications: only an SNS publish after a failure"
                hint = f"use {{sns: TOPIC_ARN}} under notifications.{event} (subscribe the emails to the topic)"
            yield _diagnostic("DG803", at(("notifications", event, index, channel), key=True), message, hint)


def _limits(task_id: str | None, values: dict[str, Any], task_type: str | None, at: At) -> Iterator[Diagnostic]:
    base: tuple[str, ...] = ("tasks", task_id) if task_id else ("task_defaults",)
    retries = values.get("retries")
    if isinstance(retries, int) and retries > rules.MAX_RETRIES:
        yield _diagnostic(
            "DG804",
            at((*base, "retries")),
            f"retries {retries} is over {_TARGET}'s limit of {rules.MAX_RETRIES}",
            f"set retries to {rules.MAX_RETRIES} or fewer",
        )
    if "retry_delay" in values and seconds(values["retry_delay"]) > rules.MAX_RETRY_DELAY_SECONDS:
        yield _diagnostic(
            "DG804",
            at((*base, "retry_delay")),
            f"retry_delay {values['retry_delay']} is over {_TARGET}'s limit of "
            f"{rules.MAX_RETRY_DELAY_SECONDS // 60} minutes",
            f"set retry_delay to {rules.MAX_RETRY_DELAY_SECONDS // 60}m or less",
        )
    if "execution_timeout" in values:
        value = seconds(values["execution_timeout"])
        if value > rules.MAX_EXECUTION_SECONDS:
            yield _diagnostic(
                "DG804",
                at((*base, "execution_timeout")),
                f"execution_timeout {values['execution_timeout']} is over {_TARGET}'s limit of 1 hour per try",
                "split the work, or run it where it may take longer (a Glue job, an EMR step)",
            )
        elif value < rules.MAX_EXECUTION_SECONDS:
            yield _diagnostic(
                "DG803",
                at((*base, "execution_timeout")),
                f"an {_TARGET} workflow cannot carry execution_timeout {values['execution_timeout']}: "
                "every try stops after 1 hour",
                "remove execution_timeout (or set it to 1h)",
            )
    if task_id is not None and rules.waits_in_one_try(values) and "timeout" in values:
        yield from _wait_over_cap((*base, "timeout"), values["timeout"], [str(task_type)], at)


def _wait_over_cap(pointer: tuple[str, ...], value: Any, task_types: list[str], at: At) -> Iterator[Diagnostic]:
    if seconds(value) > rules.MAX_EXECUTION_SECONDS:
        kinds = sorted(set(task_types))
        if len(kinds) == 1:
            waits = f"{'an' if kinds[0][0] in 'aeiou' else 'a'} {kinds[0]} task waits in one try"
        else:
            waits = f"{', '.join(kinds[:-1])} and {kinds[-1]} tasks wait in one try"
        yield _diagnostic(
            "DG804",
            at(pointer),
            f"timeout {value} is over {_TARGET}'s limit of 1 hour: {waits}",
            "set timeout to 1h or less, or split the work into shorter tasks",
        )


def _generated_ids(spec: dict[str, Any], at: At) -> Iterator[Diagnostic]:
    tasks = spec.get("tasks", {})
    taken = {f"{task_id}{rules.WAIT_SUFFIX}": task_id for task_id, task in tasks.items()}
    taken = {wait: task_id for wait, task_id in taken.items() if tasks[task_id].get("type") in rules.SPLIT_WAITS}
    for cluster in spec.get("clusters") or {}:  # a cluster's create task waits in a task of its own too
        taken[f"{create_cluster_task_id(cluster)}{rules.WAIT_SUFFIX}"] = create_cluster_task_id(cluster)
    for task_id in tasks:
        generated = task_id.startswith(rules.GENERATED_PREFIX)
        if generated or task_id in taken:
            why = "dagen's own tasks" if generated else f"the wait of task '{taken[task_id]}'"
            yield _diagnostic(
                "DG304",
                at(("tasks", task_id), key=True),
                f"task id '{task_id}' is taken on {_TARGET} by {why}",
                f"rename the task (ids starting '{rules.GENERATED_PREFIX}' and '<task>{rules.WAIT_SUFFIX}' "
                "are the workflow's)",
            )


def _task(task_id: str, task: dict[str, Any], at: At) -> Iterator[Diagnostic]:
    task_type = task.get("type")
    if task_type in rules.UNRUNNABLE_TYPES:
        yield _diagnostic(
            "DG801",
            at(("tasks", task_id, "type")),
            f"task '{task_id}' cannot run on {_TARGET}: a {task_type} task {rules.UNRUNNABLE_TYPES[task_type]}",
            "run this pipeline on an MWAA environment (--target airflow3), or replace the task with an AWS "
            "service task (lambda_invoke, glue_job, step_function...)",
        )
    if task_type == "lambda_invoke" and "create_if_missing" in task:
        yield _diagnostic(
            "DG801",
            at(("tasks", task_id, "create_if_missing"), key=True),
            f"create_if_missing cannot run on {_TARGET}: the function is created by a dagen runtime task",
            "create the function outside the pipeline (CloudFormation, the console) and only invoke it",
        )
    if task_type == "glue_data_quality" and "ruleset" in task:
        yield _diagnostic(
            "DG801",
            at(("tasks", task_id, "ruleset"), key=True),
            f"ruleset cannot run on {_TARGET}: the ruleset is created or updated by a dagen runtime task",
            "create the ruleset outside the pipeline (CloudFormation, the console) and name it under rulesets",
        )
    if task_type == "s3_wait" and ("min_size" in task or "max_age" in task):
        key = "min_size" if "min_size" in task else "max_age"
        yield _diagnostic(
            "DG801",
            at(("tasks", task_id, key), key=True),
            f"{key} cannot run on {_TARGET}: the size and age checks are a dagen runtime sensor",
            "remove min_size and max_age (the wait is then for the key alone)",
        )
    if task_type == "wait_until" and task.get("resource") == "redshift_cluster":
        yield _diagnostic(
            "DG802",
            at(("tasks", task_id, "resource")),
            f"a wait for a Redshift cluster's state uses RedshiftClusterSensor, which is not on {_TARGET}'s list "
            "of supported operators",
            "wait inside the service instead (a redshift_sql task fails while the cluster is unavailable)",
        )
    if task_type == "operator" and task.get("operator") not in rules.ALLOWED_OPERATORS:
        yield _diagnostic(
            "DG802",
            at(("tasks", task_id, "operator")),
            f"operator '{task.get('operator')}' is not on {_TARGET}'s list of supported operators",
            "use one of the Amazon provider operators the service lists (generator/core/mwaa_serverless.py)",
        )
    if "run_if" in task:
        yield _diagnostic(
            "DG801",
            at(("tasks", task_id, "run_if"), key=True),
            f"run_if cannot run on {_TARGET}: the check is a dagen runtime operator (ShortCircuitOperator)",
            "remove run_if, or make the decision inside the service the task calls",
        )
    for_each = task.get("for_each")
    if isinstance(for_each, dict) and "output_of" in for_each:
        yield _diagnostic(
            "DG801",
            at(("tasks", task_id, "for_each", "output_of"), key=True),
            f"for_each: {{output_of: ...}} cannot run on {_TARGET}: the items are made by a dagen runtime task",
            "use a list known when the spec is compiled (for_each: [...], {param: NAME} or {matrix: ...})",
        )
    if task.get("outlets"):
        yield _diagnostic(
            "DG803",
            at(("tasks", task_id, "outlets"), key=True),
            f"{_TARGET} has no assets: the outlets of '{task_id}' would start no pipeline",
            "remove outlets; start the consumer with StartWorkflowRun, or give it a cron schedule",
        )
    yield from _limits(task_id, task, task_type, at)


def serverless_diagnostics(spec: dict[str, Any], at: At) -> list[Diagnostic]:
    """What a merged, expanded spec asks for that MWAA Serverless cannot run or would ignore."""
    found = [
        *_schedule(spec, at),
        *_pipeline_settings(spec, at),
        *_notifications(spec, at),
        *_limits(None, spec.get("task_defaults", {}), None, at),
    ]
    inheriting = []  # the types of the tasks that wait in one try for task_defaults.timeout
    for task_id, task in spec.get("tasks", {}).items():
        found.extend(_task(task_id, task, at))
        if "timeout" not in task and rules.waits_in_one_try(task):
            inheriting.append(str(task.get("type")))
    defaults = spec.get("task_defaults", {})
    if "timeout" in defaults and inheriting:
        found.extend(_wait_over_cap(("task_defaults", "timeout"), defaults["timeout"], inheriting, at))
    found.extend(_generated_ids(spec, at))
    for name, cluster in (spec.get("clusters") or {}).items():
        kind = cluster.get("kind", "emr")
        if kind != "emr" and "existing_cluster_id" not in cluster:
            found.append(
                _diagnostic(
                    "DG801",
                    at(("clusters", name, "kind")),
                    f"cluster '{name}' of kind {kind} cannot be created on {_TARGET}: its create and delete tasks "
                    "are dagen runtime operators",
                    "create it outside the pipeline and set existing_cluster_id",
                )
            )
    return found
