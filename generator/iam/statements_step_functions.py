"""IAM statements of the Step Functions tasks: start an execution of a named state machine and watch it.

One task starts the execution and waits for it (:mod:`generator.runtime.step_function`): before it
starts, it describes the executions its run's earlier tries would have started (their names are
known), so StartExecution and DescribeExecution, both on the one state machine.
"""

from __future__ import annotations

from generator.core.model import OperatorTask
from generator.iam.builder import PolicyBuilder, widen


def _state_machine_name(arn: str) -> str:
    parts = widen(arn).split(":")
    return parts[6] if len(parts) == 7 and parts[5] == "stateMachine" else "*"


def step_function_tasks(builder: PolicyBuilder, task: OperatorTask, state_machines: dict[str, str]) -> None:
    """``state_machines`` (task id -> state machine name) is filled for the caller."""
    arns = builder.arns
    machine = _state_machine_name(task.kwargs["state_machine_arn"])
    state_machines[task.task_id] = machine
    builder.allow("StatesStartExecutions", ["states:StartExecution"], [arns.make("states", f"stateMachine:{machine}")])
    builder.allow(
        "StatesWatchExecutions", ["states:DescribeExecution"], [arns.make("states", f"execution:{machine}:*")]
    )
