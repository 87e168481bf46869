"""EMR in the emulator: steps that finish, and notebook executions (stock moto answers HTTP 500).

* **Steps** progress ``PENDING -> RUNNING -> COMPLETED`` (stock moto leaves them RUNNING forever).  A
  step is a moto ``ManagedState`` named ``emr::step``; by default each DescribeStep/ListSteps that
  returns it moves it one state on, so a waiter polling every second sees it finish in two polls.  A
  cluster with no active step is WAITING again.
* **Notebook executions** (StartNotebookExecution, DescribeNotebookExecution, StopNotebookExecution,
  ListNotebookExecutions): ``START_PENDING -> RUNNING -> FINISHED`` (``emr::notebook_execution``).  The
  request is checked the way EMR checks it: the cluster must exist and be WAITING/RUNNING, the editor
  (workspace) must be registered, and the parameters must be a JSON object.

Clusters, steps and notebook executions are recorded with their origin; an injected failure ends a
step or an execution FAILED with its cause.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from generator.local.emulator.shared import (
    ACCOUNT_ID,
    ONE_STATE_PER_POLL,
    active,
    current_origin,
    fail_cause,
    lose_responses_of,
    now,
    plain,
    record,
)

# State-manager model names this module registers (moto.moto_api.state_manager).
STEP_MODEL = "emr::step"
NOTEBOOK_MODEL = "emr::notebook_execution"


def _started(response: Any, action: str) -> list[tuple[str, str]]:
    """What an EMR start call starts, for faults by resource."""
    if action == "run_job_flow":
        return [("cluster", str(response._get_param("Name")))]
    if action == "add_job_flow_steps":
        return [("step", str(step.get("Name"))) for step in plain(response._get_param("Steps") or [])]
    return [("notebook", str(response._get_param("RelativePath")))]


def install() -> None:
    import moto.emr.models as emr_models
    import moto.emr.responses as emr_responses
    from moto.core.responses import ActionResult, EmptyResult
    from moto.emr.exceptions import InvalidRequestException, ValidationException
    from moto.moto_api import state_manager
    from moto.moto_api._internal.managed_state_model import ManagedState

    stock_step = emr_models.Step

    class EmulatedStep(ManagedState, stock_step):  # type: ignore[misc, valid-type]
        """An EMR step that finishes: PENDING -> RUNNING -> COMPLETED (or FAILED with a cause)."""

        def __init__(self, state: str, **kwargs: Any) -> None:
            self.origin = current_origin()
            self.failure_cause = fail_cause(self.origin, ("step", str(kwargs.get("name", ""))))
            last = "FAILED" if self.failure_cause else "COMPLETED"
            ManagedState.__init__(self, STEP_MODEL, [("PENDING", "RUNNING"), ("RUNNING", last)])
            self._seen = "PENDING"
            self.cluster: Any = None
            stock_step.__init__(self, state="PENDING", **kwargs)

        @property  # type: ignore[override]
        def state(self) -> str:
            current = str(self.status)
            if current != self._seen:
                self._seen = current
                if current == "RUNNING":
                    self.start_date_time = emr_models.utcnow()
                if current in ("COMPLETED", "FAILED", "CANCELLED"):
                    self.end_date_time = emr_models.utcnow()
                    if self.failure_cause:
                        self.last_state_change_reason = self.failure_cause
                    self._release_cluster()
            return current

        @state.setter
        def state(self, value: str) -> None:
            self.status = value

        def _release_cluster(self) -> None:
            # A cluster with no active step is WAITING again (moto leaves it RUNNING).
            cluster = self.cluster
            if cluster is not None and cluster.state == "RUNNING":
                if all(step._seen in ("COMPLETED", "FAILED", "CANCELLED") for step in cluster.steps):
                    cluster.state = "WAITING"

    # moto's Step.status (the API's Step.Status) clashes with ManagedState.status
    # (the state); the API shape is rebuilt here from the state.
    def _api_status(self: Any) -> dict[str, Any]:
        out: dict[str, Any] = {
            "State": self.state,
            "StateChangeReason": {"Message": getattr(self, "last_state_change_reason", None)},
            "Timeline": {
                "CreationDateTime": self.creation_date_time,
                "StartDateTime": self.start_date_time,
                "EndDateTime": self.end_date_time,
            },
        }
        if self.state == "FAILED":
            out["FailureDetails"] = {"Reason": "dagen-emulated-failure", "Message": self.failure_cause or ""}
        return out

    EmulatedStep.api_status = property(_api_status)  # type: ignore[attr-defined]
    emr_models.Step = EmulatedStep  # Cluster.add_steps builds steps by this module-level name

    stock_add_steps = emr_models.Cluster.add_steps

    def add_steps(self: Any, steps: list[dict[str, Any]]) -> list[Any]:
        added = stock_add_steps(self, steps)
        for step in added:
            step.cluster = self
            record("step", step.id, step, parent=self.id)
        return added

    emr_models.Cluster.add_steps = add_steps

    stock_describe_step = emr_models.ElasticMapReduceBackend.describe_step
    stock_list_steps = emr_models.ElasticMapReduceBackend.list_steps

    def describe_step(self: Any, cluster_id: str, step_id: str) -> Any:
        step = stock_describe_step(self, cluster_id, step_id)
        if step is not None:
            step.advance()
        return step

    def list_steps(self: Any, cluster_id: str, step_ids: Any = None, step_states: Any = None) -> list[Any]:
        steps = stock_list_steps(self, cluster_id, step_ids, None)
        for step in steps:
            step.advance()
        return [step for step in steps if not step_states or step.state in step_states]

    emr_models.ElasticMapReduceBackend.describe_step = describe_step
    emr_models.ElasticMapReduceBackend.list_steps = list_steps

    stock_run_job_flow = emr_models.ElasticMapReduceBackend.run_job_flow

    def run_job_flow(self: Any, **kwargs: Any) -> Any:
        cluster = stock_run_job_flow(self, **kwargs)
        record("cluster", cluster.id, cluster)
        return cluster

    emr_models.ElasticMapReduceBackend.run_job_flow = run_job_flow

    # Responses: the step's Status is served from api_status.
    def _serve_step(step: Any) -> dict[str, Any]:
        return {
            "Id": step.id,
            "Name": step.name,
            "Config": step.config,
            "ActionOnFailure": step.action_on_failure,
            "Status": step.api_status,
        }

    def describe_step_response(self: Any) -> Any:
        step = self.backend.describe_step(self._get_param("ClusterId"), self._get_param("StepId"))
        if step is None:
            raise InvalidRequestException(f"Step id '{self._get_param('StepId')}' is not valid.")
        return ActionResult({"Step": _serve_step(step)})

    def list_steps_response(self: Any) -> Any:
        steps = self.backend.list_steps(
            self._get_param("ClusterId"), self._get_param("StepIds", []), self._get_param("StepStates", [])
        )
        return ActionResult({"Steps": [_serve_step(step) for step in steps]})

    emr_responses.ElasticMapReduceResponse.describe_step = describe_step_response
    emr_responses.ElasticMapReduceResponse.list_steps = list_steps_response

    # ---- notebook executions
    class NotebookExecution(ManagedState):
        """An EMR Studio notebook execution: START_PENDING -> RUNNING -> FINISHED (or FAILED)."""

        def __init__(self, request: dict[str, Any], region: str) -> None:
            self.origin = current_origin()
            self.failure_cause = fail_cause(self.origin, ("notebook", str(request.get("RelativePath") or "")))
            last = "FAILED" if self.failure_cause else "FINISHED"
            ManagedState.__init__(self, NOTEBOOK_MODEL, [("START_PENDING", "RUNNING"), ("RUNNING", last)])
            self.id = "ex-" + uuid.uuid4().hex[:26].upper()
            self.request = request
            self.region = region
            self.start_time = now()
            self.end_time: datetime | None = None
            self.reason: str | None = None

        @property
        def state(self) -> str:
            current = str(self.status)
            if current in ("FINISHED", "FAILED", "STOPPED") and self.end_time is None:
                self.end_time = now()
                if current == "FAILED":
                    self.reason = self.failure_cause
            return current

        def describe(self) -> dict[str, Any]:
            request = self.request
            out: dict[str, Any] = {
                "NotebookExecutionId": self.id,
                "EditorId": request.get("EditorId"),
                "RelativePath": request.get("RelativePath"),
                "ExecutionEngine": request.get("ExecutionEngine"),
                "NotebookExecutionName": request.get("NotebookExecutionName") or "",
                "NotebookParams": request.get("NotebookParams") or "",
                "Status": self.state,
                "StartTime": self.start_time,
                "Arn": f"arn:aws:elasticmapreduce:{self.region}:{ACCOUNT_ID}:notebook-execution/{self.id}",
                "OutputNotebookURI": f"s3://dagen-local/notebook-executions/{self.id}/output.ipynb",
                "Tags": request.get("Tags") or [],
            }
            if self.end_time is not None:
                out["EndTime"] = self.end_time
            if self.reason:
                out["LastStateChangeReason"] = self.reason
            return out

    def _notebooks(backend: Any) -> dict[str, NotebookExecution]:
        if not hasattr(backend, "dagen_notebook_executions"):
            backend.dagen_notebook_executions = {}
        return backend.dagen_notebook_executions  # type: ignore[no-any-return]

    def start_notebook_execution(self: Any) -> Any:
        request = {
            key: plain(self._get_param(key))
            for key in (
                "EditorId",
                "RelativePath",
                "NotebookExecutionName",
                "NotebookParams",
                "ExecutionEngine",
                "ServiceRole",
                "NotebookInstanceSecurityGroupId",
                "Tags",
            )
        }
        for key in ("RelativePath", "ExecutionEngine", "ServiceRole"):
            if not request.get(key):
                raise ValidationException(f"{key} is required")
        engine = request["ExecutionEngine"]
        cluster_id = engine.get("Id") if isinstance(engine, dict) else None
        cluster = self.backend.clusters.get(cluster_id)
        if cluster is None:
            raise InvalidRequestException(f"Cluster id '{cluster_id}' is not valid.")
        if cluster.state not in ("WAITING", "RUNNING"):
            raise InvalidRequestException(f"Cluster {cluster_id} is {cluster.state}, not WAITING or RUNNING.")
        emulator = active()
        editors = emulator.editors if emulator else set()
        if request.get("EditorId") not in editors:
            raise InvalidRequestException(f"Editor '{request.get('EditorId')}' does not exist.")
        params = request.get("NotebookParams")
        if params:
            try:
                decoded = json.loads(params)
            except ValueError as error:
                raise ValidationException(f"NotebookParams is not valid JSON: {error}") from None
            if not isinstance(decoded, dict):
                raise ValidationException("NotebookParams must be a JSON object")
        execution = NotebookExecution(request, self.region)
        _notebooks(self.backend)[execution.id] = execution
        record("notebook_execution", execution.id, execution, parent=cluster_id)
        return ActionResult({"NotebookExecutionId": execution.id})

    def _notebook(self: Any) -> NotebookExecution:
        execution_id = self._get_param("NotebookExecutionId")
        execution = _notebooks(self.backend).get(execution_id)
        if execution is None:
            raise InvalidRequestException(f"Notebook execution '{execution_id}' does not exist.")
        return execution

    def describe_notebook_execution(self: Any) -> Any:
        execution = _notebook(self)
        execution.advance()
        return ActionResult({"NotebookExecution": execution.describe()})

    def stop_notebook_execution(self: Any) -> Any:
        execution = _notebook(self)
        if execution.state not in ("FINISHED", "FAILED", "STOPPED"):
            execution.status = "STOPPED"
            execution.reason = "stopped by StopNotebookExecution"
        return EmptyResult()

    def list_notebook_executions(self: Any) -> Any:
        wanted = self._get_param("Status")
        found = [
            {key: summary[key] for key in ("NotebookExecutionId", "EditorId", "NotebookExecutionName", "Status")}
            for summary in (execution.describe() for execution in _notebooks(self.backend).values())
            if not wanted or summary["Status"] == wanted
        ]
        return ActionResult({"NotebookExecutions": found})

    response = emr_responses.ElasticMapReduceResponse
    response.start_notebook_execution = start_notebook_execution
    response.describe_notebook_execution = describe_notebook_execution
    response.stop_notebook_execution = stop_notebook_execution
    response.list_notebook_executions = list_notebook_executions
    lose_responses_of(
        response,
        ("add_job_flow_steps", "start_notebook_execution", "run_job_flow"),
        "InvalidRequestException",
        _started,
    )

    state_manager.register_default_transition(STEP_MODEL, ONE_STATE_PER_POLL)
    state_manager.register_default_transition(NOTEBOOK_MODEL, ONE_STATE_PER_POLL)
