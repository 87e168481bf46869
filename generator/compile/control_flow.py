"""Phase 4, lower: the control flow of a task around the operators its type lowers to.

* ``run_if``: a ``ShortCircuitOperator`` ``run_if_<task>`` before the task.  It
  skips only its direct downstream tasks (``ignore_downstream_trigger_rules``
  false); what needs them is skipped by the usual trigger rules, and a
  cluster's teardown still runs.  When the task is the only first task of a
  cluster, ``create_<cluster>`` waits for the check: a skipped task starts no
  cluster.
* ``for_each: {output_of: TASK}``: ``<task>_items`` (:func:`generator.runtime.fan_out.mapped_values`)
  makes one value of the type's ``MAPPED_KWARG`` per item, and the task is
  ``partial(...).expand(KWARG=<task>_items.output)``.
* ``branch``: the branch follows, for each path, the tasks right after it
  that lead to the path's first task (a cluster's create task among them).
* trigger rules: the spec's rule on the task's first operator; a task that
  joins paths of a branch gets ``none_failed_min_one_success`` unless it sets
  one; a last task with ``all_done`` is a cleanup, built as a teardown, so the
  run's state stays that of the work.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from generator.core.conditions import (
    CONDITION_CALLABLE,
    ITEM_PLACEHOLDER,
    JOIN_RULE,
    MAPPED_VALUES,
    SHORT_CIRCUIT,
    cleanup_ids,
    condition_data,
    item_mark,
    map_items_task_id,
    run_if_task_id,
)
from generator.core.lowering_context import LowerContext
from generator.core.model import OperatorTask, PipelineSpec, TaskSpec
from generator.core.templating import json_with_templates
from generator.task_types import TASK_TYPES
from generator.task_types.python import python_operator


def _marked(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _marked(sub) for key, sub in value.items()}
    if isinstance(value, list):
        return [_marked(sub) for sub in value]
    if isinstance(value, str):
        return ITEM_PLACEHOLDER.sub(lambda match: item_mark(match.group(1)), value)
    return value


def for_lowering(task: TaskSpec) -> TaskSpec:
    """The task its type lowers: a mapped task's item placeholders marked for the runtime to fill."""
    if task.map_over is None:
        return task
    keys = TASK_TYPES[task.type].MAPPED_SETTINGS
    settings = {key: _marked(value) if key in keys else value for key, value in task.settings.items()}
    return dataclasses.replace(task, settings=settings)


def around(task: TaskSpec, lowered: list[OperatorTask], ctx: LowerContext) -> list[OperatorTask]:
    """The task's operators with its check before them and its mapping applied."""
    ops = list(lowered)
    if task.map_over is not None:
        work = ops[-1]
        kwarg = TASK_TYPES[task.type].MAPPED_KWARG
        items_id = map_items_task_id(task.task_id)
        source = next(t for t in ctx.spec.tasks if t.task_id == task.map_over)
        items = OperatorTask(
            task_id=items_id,
            operator=python_operator(ctx.profile),
            kwargs={
                "python_callable": MAPPED_VALUES,
                "op_args": [work.kwargs[kwarg], ctx.airflow_id(source), task.max_items, task.if_empty, task.task_id],
                "doc_md": f"The items `{task.task_id}` is mapped over: the output of `{task.map_over}`.",
            },
        )
        kwargs = {key: value for key, value in work.kwargs.items() if key != kwarg}
        kwargs["expand"] = {kwarg: f"{ctx.airflow_id(task, items_id)}.output"}  # dag-factory: by Airflow id
        ops[-1:] = [items, dataclasses.replace(work, kwargs=kwargs)]
    if task.run_if is not None:
        check = OperatorTask(
            task_id=run_if_task_id(task.task_id),
            operator=SHORT_CIRCUIT[ctx.profile.standard_provider],
            kwargs={
                "python_callable": CONDITION_CALLABLE,
                "op_args": [json_with_templates(condition_data(task.run_if, ctx.spec.aws_conn_id))],
                "ignore_downstream_trigger_rules": False,
                "doc_md": f"Run `{task.task_id}` only when its run_if holds.",
            },
        )
        ops.insert(0, check)
    return ops


def join_rules(tasks: tuple[OperatorTask, ...], branches: set[str], fixed: set[str]) -> dict[str, str]:
    """``none_failed_min_one_success`` for each operator that joins paths of a branch (``tasks`` upstream first).

    An operator is on the paths its upstream operators are on; one right after a branch starts a path.  One
    whose upstream operators are on different paths is a join, unless its rule is ``fixed`` (set by the spec,
    or a teardown's).
    """
    on: dict[str, frozenset[str]] = {}
    out: dict[str, str] = {}
    for op in tasks:
        sets = [frozenset({f"{up}>{op.task_id}"}) if up in branches else on[up] for up in op.upstream]
        on[op.task_id] = frozenset().union(*sets)
        if len(sets) > 1 and on[op.task_id] and len(set(sets)) > 1 and op.task_id not in fixed:
            out[op.task_id] = JOIN_RULE
    return out


def cleanups(spec: PipelineSpec, dependencies: dict[str, list[str]]) -> list[TaskSpec]:
    """Last tasks with ``trigger_rule: all_done`` and tasks with ``cleans_up``: built as teardowns, out of the
    run's state."""
    found = cleanup_ids({task.task_id: task.trigger_rule for task in spec.tasks}, dependencies)
    found |= {task.task_id for task in spec.tasks if task.cleans_up}  # also one another cleanup follows
    return [task for task in spec.tasks if task.task_id in found]


def cleanup_setups(cleanup: TaskSpec, exit_: dict[str, str], ctx: LowerContext) -> tuple[str, ...]:
    """The Airflow ids of the tasks a cleanup cleans up after (``cleans_up``): its teardown's setups."""
    return tuple(ctx.airflow_id(ctx.spec.task(setup), exit_[setup]) for setup in cleanup.cleans_up)


def follow_lists(
    spec: PipelineSpec, tasks: dict[str, OperatorTask], entry: dict[str, str], ctx: LowerContext
) -> dict[str, dict[str, Any]]:
    """Each branch's ``chosen_paths`` argument: per path, its condition and the Airflow ids to follow."""
    downstream: dict[str, list[str]] = {task_id: [] for task_id in tasks}
    for task_id, op in tasks.items():
        for parent in op.upstream:
            downstream[parent].append(task_id)
    ancestors: dict[str, set[str]] = {}

    def above(task_id: str) -> set[str]:
        if task_id not in ancestors:
            found: set[str] = set()
            stack = list(tasks[task_id].upstream)
            while stack:
                parent = stack.pop()
                if parent not in found:
                    found.add(parent)
                    stack.extend(tasks[parent].upstream)
            ancestors[task_id] = found
        return ancestors[task_id]

    groups = {op.task_id: op.group for op in tasks.values()}

    def airflow(task_id: str) -> str:
        return f"{groups[task_id]}.{task_id}" if groups.get(task_id) else task_id

    out: dict[str, dict[str, Any]] = {}
    for task in spec.tasks:
        if task.type != "branch":
            continue
        after = downstream[entry[task.task_id]]
        paths = [
            {
                "when": condition_data(condition, ctx.spec.aws_conn_id),
                "tasks": [airflow(t) for t in after if t == entry[path] or t in above(entry[path])],
            }
            for path, condition in task.settings["paths"].items()
        ]
        otherwise = [
            airflow(t)
            for path in task.settings.get("otherwise", [])
            for t in after
            if t == entry[path] or t in above(entry[path])
        ]
        out[task.task_id] = {"paths": paths, "otherwise": list(dict.fromkeys(otherwise))}
    return out
