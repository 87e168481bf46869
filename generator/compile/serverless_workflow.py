"""Phase 5 for ``--target mwaa-serverless``: the dag-factory configuration as an MWAA Serverless workflow.

The input is the configuration :func:`generator.compile.pipelines.process` makes for an MWAA
environment (:mod:`generator.compile.dagfactory_config`, with ``Constructed`` markers, runtime
operators, ``dagen_teardowns``).  The output is the YAML of ``{dag_id: workflow}`` that the service
(and dag-factory 1.1 itself) loads: plain data only, no ``__type__`` markers, only operators and
keys of :mod:`generator.core.mwaa_serverless`:

* the DAG keys the service ignores are dropped; the schedule is cron or null; params are their
  defaults; durations are seconds;
* each task becomes allow-listed operators (:mod:`generator.compile.serverless_operators`);
* there is no setup/teardown: ``terminate_<cluster>`` runs with ``trigger_rule: all_done``, and one
  final check, :data:`~generator.core.mwaa_serverless.WORK_SUCCEEDED_TASK` (an ``EmptyOperator``
  after every last work task, not after the terminate tasks), keeps the run FAILED when a step
  failed, since a failed step leaves it ``upstream_failed``;
* SNS notifications on failure are ``SnsPublishOperator`` tasks with ``trigger_rule: one_failed``
  after the work tasks.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import yaml

from generator.compile.constructed import Constructed
from generator.compile.serverless_operators import NotServerless, Task, serverless_tasks
from generator.core import mwaa_serverless as rules

_TIMEDELTA = "datetime.timedelta"
_DURATION_KEYS = ("retry_delay", "max_retry_delay")
_DROPPED_TASK_KEYS = ("outlets", "on_failure_callback", "on_retry_callback", "on_success_callback", "sla")
_NOTIFIER = "generator.compile.notifications.PipelineNotifier"


def _seconds(key: str, value: Any) -> int:
    if not (isinstance(value, Constructed) and value.path == _TIMEDELTA):
        raise NotServerless(f"{key} is not a duration: {value!r}")
    return int(value.kwargs["seconds"])


def _plain(where: str, value: Any) -> Any:
    """Plain data; a marker left here (an asset, a Param, a Deadline) was not refused by the checks."""
    if isinstance(value, Constructed):
        raise NotServerless(f"{where} holds a {value.path} object, which an MWAA Serverless workflow cannot carry")
    if isinstance(value, dict):
        return {key: _plain(where, sub) for key, sub in value.items()}
    if isinstance(value, list):
        return [_plain(where, sub) for sub in value]
    return value


def _task_values(task_id: str, task: Task) -> Task:
    out: Task = {}
    for key, value in task.items():
        if key in _DROPPED_TASK_KEYS:
            continue
        if key == "execution_timeout":
            if _seconds(key, value) != rules.DEFAULT_EXECUTION_SECONDS:
                raise NotServerless(f"task '{task_id}' sets execution_timeout: the serverless checks refuse it")
            continue  # the service's own cap
        out[key] = _seconds(key, value) if key in _DURATION_KEYS else _plain(f"task '{task_id}'", value)
    return out


def _date(value: str) -> str:
    moment = datetime.fromisoformat(value)
    if moment.utcoffset() not in (None, timezone.utc.utcoffset(None)):
        raise NotServerless(f"date {value} is not UTC: the serverless checks refuse a time zone")
    plain = moment.replace(tzinfo=None)
    return plain.date().isoformat() if plain.time() == datetime.min.time() else plain.isoformat()


def _schedule(value: Any) -> str | None:
    if isinstance(value, Constructed):
        raise NotServerless(f"the schedule is {value.path}: the serverless checks refuse asset schedules")
    if value is None or value == "none":
        return None
    if isinstance(value, str) and value.startswith("@") and value not in rules.PRESET_CRON:
        raise NotServerless(f"schedule {value} has no cron expression: the serverless checks refuse it")
    return rules.schedule_cron(value)


def _defaults(default_args: dict[str, Any]) -> tuple[dict[str, Any], Task, list[dict[str, Any]]]:
    """(the workflow's default_args, what each task gets instead, the notifier callbacks found)."""
    kept: dict[str, Any] = {}
    per_task: Task = {}
    notifiers: list[dict[str, Any]] = []
    for key, value in default_args.items():
        if key.endswith("_callback") or key == "sla":
            if isinstance(value, dict) and value.get("callback") == _NOTIFIER:
                notifiers.append(value)
            continue
        if key in ("email_on_failure", "email_on_retry") and value is False:
            continue  # what the service does anyway
        if key == "execution_timeout" and _seconds(key, value) == rules.DEFAULT_EXECUTION_SECONDS:
            continue  # the service's own cap
        if key in _DURATION_KEYS:
            value = _seconds(key, value)
        if key in rules.DEFAULT_ARGS_KEYS:
            kept[key] = value
        elif key in rules.TASK_KEYS:
            per_task[key] = value
        else:
            raise NotServerless(f"default {key} cannot be carried by an MWAA Serverless workflow")
    return kept, per_task, notifiers


def _notification_tasks(dag_id: str, notifiers: list[dict[str, Any]], work: list[str]) -> dict[str, Task]:
    tasks: dict[str, Task] = {}
    for notifier in notifiers:
        event = notifier["event"]
        if event not in rules.SNS_EVENTS:
            raise NotServerless(f"notifications.{event} cannot be carried: the serverless checks refuse it")
        for index, target in enumerate(notifier["targets"], start=1):
            if "sns" not in target:
                raise NotServerless(f"notifications.{event} has a target other than SNS: the checks refuse it")
            tasks[f"{rules.GENERATED_PREFIX}notify_{event}_{index}"] = {
                "operator": rules.SNS_OPERATOR,
                "aws_conn_id": notifier.get("aws_conn_id", "aws_default"),
                "target_arn": target["sns"],
                "subject": target.get("subject", f"{dag_id}: a task failed"),
                "message": f"A task of {dag_id} failed in run {{{{ run_id }}}} (logical date {{{{ ds }}}}).",
                "trigger_rule": "one_failed",
                "doc_md": f"Publish to SNS when a task fails (notifications.{event}).",
                "dependencies": list(work),
            }
    return tasks


def _wired(config: dict[str, Any], per_task: Task) -> tuple[dict[str, Task], set[str]]:
    """The serverless tasks, dependencies rewired to each task's exit, and the tasks out of the run's state."""
    exits: dict[str, str] = {}
    tasks: dict[str, Task] = {}
    for task_id, task in config["tasks"].items():
        pairs = serverless_tasks(task_id, {**per_task, **_task_values(task_id, task)})
        tasks.update(pairs)
        exits[task_id] = pairs[-1][0]
    for task_id, task in tasks.items():
        # the operator first, the dependencies last (an entry's upstream tasks are their exits)
        dependencies = task.pop("dependencies", [])
        tasks[task_id] = {"operator": task.pop("operator"), **task}
        tasks[task_id]["dependencies"] = [exits[dep] for dep in dependencies] if task_id in exits else dependencies
    # a teardown (a cluster's terminate task, a cleanup) is kept out of the run's state, as a teardown is
    teardowns = {task_id.rpartition(".")[2] for task_id in config.get("dagen_teardowns", {})}
    return tasks, {exits[task_id] for task_id in teardowns}


def to_workflow(dag_id: str, config: dict[str, Any]) -> dict[str, Any]:
    """The MWAA Serverless workflow (the value under ``dag_id``) of one pipeline's dag-factory configuration."""
    default_args, per_task, notifiers = _defaults(config.get("default_args", {}))
    notifiers += [value for key, value in config.items() if key.endswith("_callback") and isinstance(value, dict)]
    if any(notifier.get("callback") != _NOTIFIER for notifier in notifiers):
        raise NotServerless("a callback other than dagen's notifier: the serverless checks refuse callbacks")
    if "dagen_deadline" in config or "sla_miss_callback" in config:
        raise NotServerless("the pipeline has an sla: the serverless checks refuse it")
    workflow: dict[str, Any] = {"default_args": default_args, "schedule": _schedule(config.get("schedule"))}
    for key in ("start_date", "end_date"):
        if key in config:
            workflow[key] = _date(config[key])
    for key in ("max_active_runs", "max_active_tasks", "doc_md", "task_groups"):
        if key in config:
            workflow[key] = _plain(key, config[key])
    if "params" in config:
        workflow["params"] = {name: _param_default(name, param) for name, param in config["params"].items()}
    tasks, out_of_state = _wired(config, per_task)
    work = [task_id for task_id in tasks if task_id not in out_of_state]
    downstream = {dep for task_id in work for dep in tasks[task_id]["dependencies"]}
    leaves = [task_id for task_id in work if task_id not in downstream]
    tasks[rules.WORK_SUCCEEDED_TASK] = {
        "operator": rules.EMPTY_OPERATOR,
        "doc_md": "Succeeds only when every last work task succeeded: the run's state is the work's, not "
        "the terminate tasks'.",
        "dependencies": leaves,
    }
    tasks.update(_notification_tasks(dag_id, notifiers, work))
    workflow["tasks"] = tasks
    return workflow


def _param_default(name: str, param: Any) -> Any:
    if isinstance(param, Constructed) and param.args:
        return _plain(f"param {name}", param.args[0])
    return _plain(f"param {name}", param)


def workflow_yaml(dag_id: str, config: dict[str, Any]) -> str:
    """The workflow definition file: YAML of ``{dag_id: workflow}`` (loadable by ``dagfactory.load_yaml_dags``)."""
    return yaml.safe_dump({dag_id: to_workflow(dag_id, config)}, sort_keys=False, allow_unicode=True, width=120)
