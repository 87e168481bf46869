"""``step_function`` tasks: start a Step Functions execution and wait for it deferrably, in one retryable task.

Before, a ``step_function`` task was a start operator plus a ``<task>_wait``
sensor: a retry of the sensor waited again on the same FAILED execution, and
the work never ran again.  Here one task starts the execution and waits for it
in the triggerer (the provider's ``StepFunctionsExecutionCompleteTrigger``, no
worker slot held), so a retry is a retry of the work, by the rule of
:mod:`generator.runtime.tries`:

* try *n* names its execution ``<task id, 43 characters at most>-<try key>``
  (:func:`execution_name`: unique per DAG run, task and try, at most 80
  characters, so a retry never hits ``ExecutionAlreadyExists``);
* a try first describes the executions the tries of this run would have
  started (DescribeExecution on their ARNs, which follow from the state
  machine's ARN and the names): SUCCEEDED is the result, RUNNING is waited for
  (a lost start response, a lost worker), and only when all of them ended
  FAILED, TIMED_OUT or ABORTED (or none exists) does the try start a new one.

The task returns the execution's ARN (XCom ``return_value``, as the provider
operator does) and, when the execution succeeded, pushes its output under the
XCom key ``output`` (what ``StepFunctionExecutionSensor`` pushed).  The
provider's waiter knows SUCCEEDED, FAILED and ABORTED, not TIMED_OUT: an
execution that times out is seen when the try's wait (``timeout``) ends, and
the next try starts a new one.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from airflow.exceptions import AirflowException
from airflow.providers.amazon.aws.links.step_function import StateMachineExecutionsDetailsLink
from airflow.providers.amazon.aws.operators.step_function import StepFunctionStartExecutionOperator
from airflow.providers.amazon.aws.triggers.step_function import StepFunctionsExecutionCompleteTrigger

from generator.runtime.tries import keys_of, next_step

SUCCEEDED = frozenset({"SUCCEEDED"})
UNSUCCESSFUL = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})
TASK_ID_PART = 43  # + "-" + a 36-character key: the 80 characters Step Functions allows


def execution_name(task_id: str, key: str) -> str:
    """The name a try gives its execution (a task id holds only characters Step Functions accepts)."""
    return f"{task_id[:TASK_ID_PART]}-{key}"


def execution_arn(state_machine_arn: str, name: str) -> str:
    """``arn:PARTITION:states:REGION:ACCOUNT:execution:MACHINE:NAME`` (a version or alias qualifier dropped)."""
    parts = state_machine_arn.split(":")
    if len(parts) < 7 or parts[5] != "stateMachine":
        raise AirflowException(f"not a state machine ARN: {state_machine_arn!r}")
    return ":".join([*parts[:5], "execution", parts[6], name])


class RetrySafeStepFunctionStartExecutionOperator(StepFunctionStartExecutionOperator):  # type: ignore[misc]
    """``StepFunctionStartExecutionOperator`` that waits deferrably and whose retry re-runs a failed execution.

    Only what a try starts changes (see the module); the start request, the trigger, the links and the
    result are the provider's.  ``name`` is set per try by the operator itself.
    """

    def execute(self, context: Any) -> Any:
        keys = keys_of(context, self.retries)
        current = max(keys)
        arns = {
            number: execution_arn(self.state_machine_arn, execution_name(self.task_id, key))
            for number, key in keys.items()
        }
        states = {number: state for number, arn in arns.items() if (state := self._state_of(arn)) is not None}
        step, number = next_step(states, current, succeeded=SUCCEEDED, unsuccessful=UNSUCCESSFUL)
        if step == "start":
            self.name = execution_name(self.task_id, keys[current])
            self.deferrable = True
            return super().execute(context)  # starts it, then defers until it ends
        arn = arns[number]
        if step == "failed":
            raise AirflowException(f"execution {arn} of this try already ended {states[number]}")
        self.log.info("Execution %s of try %s is %s: adopted, not started again", arn, number, states[number])
        StateMachineExecutionsDetailsLink.persist(
            context=context,
            operator=self,
            region_name=self.hook.conn_region_name,
            aws_partition=self.hook.conn_partition,
            execution_arn=arn,
        )
        if step == "done":
            return self._succeeded(context, arn)
        self.defer(
            trigger=StepFunctionsExecutionCompleteTrigger(
                execution_arn=arn,
                waiter_delay=self.waiter_delay,
                waiter_max_attempts=self.waiter_max_attempts,
                aws_conn_id=self.aws_conn_id,
                region_name=self.region_name,
                botocore_config=self.botocore_config,
                verify=self.verify,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.waiter_max_attempts * self.waiter_delay),
        )

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> Any:
        arn = (event or {}).get("execution_arn")
        if arn and (event or {}).get("status") != "success":
            described = self.hook.describe_execution(arn)
            raise AirflowException(
                f"execution {arn} ended {described.get('status')}: {described.get('error', '')} "
                f"{described.get('cause', '')}".rstrip()
            )
        return self._succeeded(context, str(super().execute_complete(context, event)))  # validated the provider's way

    def _state_of(self, arn: str) -> str | None:
        """The execution's status, or None when there is no such execution."""
        conn = self.hook.conn
        try:
            return str(conn.describe_execution(executionArn=arn)["status"])
        except conn.exceptions.ExecutionDoesNotExist:
            return None

    def _succeeded(self, context: Any, arn: str) -> str:
        output = self.hook.describe_execution(arn).get("output")
        context["ti"].xcom_push(key="output", value=json.loads(output) if output else None)
        return arn
