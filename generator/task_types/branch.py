"""``branch``: choose, when the run gets there, which of the downstream paths run; the others are skipped.

Each entry of ``paths`` names a task that depends on the branch (its path is
that task and what follows it) and the condition that takes it; every path
whose condition holds is taken, and ``otherwise`` names the path(s) taken
when none holds (without it, every path is skipped).  A task after several
paths joins them: unless it sets its own ``trigger_rule``, it runs when none
of its upstream tasks failed and at least one succeeded
(``none_failed_min_one_success``), so a skipped path does not skip the join.

Lowers to ``BranchPythonOperator`` whose callable is
:func:`generator.runtime.conditions.chosen_paths`; the lowering wires each
path to the tasks the branch must follow for it (:mod:`generator.compile.control_flow`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from generator.core.conditions import BRANCH, BRANCH_CALLABLE, CONDITION, TASK_ID
from generator.core.diagnostics import Diagnostic
from generator.core.lowering_context import LowerContext
from generator.core.model import OperatorTask, TaskSpec
from generator.core.schema_parts import prop

NAME = "branch"
SUMMARY = "Choose at run time which downstream paths run (the others are skipped)."
OPERATORS = tuple(BRANCH.values())

PROPERTIES = {
    "paths": prop(
        {"type": "object", "minProperties": 1, "propertyNames": TASK_ID, "additionalProperties": CONDITION},
        "The tasks after the branch that start a path, each with the condition that takes it.",
        {"full_reload": "{{ logical_date.weekday() == 0 }}", "incremental": "{{ logical_date.weekday() != 0 }}"},
    ),
    "otherwise": prop(
        {"type": "array", "items": TASK_ID, "uniqueItems": True, "minItems": 1},
        "Paths taken when no condition holds (default: none, every path is skipped).",
        ["incremental"],
    ),
}
REQUIRED = ("paths",)


def check(task_id: str, task: dict[str, Any], at: Any) -> Iterator[Diagnostic]:
    for index, name in enumerate(task.get("otherwise", [])):
        if name not in task["paths"]:
            yield Diagnostic(
                code="DG313",
                **at(("tasks", task_id, "otherwise", index)),
                message=f"branch '{task_id}' takes '{name}' otherwise, but '{name}' is not one of its paths",
                hint=f"add it under paths (paths: {', '.join(task['paths'])})",
            )


def lower(task: TaskSpec, ctx: LowerContext) -> list[OperatorTask]:
    # op_args is completed by the lowering once the tasks of each path are known
    kwargs = {"python_callable": BRANCH_CALLABLE, "op_args": []}
    return [OperatorTask(task_id=task.task_id, operator=BRANCH[ctx.profile.standard_provider], kwargs=kwargs)]
