"""IAM statements of the Step Functions tasks: start an execution of a named state machine, then watch it."""

from __future__ import annotations

from generator.core.model import OperatorTask
from generator.iam.builder import PolicyBuilder, widen


def _state_machine_name(arn: str) -> str:
    parts = widen(arn).split(":")
    return parts[6] if len(parts) == 7 and parts[5] == "stateMachine" else "*"


def step_function_tasks(builder: PolicyBuilder, task: OperatorTask, state_machines: dict[str, str]) -> None:
    arns = builder.arns
    name = task.operator.rsplit(".", 1)[1]
    if name == "StepFunctionStartExecutionOperator":
        machine = _state_machine_name(task.kwargs["state_machine_arn"])
        state_machines[task.task_id] = machine
        builder.allow(
            "StatesStartExecutions", ["states:StartExecution"], [arns.make("states", f"stateMachine:{machine}")]
        )
    elif name == "StepFunctionExecutionSensor":
        # the start task's Airflow id; a task group prefixes it with "group."
        start_id = task.kwargs["execution_arn"].split("task_ids='")[1].split("'")[0].rsplit(".", 1)[-1]
        machine = state_machines.get(start_id, "*")
        builder.allow(
            "StatesWatchExecutions", ["states:DescribeExecution"], [arns.make("states", f"execution:{machine}:*")]
        )
