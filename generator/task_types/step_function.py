"""``step_function``: start a Step Functions state machine and wait for it.

Lowers to ``StepFunctionStartExecutionOperator`` with an execution name unique
per DAG run, task and try (a retry never hits ExecutionAlreadyExists), and
``StepFunctionExecutionSensor`` in reschedule mode.
"""

from __future__ import annotations

from generator.core.lowering_context import LowerContext, wait_task_id
from generator.core.model import OperatorTask, TaskSpec
from generator.core.schema_parts import STATE_MACHINE_ARN, prop
from generator.core.templating import json_with_templates

NAME = "step_function"
SUMMARY = "Start an AWS Step Functions execution and wait for it to finish."
OPERATORS = (
    "airflow.providers.amazon.aws.operators.step_function.StepFunctionStartExecutionOperator",
    "airflow.providers.amazon.aws.sensors.step_function.StepFunctionExecutionSensor",
)

PROPERTIES = {
    "state_machine_arn": prop(
        STATE_MACHINE_ARN,
        "ARN of the state machine.",
        "arn:aws:states:us-east-1:123456789012:stateMachine:movielens",
        "{{ var.value.movielens_state_machine_arn }}",
    ),
    "input": prop(
        {"type": "object"},
        "Execution input (serialised with json.dumps; Jinja allowed in values).",
        {"bucket": "{{ params.data_bucket }}", "run_date": "{{ ds }}"},
    ),
}
REQUIRED = ("state_machine_arn",)

# Unique per DAG run, task and try; only characters Step Functions allows; at most 80.
EXECUTION_NAME = (
    "{{ ti.task_id[:43] }}-{{ macros.uuid.uuid5(macros.uuid.NAMESPACE_URL, "
    "ti.dag_id ~ '/' ~ run_id ~ '/' ~ ti.task_id ~ '/' ~ ti.try_number) }}"
)


def lower(task: TaskSpec, ctx: LowerContext) -> list[OperatorTask]:
    settings = task.settings
    return [
        OperatorTask(
            task_id=task.task_id,
            operator=OPERATORS[0],
            kwargs={
                **ctx.aws(),
                "state_machine_arn": settings["state_machine_arn"],
                "name": EXECUTION_NAME,
                "state_machine_input": json_with_templates(settings.get("input", {})),
                "deferrable": False,
            },
        ),
        OperatorTask(
            task_id=wait_task_id(task.task_id),
            operator=OPERATORS[1],
            kwargs={
                **ctx.aws(),
                "execution_arn": ctx.result_of(task),
                "mode": "reschedule",
                "poke_interval": task.poll_interval,
                "timeout": task.timeout,
            },
        ),
    ]
