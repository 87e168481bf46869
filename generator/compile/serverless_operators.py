"""Phase 5 for ``--target mwaa-serverless``: each configured task as tasks of the service's operator list.

A dagen runtime operator becomes its provider base class with the arguments the base takes; a task
that waits inside one try on an MWAA environment but may wait longer than the service's one-hour
try (an EMR step, a notebook) becomes its start operator and a ``<task>_wait`` sensor in reschedule
mode (one short try per poke); so does an EMR cluster's create task, so that a retry never starts a
second cluster.  Nothing here imports Airflow: operators are named by path, and a
test checks every argument against the class signature.  What the serverless checks refuse
(:mod:`generator.spec.serverless_checks`) raises :class:`NotServerless` if it ever gets here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from generator.core import mwaa_serverless as rules

Task = dict[str, Any]
_AWS = "airflow.providers.amazon.aws"
_EMR = f"{_AWS}.operators.emr"
_RUNTIME = "generator.runtime."
_RETRY_KEYS = ("retries", "retry_delay", "retry_exponential_backoff", "max_retry_delay")


class NotServerless(ValueError):
    """An internal error: a configuration the serverless checks should have refused reached the compiler."""


def _drop(task: Task, *keys: str) -> Task:
    return {key: value for key, value in task.items() if key not in keys}


def _xcom(task_id: str, task: Task, suffix: str = "") -> str:
    group = task.get("task_group_name")
    airflow_id = f"{group}.{task_id}" if group else task_id
    return f"{{{{ ti.xcom_pull(task_ids='{airflow_id}'){suffix} }}}}"


def _wait(task_id: str, task: Task, sensor: str, kwargs: dict[str, Any]) -> tuple[str, Task]:
    """``<task>_wait``: the sensor, in reschedule mode, polling as long as the task waited before."""
    shared = ("aws_conn_id", "region_name", "task_group_name", *_RETRY_KEYS)
    common: Task = {key: task[key] for key in shared if key in task}
    delay, attempts = int(task.get("waiter_delay", 30)), int(task.get("waiter_max_attempts", 1))
    wait = {
        "operator": sensor,
        **common,
        **kwargs,
        "mode": "reschedule",
        "poke_interval": delay,
        "timeout": delay * attempts,
        "doc_md": f"Wait for `{task_id}` (a sensor in reschedule mode: one short try per poke).",
        "dependencies": [task_id],
    }
    return f"{task_id}{rules.WAIT_SUFFIX}", wait


def _emr_step(task_id: str, task: Task) -> list[tuple[str, Task]]:
    start = {
        **_drop(task, "deferrable", "waiter_delay", "waiter_max_attempts"),
        "wait_for_completion": False,
    }
    sensor = f"{_AWS}.sensors.emr.EmrStepSensor"
    step_id = {"job_flow_id": task["job_flow_id"], "step_id": _xcom(task_id, task, "[0]")}
    return [(task_id, start), _wait(task_id, task, sensor, step_id)]


def _create_cluster(task_id: str, task: Task) -> list[tuple[str, Task]]:
    """RunJobFlow alone (a retry happens only when the call failed, so it starts no second cluster), then a wait.

    Waiting inside the create task, a retry after a failed wait would start a second cluster and leave the
    first running: the provider's operator does not adopt the cluster an earlier try started.
    """
    start = {
        **_drop(task, "deferrable", "waiter_delay", "waiter_max_attempts"),
        "operator": f"{_EMR}.EmrCreateJobFlowOperator",
        "wait_for_completion": False,
        "doc_md": f"Start the EMR cluster (RunJobFlow); `{task_id}{rules.WAIT_SUFFIX}` waits until it is ready.",
    }
    sensor = f"{_AWS}.sensors.emr.EmrJobFlowSensor"
    states = {
        "job_flow_id": _xcom(task_id, task),
        "target_states": ["WAITING", "RUNNING"],
        "failed_states": ["TERMINATING", "TERMINATED", "TERMINATED_WITH_ERRORS"],
    }
    return [(task_id, start), _wait(task_id, task, sensor, states)]


def _emr_notebook(task_id: str, task: Task) -> list[tuple[str, Task]]:
    start_keys = ("editor_id", "relative_path", "cluster_id", "service_role", "notebook_execution_name")
    start: Task = {
        "operator": f"{_EMR}.EmrStartNotebookExecutionOperator",
        **{key: task[key] for key in ("aws_conn_id", "region_name", *start_keys) if key in task},
        **({"notebook_params": task["notebook_params"]} if task.get("notebook_params") else {}),
        **({"tags": task["tags"]} if task.get("tags") else {}),
        "wait_for_completion": False,
        **{key: task[key] for key in rules.TASK_KEYS if key not in ("operator", "dependencies") and key in task},
        "dependencies": task["dependencies"],
    }
    poll, timeout = int(task.get("poke_interval", 30)), int(task.get("timeout", 6 * 3600))
    waiting = {**task, "waiter_delay": poll, "waiter_max_attempts": max(1, -(-timeout // poll))}
    sensor = f"{_AWS}.sensors.emr.EmrNotebookExecutionSensor"
    wait_id, wait = _wait(task_id, waiting, sensor, {"notebook_execution_id": _xcom(task_id, task)})
    return [(task_id, start), (wait_id, wait)]


def _base(operator: str, *drop: str) -> Callable[[str, Task], list[tuple[str, Task]]]:
    def mapped(task_id: str, task: Task) -> list[tuple[str, Task]]:
        return [(task_id, {**_drop(task, *drop), "operator": operator})]

    return mapped


def _glue_crawler(task_id: str, task: Task) -> list[tuple[str, Task]]:
    legacy = {**_drop(task, "crawler_name"), "config": {"Name": task["crawler_name"]}}
    return [(task_id, {**legacy, "operator": f"{_AWS}.operators.glue_crawler.GlueCrawlerOperator"})]


def _terminate(task_id: str, task: Task) -> list[tuple[str, Task]]:
    terminate = _drop(task, "cluster_name", "cluster_tags")
    return [(task_id, {**terminate, "operator": f"{_EMR}.EmrTerminateJobFlowOperator", "trigger_rule": "all_done"})]


# configured operator -> its serverless tasks (the first is the entry, the last the exit)
MAPPINGS: dict[str, Callable[[str, Task], list[tuple[str, Task]]]] = {
    "generator.runtime.emr_cluster.RetrySafeEmrCreateJobFlowOperator": _create_cluster,
    "generator.runtime.emr_cluster.RetrySafeEmrTerminateJobFlowOperator": _terminate,
    "generator.runtime.emr_notebook.RetrySafeEmrNotebookExecutionOperator": _emr_notebook,
    "generator.runtime.step_function.RetrySafeStepFunctionStartExecutionOperator": _base(
        f"{_AWS}.operators.step_function.StepFunctionStartExecutionOperator"
    ),
    "generator.runtime.emr_serverless.RetrySafeEmrServerlessStartJobOperator": _base(
        f"{_EMR}.EmrServerlessStartJobOperator"
    ),
    "generator.runtime.emr_containers.RetrySafeEmrContainerOperator": _base(f"{_EMR}.EmrContainerOperator"),
    f"{_EMR}.EmrAddStepsOperator": _emr_step,
    f"{_AWS}.operators.glue_crawler.GlueCrawlerRunOperator": _glue_crawler,
}


def serverless_tasks(task_id: str, task: Task) -> list[tuple[str, Task]]:
    """The task's serverless form: one or more (task id, task) pairs, entry first, exit last."""
    operator = task["operator"]
    if "expand" in task or "partial" in task:
        raise NotServerless(f"task '{task_id}' is mapped at run time: the serverless checks refuse it (DG801)")
    if operator in MAPPINGS:
        return MAPPINGS[operator](task_id, task)
    if operator.startswith(_RUNTIME) or operator not in rules.ALLOWED_OPERATORS:
        raise NotServerless(
            f"task '{task_id}' uses {operator}, which MWAA Serverless does not run: the serverless checks "
            "refuse it (DG801/DG802)"
        )
    return [(task_id, dict(task))]
