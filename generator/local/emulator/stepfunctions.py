"""Step Functions in the emulator: executions run in moto, or are completed by the emulator.

moto's ``execute_state_machine`` is on while the emulator runs, so definitions made of
Pass/Wait/Choice/Succeed/Fail/Parallel/Map states and the request-response integrations moto can run
really execute (:func:`runnable_in_moto`).  A definition with any other Task resource (``.sync``,
``.waitForTaskToken``, EMR, Lambda, Batch, ``aws-sdk:*``...) cannot run in moto; its executions are
*completed by the emulator*: ``RUNNING -> SUCCEEDED`` with the input as output
(``stepfunctions::execution``), so the pipeline's wiring is still exercised.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import Any

from generator.local.emulator.shared import ONE_STATE_PER_POLL, current_origin, fail_cause, lose_responses_of, record

# The state-manager model this module registers (moto.moto_api.state_manager).
EXECUTION_MODEL = "stepfunctions::execution"

# Task resources moto's state machine interpreter can run (request-response;
# glue:startJobRun needs MOTO_PORT, which start() sets).
RUNNABLE_RESOURCES = frozenset({"arn:aws:states:::glue:startJobRun"})
RUNNABLE_STATE_TYPES = frozenset({"Pass", "Wait", "Choice", "Succeed", "Fail", "Parallel", "Map"})


def runnable_in_moto(definition: str) -> bool:
    """True when moto's interpreter can run every state of this definition."""
    try:
        document = json.loads(definition)
    except ValueError:
        return False

    def states_ok(machine: dict[str, Any]) -> bool:
        for state in (machine.get("States") or {}).values():
            kind = state.get("Type")
            if kind == "Task":
                if state.get("Resource") not in RUNNABLE_RESOURCES:
                    return False
            elif kind not in RUNNABLE_STATE_TYPES:
                return False
            if kind == "Parallel" and not all(states_ok(branch) for branch in state.get("Branches", [])):
                return False
            if kind == "Map" and not states_ok(state.get("ItemProcessor") or state.get("Iterator") or {}):
                return False
        return True

    return isinstance(document, dict) and states_ok(document)


def install() -> None:
    import moto.stepfunctions.models as sfn_models
    import moto.stepfunctions.parser.models as parser_models
    import moto.stepfunctions.responses as sfn_responses
    from moto.moto_api import state_manager
    from moto.moto_api._internal.managed_state_model import ManagedState
    from moto.stepfunctions.parser.api import InvalidExecutionInput

    class CompletedExecution(ManagedState, sfn_models.Execution):  # type: ignore[misc]
        """An execution the emulator completes itself: RUNNING -> SUCCEEDED (output = input) or FAILED."""

        def __init__(self, *, failure_cause: str | None, **kwargs: Any) -> None:
            last = "FAILED" if failure_cause else "SUCCEEDED"
            ManagedState.__init__(self, EXECUTION_MODEL, [("RUNNING", last)])
            sfn_models.Execution.__init__(self, **kwargs)
            # aware, like the executions moto runs itself (ListExecutions sorts both kinds together)
            self.start_date = self.start_date.replace(tzinfo=timezone.utc)  # type: ignore[has-type]
            self.stop_date: datetime | None = None
            self.status = "RUNNING"
            self.failure_cause = failure_cause
            self.origin = current_origin()
            self.completed_by_emulator = True

        def observe(self) -> None:
            self.advance()
            status = str(self.status)
            if status != "RUNNING" and self.stop_date is None:
                self.stop_date = sfn_models.utcnow().replace(tzinfo=timezone.utc)
                if status == "SUCCEEDED":
                    self.output = self.execution_input
                    self.output_details = {"included": True}
                elif status == "FAILED":
                    self.error = "Dagen.EmulatedFailure"
                    self.cause = self.failure_cause

        def stop(self, *args: Any, **kwargs: Any) -> None:
            if self.stop_date is None:
                self.status = "ABORTED"
                self.stop_date = sfn_models.utcnow().replace(tzinfo=timezone.utc)

        def to_history_output(self) -> dict[str, Any]:
            return {"events": []}

    stock_start = parser_models.StepFunctionsParserBackend.start_execution

    def start_execution(
        self: Any, state_machine_arn: str, name: Any = None, execution_input: Any = None, trace_header: Any = None
    ) -> Any:
        origin = current_origin()
        state_machine = self.describe_state_machine(state_machine_arn)
        cause = fail_cause(origin, ("execution", str(state_machine.name)))
        if name:
            self._validate_name(name)  # the parser backend skips this; EMR-like names must be checked
        if cause is None and runnable_in_moto(state_machine.definition):
            execution = stock_start(self, state_machine_arn, name, execution_input, trace_header)
            execution.origin = origin
            record("execution", execution.exec_arn, execution, parent=state_machine.arn)
            return execution
        existing = state_machine._handle_name_input_idempotency(name, execution_input)
        if existing is not None:
            return existing
        text = execution_input if execution_input is not None else "{}"
        try:
            json.loads(text)
        except ValueError as error:
            raise InvalidExecutionInput(str(error)) from None
        execution = CompletedExecution(
            failure_cause=cause,
            region_name=self.region_name,
            account_id=self.account_id,
            state_machine_name=state_machine.name,
            execution_name=name or str(uuid.uuid4()),
            state_machine_arn=state_machine.arn,
            execution_input=text,
        )
        state_machine.executions.append(execution)
        record("execution", execution.execution_arn, execution, parent=state_machine.arn)
        return execution

    parser_models.StepFunctionsParserBackend.start_execution = start_execution

    stock_describe = parser_models.StepFunctionsParserBackend.describe_execution

    def describe_execution(self: Any, execution_arn: str) -> Any:
        execution = stock_describe(self, execution_arn)
        if isinstance(execution, CompletedExecution):
            execution.observe()
        return execution

    parser_models.StepFunctionsParserBackend.describe_execution = describe_execution
    lose_responses_of(
        sfn_responses.StepFunctionResponse,
        ("start_execution",),
        "ValidationException",
        lambda response, action: [("execution", str(response._get_param("stateMachineArn")).rsplit(":", 1)[-1])],
    )
    state_manager.register_default_transition(EXECUTION_MODEL, ONE_STATE_PER_POLL)
