"""``wait_until``: wait until an AWS resource reaches one of the named states.

``resource`` is the kind (the table in :mod:`generator.task_types.wait_states`:
EMR cluster, step, notebook execution, EMR Serverless application and job run,
Step Functions execution, Glue crawler and job run, Redshift cluster, Lambda
function, Athena query), with that kind's identifying keys (templated strings,
typically ``{{ ti.xcom_pull(task_ids='start_job') }}``), ``states`` (the
target states) and, where the sensor lets them be replaced, ``failed_states``.

Lowers to the provider's own sensor of the kind, in reschedule mode (no worker
slot held between checks; ``poll_interval`` apart, failing after ``timeout``).
Reschedule rather than deferrable: the deferrable EMR cluster and step sensors
wait for a terminal state whatever the targets; the Redshift trigger cannot see
``cluster_not_found`` (its status call raises once the cluster is gone); the
other sensors cannot defer on both provider lines.  The Athena sensor checks once
per poke (``max_retries: 1``) so that the task, not one poke, does the waiting.
The Step Functions sensor also ends on ``PENDING_REDRIVE`` (it only fails on
its failure states); its only target named here is ``SUCCEEDED``.

**Retries.**  The task creates nothing and only reads the resource's state, so a
retry simply looks again: it succeeds at once if the resource is in a target
state by then, and fails again at once if it is in a failure state.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from generator.core.diagnostics import Diagnostic
from generator.core.lowering_context import LowerContext
from generator.core.model import OperatorTask, TaskSpec
from generator.core.schema_parts import TEMPLATED_STRING, prop
from generator.core.spec_values import did_you_mean
from generator.task_types.wait_states import ID_KEYS, KINDS, WaitKind, known_states, required_ids

NAME = "wait_until"
SUMMARY = "Wait until an EMR, Step Functions, Glue, Redshift, Lambda or Athena resource reaches a named state."
OPERATORS = tuple(dict.fromkeys(kind.sensor for kind in KINDS.values()))

_STATE_LIST = {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}}
_ID_EXAMPLES = {
    "job_flow_id": "{{ ti.xcom_pull(task_ids='create_etl') }}",
    "step_id": "{{ ti.xcom_pull(task_ids='add_steps')[0] }}",
    "notebook_execution_id": "{{ ti.xcom_pull(task_ids='run_notebook') }}",
    "application_id": "00fabcd1234efgh5",
    "job_run_id": "{{ ti.xcom_pull(task_ids='start_job') }}",
    "execution_arn": "{{ ti.xcom_pull(task_ids='start_execution') }}",
    "crawler_name": "raw-events",
    "job_name": "clean-events",
    "run_id": "{{ ti.xcom_pull(task_ids='clean_events') }}",
    "cluster_identifier": "analytics",
    "function_name": "load-partitions",
    "qualifier": "live",
    "query_execution_id": "{{ ti.xcom_pull(task_ids='count_events') }}",
}


def _kinds_of(key: str) -> str:
    return ", ".join(f"`{name}`" for name, kind in KINDS.items() if key in kind.ids)


PROPERTIES = {
    "resource": prop(
        {"enum": list(KINDS)},
        "What to wait on; each kind has its identifying keys and states (see the task types page).",
        "emr_serverless_job",
    ),
    **{
        key: prop(TEMPLATED_STRING, f"Identifies the resource of {_kinds_of(key)} waits.", _ID_EXAMPLES[key])
        for key in ID_KEYS
    },
    "states": prop(
        _STATE_LIST,
        "The states to wait for (any one of them ends the wait); the allowed ones depend on `resource`.",
        ["SUCCESS"],
    ),
    "failed_states": prop(
        _STATE_LIST,
        "States that fail the task at once (default: the sensor's own); only `emr_cluster`, `emr_step` and "
        "`emr_notebook` waits can change them.",
        ["TERMINATED_WITH_ERRORS"],
    ),
}
REQUIRED = ("resource", "states")


def _allowed(kind: WaitKind) -> str:
    return ", ".join(kind.states)


def _check_ids(task_id: str, task: dict[str, Any], name: str, kind: WaitKind, at: Any) -> Iterator[Diagnostic]:
    keys = ", ".join(kind.ids)
    for key in ID_KEYS:
        if key in task and key not in kind.ids:
            yield Diagnostic(
                code="DG542",
                **at(("tasks", task_id, key), key=True),
                message=f"wait_until '{task_id}' sets {key}, which a wait on {name} does not use",
                hint=f"a wait on {name} names it by {keys}",
            )
    for key in required_ids(kind):
        if key not in task:
            yield Diagnostic(
                code="DG542",
                **at(("tasks", task_id, "resource")),
                message=f"wait_until '{task_id}' waits on {name} but does not say which: {key} is missing",
                hint=f"a wait on {name} names it by {keys}",
            )


def _unknown(task_id: str, state: str, name: str, kind: WaitKind) -> dict[str, Any]:
    suggestion = did_you_mean(state, known_states(kind) + kind.pseudo)
    return {
        "code": "DG540",
        "message": f"wait_until '{task_id}': '{state}' is not a state of {name}",
        "hint": (f"{suggestion} " if suggestion else "") + f"a wait on {name} can wait for: {_allowed(kind)}",
    }


def _check_states(task_id: str, task: dict[str, Any], name: str, kind: WaitKind, at: Any) -> Iterator[Diagnostic]:
    for index, state in enumerate(task["states"]):
        pointer = ("tasks", task_id, "states", index)
        if state not in known_states(kind) and state not in kind.pseudo:
            yield Diagnostic(**at(pointer), **_unknown(task_id, state, name, kind))
        elif state not in kind.states:
            why = "it waits for no other state" if kind.fixed else "it fails the task on it"
            yield Diagnostic(
                code="DG541",
                **at(pointer),
                message=f"wait_until '{task_id}': the {name} sensor cannot wait for '{state}': {why}",
                hint=f"a wait on {name} can wait for: {_allowed(kind)}",
            )
    if kind.single and len(task["states"]) > 1:
        yield Diagnostic(
            code="DG543",
            **at(("tasks", task_id, "states", 1)),
            message=f"wait_until '{task_id}': the {name} sensor waits for one state, not {len(task['states'])}",
            hint="keep one state under states (add a second wait_until task for another)",
        )


def _check_failed(task_id: str, task: dict[str, Any], name: str, kind: WaitKind, at: Any) -> Iterator[Diagnostic]:
    if "failed_states" not in task:
        return
    if not kind.failed_configurable:
        failed = ", ".join(kind.failed) or "none"
        yield Diagnostic(
            code="DG544",
            **at(("tasks", task_id, "failed_states"), key=True),
            message=f"wait_until '{task_id}': the {name} sensor's failure states are fixed ({failed})",
            hint="remove failed_states",
        )
        return
    for index, state in enumerate(task["failed_states"]):
        pointer = ("tasks", task_id, "failed_states", index)
        if state not in known_states(kind):
            yield Diagnostic(**at(pointer), **_unknown(task_id, state, name, kind))
        elif state in task["states"]:
            yield Diagnostic(
                code="DG544",
                **at(pointer),
                message=f"wait_until '{task_id}': '{state}' is both a state to wait for and a failed state",
                hint=f"keep '{state}' under states or under failed_states, not both",
            )


def check(task_id: str, task: dict[str, Any], at: Any) -> Iterator[Diagnostic]:
    name = task["resource"]
    kind = KINDS[name]
    yield from _check_ids(task_id, task, name, kind, at)
    yield from _check_states(task_id, task, name, kind, at)
    yield from _check_failed(task_id, task, name, kind, at)


def lower(task: TaskSpec, ctx: LowerContext) -> list[OperatorTask]:
    settings = task.settings
    kind = KINDS[settings["resource"]]
    kwargs: dict[str, Any] = {**ctx.aws()}
    kwargs.update({argument: settings[key] for key, argument in kind.ids.items() if key in settings})
    if kind.target_kwarg == "target_status":
        kwargs["target_status"] = settings["states"][0]
    elif kind.target_kwarg is not None:
        kwargs[kind.target_kwarg] = list(settings["states"])
    if "failed_states" in settings:
        kwargs["failed_states"] = list(settings["failed_states"])
    kwargs.update({"poke_interval": task.poll_interval, "timeout": task.timeout})
    kwargs["mode"] = "reschedule"
    kwargs.update(kind.extra)
    return [OperatorTask(task_id=task.task_id, operator=kind.sensor, kwargs=kwargs)]
