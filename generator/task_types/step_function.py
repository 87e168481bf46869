"""``step_function``: start a Step Functions state machine and wait for it, in one retryable task.

Lowers to :class:`generator.runtime.step_function.RetrySafeStepFunctionStartExecutionOperator`
(named by path: compiling imports no provider), a ``StepFunctionStartExecutionOperator`` that
waits deferrably (the provider's trigger, no worker slot held) and whose retry re-runs a failed
execution: each try names its execution per DAG run, task and try, adopts a running or succeeded
execution of an earlier try of the run, and starts a new one only when they all ended unsuccessfully
(:data:`RETRY`).

**The execution's output** is readable by later tasks: the task returns the execution ARN (XCom
``return_value``, as the provider operator does) and, when the execution succeeded, pushes its output,
parsed from JSON, under the XCom key ``output``: ``{{ ti.xcom_pull(task_ids='TASK', key='output') }}``
(DG317 checks that ``TASK`` is an upstream task).  An adopted execution (a retry) pushes the output of
the execution it adopted.  dagen iam grants states:DescribeExecution, which reads it.
"""

from __future__ import annotations

from generator.core.lowering_context import LowerContext
from generator.core.model import OperatorTask, TaskSpec
from generator.core.schema_parts import STATE_MACHINE_ARN, prop
from generator.core.templating import json_with_templates

NAME = "step_function"
SUMMARY = "Start an AWS Step Functions execution and wait for it to finish."
OPERATORS = ("generator.runtime.step_function.RetrySafeStepFunctionStartExecutionOperator",)
BASE_OPERATOR = "airflow.providers.amazon.aws.operators.step_function.StepFunctionStartExecutionOperator"
RETRY = (
    "adopts the execution an earlier try of this run started (each try names its own: <task id>-<uuid of the DAG, "
    "run, task and try>): SUCCEEDED is the result, RUNNING is waited for; only when all ended FAILED, TIMED_OUT or "
    "ABORTED is a new execution started"
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


def lower(task: TaskSpec, ctx: LowerContext) -> list[OperatorTask]:
    settings = task.settings
    return [
        OperatorTask(
            task_id=task.task_id,
            operator=OPERATORS[0],
            kwargs={
                **ctx.aws(),
                "state_machine_arn": settings["state_machine_arn"],
                "state_machine_input": json_with_templates(settings.get("input", {})),
                "deferrable": True,
                "waiter_delay": task.poll_interval,
                "waiter_max_attempts": ctx.max_attempts(task),
            },
        )
    ]
