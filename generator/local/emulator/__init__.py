"""A local AWS for ``dagen run --local``: moto's server on loopback, plus the few behaviours it lacks.

moto 5.2.5 in server mode already answers every call the generated DAGs make,
except where noted below.  This module adds exactly the missing behaviours,
through moto's own extension points (its model classes, its state manager,
its response classes and its config), in-process:

* **EMR steps** progress ``PENDING -> RUNNING -> COMPLETED`` (stock moto leaves
  them RUNNING forever).  A step is a moto ``ManagedState`` named
  ``emr::step``; by default each DescribeStep/ListSteps that returns it moves
  it one state on, so a waiter polling every second sees it finish in two polls.
* **EMR notebook executions** (StartNotebookExecution, DescribeNotebookExecution,
  StopNotebookExecution, ListNotebookExecutions; stock moto answers HTTP 500):
  ``START_PENDING -> RUNNING -> FINISHED`` (``emr::notebook_execution``).  The
  request is checked the way EMR checks it: the cluster must exist and be
  WAITING/RUNNING, the editor (workspace) must be registered, and the
  parameters must be a JSON object.
* **Glue crawlers** finish at once (state ``glue::crawl`` set to immediate),
  their last crawl reports ``SUCCEEDED`` (moto says ``COMPLETED``), and
  GetCrawlerMetrics is implemented.
* **Step Functions executions run**: moto's ``execute_state_machine`` is on, so
  definitions made of Pass/Wait/Choice/Succeed/Fail/Parallel/Map states and
  the request-response integrations moto can run really execute.  A definition
  with any other Task resource (``.sync``, ``.waitForTaskToken``, EMR, Lambda,
  Batch, ``aws-sdk:*``...) cannot run in moto; its executions are *completed by
  the emulator*: ``RUNNING -> SUCCEEDED`` with the input as output
  (``stepfunctions::execution``), so the pipeline's wiring is still exercised.
* **EMR Serverless job runs** progress ``SUBMITTED -> RUNNING -> SUCCESS``
  (``emr-serverless::job_run``; stock moto answers SUCCESS at once) and
  **EMR on EKS job runs** ``PENDING -> RUNNING -> COMPLETED``
  (``emr-containers::job_run``; stock moto leaves them RUNNING forever), one
  state per GetJobRun/DescribeJobRun.  StartJobRun is idempotent on its client
  token, as in AWS (moto starts a new run every time): dagen's retries rely
  on it to find the job run an earlier try started.
* **Athena**: StartQueryExecution without a result location (in the request
  or the workgroup) is refused as Athena refuses it; a query whose result
  bucket does not exist fails (``Unable to verify/create output bucket``);
  GetQueryExecution answers with the effective result location and, for a
  failed query, its ``StateChangeReason``.  Queries are not run (moto's
  ``athena::execution`` reaches SUCCEEDED at once).
* **Lambda without Docker**: moto's config ``{"lambda": {"use_docker": False}}``
  (set while the emulator runs) serves Lambda from moto's "simple" backend,
  whose Invoke answers with the event and never runs the code; the emulator
  makes Invoke of an unknown function, version or alias
  ``ResourceNotFoundException`` (the simple backend answers any name), takes
  every name form Lambda takes (moto drops the ``Qualifier`` parameter and
  fails on ``ACCOUNT:function:NAME``) and records each invocation.
* **SNS messages and S3 objects** are recorded with who published or wrote
  them (moto already handles both).
* **Failure injection**, per *origin*: the runner names who is calling (the
  Airflow task id, :meth:`LocalAws.attribute_to`) and can make everything an
  origin starts -- EMR steps, notebook executions, Glue job runs, Step
  Functions executions, EMR Serverless and EMR on EKS job runs, Athena
  queries, Lambda invocations (``X-Amz-Function-Error: Unhandled``) -- end
  FAILED with a cause (:meth:`LocalAws.fail`), or make the first start call of
  an origin take effect but lose its response
  (:meth:`LocalAws.lose_first_response`), as when a worker dies right after it.
* Every resource those calls create is recorded with its origin, so a run can
  report what each task did (:meth:`LocalAws.snapshot`).

Batch (it needs Docker) is not emulated.  One emulator runs at a time in a
process: moto's backends are process-global.
"""

from __future__ import annotations

import json
import os
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

ACCOUNT_ID = "123456789012"  # moto's default account
DEFAULT_REGION = "us-east-1"
DUMMY_KEY = "dagen-local"  # credentials the emulator accepts; never real ones

# State-manager model names this module registers (moto.moto_api.state_manager).
STEP_MODEL = "emr::step"
NOTEBOOK_MODEL = "emr::notebook_execution"
EXECUTION_MODEL = "stepfunctions::execution"
SERVERLESS_RUN_MODEL = "emr-serverless::job_run"
EKS_RUN_MODEL = "emr-containers::job_run"
# One state per poll: a waiter sees each state, and a run still takes seconds.
ONE_STATE_PER_POLL = {"progression": "manual", "times": 1}

# Task resources moto's state machine interpreter can run (request-response;
# glue:startJobRun needs MOTO_PORT, which start() sets).
RUNNABLE_RESOURCES = frozenset({"arn:aws:states:::glue:startJobRun"})
RUNNABLE_STATE_TYPES = frozenset({"Pass", "Wait", "Choice", "Succeed", "Fail", "Parallel", "Map"})


@dataclass
class Record:
    """A resource a call created, and who made the call."""

    # cluster | step | notebook_execution | execution | job_run | crawl | serverless_job_run | eks_job_run
    # | query | invocation | message | object
    kind: str
    id: str
    origin: str | None
    obj: Any
    parent: str | None = None  # the cluster of a step, the job of a run...


@dataclass
class _Faults:
    fail: dict[str, str] = field(default_factory=dict)  # origin -> cause
    lose: set[str] = field(default_factory=set)  # origins whose next start response is lost


class EmulatedFault(Exception):
    """The error a caller gets when the emulator loses a response on purpose."""


_ACTIVE: LocalAws | None = None
_INSTALL_LOCK = threading.Lock()
_INSTALLED = False


def _active() -> LocalAws | None:
    return _ACTIVE


def _origin() -> str | None:
    emulator = _active()
    return emulator.origin if emulator else None


def _fail_cause(origin: str | None) -> str | None:
    emulator = _active()
    if emulator is None or origin is None:
        return None
    return emulator._faults.fail.get(origin)


def _record(kind: str, id_: str, obj: Any, parent: str | None = None) -> None:
    emulator = _active()
    if emulator is not None:
        with emulator._lock:
            emulator.records.append(Record(kind=kind, id=id_, origin=emulator.origin, obj=obj, parent=parent))


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _plain(value: Any) -> Any:
    """moto's parsed request values (case-insensitive XFormedDicts) as plain data with the API's key names."""
    if hasattr(value, "original_dict"):
        value = value.original_dict()
    if isinstance(value, dict):
        return {key: _plain(sub) for key, sub in value.items()}
    if isinstance(value, list):
        return [_plain(sub) for sub in value]
    return value


# --------------------------------------------------------------------------- EMR


def _install_emr() -> None:
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
            self.origin = _origin()
            self.failure_cause = _fail_cause(self.origin)
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
            _record("step", step.id, step, parent=self.id)
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
        _record("cluster", cluster.id, cluster)
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
            self.origin = _origin()
            self.failure_cause = _fail_cause(self.origin)
            last = "FAILED" if self.failure_cause else "FINISHED"
            ManagedState.__init__(self, NOTEBOOK_MODEL, [("START_PENDING", "RUNNING"), ("RUNNING", last)])
            self.id = "ex-" + uuid.uuid4().hex[:26].upper()
            self.request = request
            self.region = region
            self.start_time = _now()
            self.end_time: datetime | None = None
            self.reason: str | None = None

        @property
        def state(self) -> str:
            current = str(self.status)
            if current in ("FINISHED", "FAILED", "STOPPED") and self.end_time is None:
                self.end_time = _now()
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
            key: _plain(self._get_param(key))
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
        emulator = _active()
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
        _record("notebook_execution", execution.id, execution, parent=cluster_id)
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
    _lose_responses_of(
        response, ("add_job_flow_steps", "start_notebook_execution", "run_job_flow"), "InvalidRequestException"
    )

    state_manager.register_default_transition(STEP_MODEL, ONE_STATE_PER_POLL)
    state_manager.register_default_transition(NOTEBOOK_MODEL, ONE_STATE_PER_POLL)


# --------------------------------------------------------------------------- Glue


def _install_glue() -> None:
    import moto.glue.models as glue_models
    import moto.glue.responses as glue_responses
    from moto.core.responses import ActionResult

    stock_job_start = glue_models.FakeJob.start_job_run

    def start_job_run(self: Any, *args: Any, **kwargs: Any) -> str:
        run_id = stock_job_start(self, *args, **kwargs)
        run = next(run for run in self.job_runs if run.job_run_id == run_id)
        run.origin = _origin()
        run.failure_cause = _fail_cause(run.origin)
        if run.failure_cause:
            run._transitions = [("STARTING", "RUNNING"), ("RUNNING", "FAILED")]
        _record("job_run", run_id, run, parent=self.name)
        return run_id

    glue_models.FakeJob.start_job_run = start_job_run

    stock_run_as_dict = glue_models.FakeJobRun.as_dict

    def run_as_dict(self: Any) -> dict[str, Any]:
        out = stock_run_as_dict(self)
        if out.get("JobRunState") == "FAILED" and getattr(self, "failure_cause", None):
            out["ErrorMessage"] = self.failure_cause
        return out

    glue_models.FakeJobRun.as_dict = run_as_dict

    stock_crawler_as_dict = glue_models.FakeCrawler.as_dict

    def crawler_as_dict(self: Any) -> dict[str, Any]:
        out = stock_crawler_as_dict(self)
        last = out.get("LastCrawl")
        # The API's LastCrawl.Status is SUCCEEDED|CANCELLED|FAILED; moto says COMPLETED.
        if last and last.get("Status") == "COMPLETED":
            last["Status"] = "SUCCEEDED"
        return out

    glue_models.FakeCrawler.as_dict = crawler_as_dict

    stock_start_crawler = glue_models.GlueBackend.start_crawler

    def start_crawler(self: Any, name: str) -> None:
        stock_start_crawler(self, name)
        crawl = self.get_crawler(name).crawls[-1]
        _record("crawl", crawl.crawl_id, crawl, parent=name)

    glue_models.GlueBackend.start_crawler = start_crawler

    def get_crawler_metrics(self: Any) -> Any:
        names = self.parameters.get("CrawlerNameList") or [c.name for c in self.glue_backend.get_crawlers()]
        metrics = []
        for name in names:
            crawler = self.glue_backend.get_crawler(name)
            metrics.append(
                {
                    "CrawlerName": crawler.name,
                    "TimeLeftSeconds": 0.0,
                    "StillEstimating": False,
                    "LastRuntimeSeconds": 1.0 if crawler.crawls else 0.0,
                    "MedianRuntimeSeconds": 1.0 if crawler.crawls else 0.0,
                    "TablesCreated": 0,
                    "TablesUpdated": 0,
                    "TablesDeleted": 0,
                }
            )
        return ActionResult({"CrawlerMetricsList": metrics})

    glue_responses.GlueResponse.get_crawler_metrics = get_crawler_metrics
    _lose_responses_of(glue_responses.GlueResponse, ("start_job_run", "start_crawler"), "InvalidInputException")


# --------------------------------------------------------------------------- EMR Serverless and EMR on EKS


def _job_run_class(stock: Any, model: str, first: str, done: str, on_end: Callable[[Any, str], None]) -> Any:
    """moto's job run class made a managed state: ``first -> RUNNING -> done`` (or FAILED with its cause)."""
    from moto.moto_api._internal.managed_state_model import ManagedState

    class EmulatedJobRun(ManagedState, stock):  # type: ignore[misc, valid-type]
        def __init__(self, **kwargs: Any) -> None:
            stock.__init__(self, **kwargs)  # sets moto's fixed state through the setter below
            self.origin = _origin()
            self.failure_cause = _fail_cause(self.origin)
            last = "FAILED" if self.failure_cause else done
            if _active() is None:  # plain moto (no emulator running): its fixed state, as before
                fixed = self.__dict__["_status"]
                ManagedState.__init__(self, model, [(fixed, fixed)])
            else:
                ManagedState.__init__(self, model, [(first, "RUNNING"), ("RUNNING", last)])
            self._ended = False

        @property  # type: ignore[override]
        def state(self) -> str:
            current = str(self.status)
            if current in ("FAILED", "CANCELLED", done) and not getattr(self, "_ended", True):
                self._ended = True
                on_end(self, current)
            return current

        @state.setter
        def state(self, value: str) -> None:
            self.status = value

    EmulatedJobRun.__name__ = EmulatedJobRun.__qualname__ = f"Emulated{stock.__name__}"
    return EmulatedJobRun


def _install_emr_serverless() -> None:
    import moto.emrserverless.models as models
    import moto.emrserverless.responses as responses
    from moto.core.utils import utcnow
    from moto.moto_api import state_manager

    def ended(run: Any, state: str) -> None:
        run.updated_at = utcnow()
        if state == "FAILED":
            run.state_details = run.failure_cause

    models.JobRun = _job_run_class(models.JobRun, SERVERLESS_RUN_MODEL, "SUBMITTED", "SUCCESS", ended)

    stock_start = models.EMRServerlessBackend.start_job_run
    stock_get = models.EMRServerlessBackend.get_job_run

    def start_job_run(self: Any, application_id: str, client_token: str, **kwargs: Any) -> Any:
        # StartJobRun is idempotent on its client token (moto starts a new run every time).
        for run in self.job_runs.get(application_id, []) if _active() else []:
            if client_token and run.client_token == client_token:
                return run
        run = stock_start(self, application_id=application_id, client_token=client_token, **kwargs)
        _record("serverless_job_run", run.id, run, parent=application_id)
        return run

    def get_job_run(self: Any, application_id: str, job_run_id: str) -> Any:
        run = stock_get(self, application_id=application_id, job_run_id=job_run_id)
        run.advance()
        return run

    models.EMRServerlessBackend.start_job_run = start_job_run
    models.EMRServerlessBackend.get_job_run = get_job_run
    _lose_responses_of(responses.EMRServerlessResponse, ("start_job_run",), "ValidationException")
    state_manager.register_default_transition(SERVERLESS_RUN_MODEL, ONE_STATE_PER_POLL)


def _install_emr_containers() -> None:
    import moto.emrcontainers.models as models
    import moto.emrcontainers.responses as responses
    from moto.core.utils import utcnow
    from moto.moto_api import state_manager

    def ended(run: Any, state: str) -> None:
        run.finished_at = utcnow()
        if state == "FAILED":
            run.failure_reason = "USER_ERROR"
            run.state_details = run.failure_cause

    models.JobRun = _job_run_class(models.JobRun, EKS_RUN_MODEL, "PENDING", "COMPLETED", ended)

    stock_start = models.EMRContainersBackend.start_job_run
    stock_describe = models.EMRContainersBackend.describe_job_run

    def start_job_run(self: Any, virtual_cluster_id: str, client_token: str, **kwargs: Any) -> Any:
        # Idempotent on the client token, per virtual cluster (moto starts a new run every time).
        for run in self.job_runs.values() if _active() else []:
            if client_token and run.client_token == client_token and run.virtual_cluster_id == virtual_cluster_id:
                return run
        run = stock_start(self, virtual_cluster_id=virtual_cluster_id, client_token=client_token, **kwargs)
        _record("eks_job_run", run.id, run, parent=virtual_cluster_id)
        return run

    def describe_job_run(self: Any, job_run_id: str, virtual_cluster_id: str) -> Any:
        run = stock_describe(self, job_run_id=job_run_id, virtual_cluster_id=virtual_cluster_id)
        run.advance()
        return run

    models.EMRContainersBackend.start_job_run = start_job_run
    models.EMRContainersBackend.describe_job_run = describe_job_run
    _lose_responses_of(responses.EMRContainersResponse, ("start_job_run",), "ValidationException")
    state_manager.register_default_transition(EKS_RUN_MODEL, ONE_STATE_PER_POLL)


def _entry_point(driver: Any) -> str | None:
    """The script of a job run's driver (EMR Serverless ``sparkSubmit``, EMR on EKS ``sparkSubmitJobDriver``)."""
    driver = _plain(driver) or {}
    spark = driver.get("sparkSubmit") or driver.get("sparkSubmitJobDriver") or {}
    return spark.get("entryPoint")


# --------------------------------------------------------------------------- Athena

NO_OUTPUT_LOCATION = (
    "No output location provided. An output location is required either through the Workgroup result "
    "configuration setting or as an API input."
)


def output_location(request: dict[str, Any] | None, workgroup: dict[str, Any] | None) -> str | None:
    """Where Athena writes a query's results: the workgroup's when it enforces its own, else the request's."""
    configuration = (workgroup or {}).get("Configuration") or (workgroup or {}).get("configuration") or {}
    from_group = (configuration.get("ResultConfiguration") or {}).get("OutputLocation")
    from_request = (request or {}).get("OutputLocation")
    if from_group and configuration.get("EnforceWorkGroupConfiguration", True):
        return str(from_group)
    return from_request or from_group


def _install_athena() -> None:
    import moto.athena.models as models
    import moto.athena.responses as responses
    from moto.core.exceptions import ServiceException
    from moto.s3.models import s3_backends

    class InvalidRequest(ServiceException):
        code = "InvalidRequestException"

    stock_start = models.AthenaBackend.start_query_execution

    def start_query_execution(
        self: Any, query: str, context: Any, config: Any, workgroup: str | None, execution_parameters: Any
    ) -> str:
        if _active() is None:
            return str(stock_start(self, query, context, config, workgroup, execution_parameters))
        group = self.work_groups.get(workgroup or "primary")
        location = output_location(_plain(config), {"Configuration": group.configuration} if group else None)
        if not location:
            raise InvalidRequest(NO_OUTPUT_LOCATION)
        exec_id: str = stock_start(self, query, context, config, workgroup, execution_parameters)
        execution = self.executions[exec_id]
        execution.origin = _origin()
        execution.output_location = location
        cause = _fail_cause(execution.origin)
        bucket = location.removeprefix("s3://").split("/", 1)[0]
        if cause is None and bucket not in s3_backends[self.account_id]["global"].buckets:
            cause = f"Unable to verify/create output bucket {bucket}"
        execution.failure_cause = cause
        if cause:
            execution._transitions = [("QUEUED", "RUNNING"), ("RUNNING", "FAILED")]
        _record("query", exec_id, execution, parent=workgroup or "primary")
        return exec_id

    models.AthenaBackend.start_query_execution = start_query_execution

    stock_get = responses.AthenaResponse.get_query_execution

    def get_query_execution(self: Any) -> str:
        document = json.loads(stock_get(self))
        execution = self.athena_backend.executions[self._get_param("QueryExecutionId")]
        status = document["QueryExecution"]["Status"]
        location = getattr(execution, "output_location", None)
        if location:  # moto echoes the request's configuration; Athena answers with the effective location
            result = document["QueryExecution"].get("ResultConfiguration") or {}
            result["OutputLocation"] = location.rstrip("/") + f"/{execution.id}.csv"
            document["QueryExecution"]["ResultConfiguration"] = result
        cause = getattr(execution, "failure_cause", None)
        if status["State"] == "FAILED" and cause:
            status["StateChangeReason"] = cause
            status["AthenaError"] = {"ErrorCategory": 2, "Retryable": False, "ErrorMessage": cause}
        return json.dumps(document)

    responses.AthenaResponse.get_query_execution = get_query_execution
    _lose_responses_of(responses.AthenaResponse, ("start_query_execution",), "InvalidRequestException")


# --------------------------------------------------------------------------- Lambda


# A function name in any form Invoke takes: NAME, NAME:QUALIFIER, ACCOUNT:function:NAME[:QUALIFIER], full ARN.
_FUNCTION_REFERENCE = re.compile(
    r"(?:arn:aws[a-z-]*:lambda:[a-z0-9-]+:)?(?:[0-9]{12}:)?(?:function:)?([A-Za-z0-9_-]+)(?::([A-Za-z0-9$_-]+))?"
)


@dataclass
class Invocation:
    """One Lambda invoke: the function is not run (no Docker); its answer is the event, or an injected error."""

    function: str
    qualifier: str | None
    invocation_type: str
    payload: Any
    state: str
    cause: str | None


def _install_lambda() -> None:
    import moto.awslambda.responses as lambda_responses
    import moto.awslambda_simple.models as simple_models

    stock_invoke = simple_models.LambdaSimpleBackend.invoke

    def invoke(
        self: Any, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
    ) -> Any:
        # moto's Docker-free backend answers any name; Lambda answers ResourceNotFoundException.  moto's
        # lookup takes a name or a full ARN; Lambda also takes NAME:QUALIFIER and ACCOUNT:function:NAME.
        reference = _FUNCTION_REFERENCE.fullmatch(function_name)
        if reference:
            function_name, qualifier = reference.group(1), reference.group(2) or qualifier
        function = self.get_function(function_name, qualifier)
        origin = _origin()
        cause = _fail_cause(origin)
        text = body.decode() if isinstance(body, bytes) else body
        try:
            payload = json.loads(text) if text else None
        except ValueError:
            payload = text
        invocation = Invocation(
            function=function.function_name,
            qualifier=qualifier,
            invocation_type=headers.get("X-Amz-Invocation-Type") or "RequestResponse",
            payload=payload,
            state="FAILED" if cause else "SUCCEEDED",
            cause=cause,
        )
        _record("invocation", str(uuid.uuid4()), invocation, parent=function.function_arn)
        if cause and invocation.invocation_type == "RequestResponse":
            # What a function that raised returns: HTTP 200, X-Amz-Function-Error, the error as the payload.
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorMessage": cause, "errorType": "DagenEmulatedFailure"}).encode()
        return stock_invoke(self, function_name, qualifier, body, headers, response_headers)

    simple_models.LambdaSimpleBackend.invoke = invoke

    stock_invoke_response = lambda_responses.LambdaResponse.invoke

    def invoke_response(self: Any) -> Any:
        # moto reads Invoke's Qualifier query parameter as "qualifier", so it never sees it.
        if _active() and "Qualifier" in self.querystring and "qualifier" not in self.querystring:
            self.querystring["qualifier"] = self.querystring["Qualifier"]
        return stock_invoke_response(self)

    lambda_responses.LambdaResponse.invoke = invoke_response
    _lose_responses_of(lambda_responses.LambdaResponse, ("invoke",), "InvalidRequestContentException")


# --------------------------------------------------------------------------- SNS and S3 (recorded only)


def _install_sns_and_s3() -> None:
    import moto.s3.models as s3_models
    import moto.sns.models as sns_models

    stock_publish = sns_models.Topic.publish

    def publish(self: Any, message: str, subject: str | None = None, **kwargs: Any) -> str:
        message_id: str = stock_publish(self, message, subject, **kwargs)
        text = message
        if kwargs.get("message_structure") == "json":  # one message per protocol: record the default one
            text = json.loads(message).get("default", message)
        _record("message", message_id, {"subject": subject, "message": text}, parent=self.arn)
        return message_id

    sns_models.Topic.publish = publish

    stock_put = s3_models.S3Backend.put_object

    def put_object(self: Any, bucket_name: str, key_name: str, value: bytes, *args: Any, **kwargs: Any) -> Any:
        key = stock_put(self, bucket_name, key_name, value, *args, **kwargs)
        _record("object", f"s3://{bucket_name}/{key_name}", {"size": len(value or b"")}, parent=bucket_name)
        return key

    s3_models.S3Backend.put_object = put_object


# --------------------------------------------------------------------------- Step Functions


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


def _install_stepfunctions() -> None:
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
            self.stop_date: datetime | None = None
            self.status = "RUNNING"
            self.failure_cause = failure_cause
            self.origin = _origin()
            self.completed_by_emulator = True

        def observe(self) -> None:
            self.advance()
            status = str(self.status)
            if status != "RUNNING" and self.stop_date is None:
                self.stop_date = sfn_models.utcnow()
                if status == "SUCCEEDED":
                    self.output = self.execution_input
                    self.output_details = {"included": True}
                elif status == "FAILED":
                    self.error = "Dagen.EmulatedFailure"
                    self.cause = self.failure_cause

        def stop(self, *args: Any, **kwargs: Any) -> None:
            if self.stop_date is None:
                self.status = "ABORTED"
                self.stop_date = sfn_models.utcnow()

        def to_history_output(self) -> dict[str, Any]:
            return {"events": []}

    stock_start = parser_models.StepFunctionsParserBackend.start_execution

    def start_execution(
        self: Any, state_machine_arn: str, name: Any = None, execution_input: Any = None, trace_header: Any = None
    ) -> Any:
        origin = _origin()
        cause = _fail_cause(origin)
        state_machine = self.describe_state_machine(state_machine_arn)
        if name:
            self._validate_name(name)  # the parser backend skips this; EMR-like names must be checked
        if cause is None and runnable_in_moto(state_machine.definition):
            execution = stock_start(self, state_machine_arn, name, execution_input, trace_header)
            execution.origin = origin
            _record("execution", execution.exec_arn, execution, parent=state_machine.arn)
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
        _record("execution", execution.execution_arn, execution, parent=state_machine.arn)
        return execution

    parser_models.StepFunctionsParserBackend.start_execution = start_execution

    stock_describe = parser_models.StepFunctionsParserBackend.describe_execution

    def describe_execution(self: Any, execution_arn: str) -> Any:
        execution = stock_describe(self, execution_arn)
        if isinstance(execution, CompletedExecution):
            execution.observe()
        return execution

    parser_models.StepFunctionsParserBackend.describe_execution = describe_execution
    _lose_responses_of(sfn_responses.StepFunctionResponse, ("start_execution",), "ValidationException")
    state_manager.register_default_transition(EXECUTION_MODEL, ONE_STATE_PER_POLL)


# --------------------------------------------------------------------------- lost responses


def _lose_responses_of(response_class: Any, actions: tuple[str, ...], error_code: str) -> None:
    """Wrap start calls: with a lose-response fault armed, the call takes effect, then the caller gets an error.

    ``error_code`` is a client error of the service's own model that botocore does
    not retry, so the caller (the Airflow task) fails at once, as when its worker
    dies right after the call.
    """
    from moto.core.exceptions import ServiceException

    class LostResponse(ServiceException):
        code = error_code

    for action in actions:
        stock: Callable[..., Any] = getattr(response_class, action)

        def wrapped(self: Any, _stock: Callable[..., Any] = stock, _action: str = action) -> Any:
            result = _stock(self)
            emulator = _active()
            origin = emulator.origin if emulator else None
            if emulator is not None and origin in emulator._faults.lose:
                emulator._faults.lose.discard(origin)
                emulator.lost_responses.append((origin, _action))
                raise LostResponse(
                    f"dagen emulator: the {_action} call of '{origin}' took effect but its response was lost"
                )
            return result

        setattr(response_class, action, wrapped)


def install() -> None:
    """Patch moto in this process (idempotent).

    Without an active emulator (:class:`LocalAws` started) the behaviours above stay off, except that EMR
    steps progress and the EMR notebook and Glue crawler-metrics actions stock moto lacks answer.
    """
    global _INSTALLED
    with _INSTALL_LOCK:
        if _INSTALLED:
            return
        _install_emr()
        _install_glue()
        _install_stepfunctions()
        _install_emr_serverless()
        _install_emr_containers()
        _install_athena()
        _install_lambda()
        _install_sns_and_s3()
        _INSTALLED = True


# --------------------------------------------------------------------------- the emulator


class LocalAws:
    """moto's server on 127.0.0.1 with the behaviours above; use as a context manager."""

    def __init__(self, region: str = DEFAULT_REGION) -> None:
        self.region = region
        self.origin: str | None = None
        self.editors: set[str] = set()
        self.provided: dict[str, str] = {}  # s3:// URI -> the task it was put for
        self.records: list[Record] = []
        self.lost_responses: list[tuple[str | None, str]] = []
        self._faults = _Faults()
        self._lock = threading.Lock()
        self._server: Any = None
        self._clients: dict[str, Any] = {}
        self._saved_moto_port: str | None = None
        self.endpoint_url = ""

    # lifecycle
    def start(self) -> LocalAws:
        global _ACTIVE
        from moto.moto_api import state_manager
        from moto.moto_api._internal.models import moto_api_backend
        from moto.server import ThreadedMotoServer

        if _ACTIVE is not None:
            raise RuntimeError("another local AWS emulator is running in this process")
        install()
        moto_api_backend.reset()  # moto's backends are process-global: start empty
        # Lambda without Docker: moto then serves every Lambda call from its "simple" backend
        # (moto.awslambda_simple), whose invoke answers with the event instead of running the code.
        moto_api_backend.set_config({"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}})
        state_manager.set_transition("glue::crawl", {"progression": "immediate"})
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        self._server = server
        host, port = server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        # moto's state machine interpreter calls Glue through this port.
        self._saved_moto_port = os.environ.get("MOTO_PORT")
        os.environ["MOTO_PORT"] = str(port)
        _ACTIVE = self
        return self

    def stop(self) -> None:
        global _ACTIVE
        from moto.moto_api import state_manager
        from moto.moto_api._internal.models import moto_api_backend

        if self._server is None:
            return
        try:
            self._server.stop()
        finally:
            self._server = None
            self._clients.clear()
            _ACTIVE = None
            state_manager.unset_transition("glue::crawl")
            moto_api_backend.set_config(
                {"stepfunctions": {"execute_state_machine": False}, "lambda": {"use_docker": True}}
            )
            if self._saved_moto_port is None:
                os.environ.pop("MOTO_PORT", None)
            else:
                os.environ["MOTO_PORT"] = self._saved_moto_port

    def __enter__(self) -> LocalAws:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    # clients
    def client(self, service: str, region: str | None = None) -> Any:
        """A boto3 client for the emulator, with dummy credentials (never the user's); the run's region by default."""
        import boto3

        key = f"{service}@{region or self.region}"
        if key not in self._clients:  # making a client costs ~0.2 s: one per service and region
            self._clients[key] = boto3.session.Session(
                aws_access_key_id=DUMMY_KEY, aws_secret_access_key=DUMMY_KEY, region_name=region or self.region
            ).client(service, endpoint_url=self.endpoint_url)
        return self._clients[key]

    # attribution and faults
    def attribute_to(self, origin: str | None) -> None:
        """Calls from now on are made by ``origin`` (the runner passes the Airflow task id)."""
        self.origin = origin

    def fail(self, origin: str, cause: str) -> None:
        """Everything ``origin`` starts (step, notebook execution, Glue or EMR job run, execution, Athena query,
        Lambda invocation) ends FAILED with ``cause``."""
        self._faults.fail[origin] = cause

    def lose_first_response(self, origin: str) -> None:
        """The next start call of ``origin`` takes effect, but the caller gets an error instead of the answer."""
        self._faults.lose.add(origin)

    def register_editor(self, editor_id: str) -> None:
        """An EMR Studio workspace (editor) notebook executions may name."""
        self.editors.add(editor_id)

    def records_of(self, kind: str) -> Iterator[Record]:
        return (record for record in self.records if record.kind == kind)

    def provide_object(self, bucket: str, key: str, *, for_task: str) -> str:
        """Put an (empty) object that ``for_task`` waits for; recorded as made by the run, not by a task."""
        uri = f"s3://{bucket}/{key}"
        if uri in self.provided:  # the task started again (a reschedule, a resumed deferral, a retry)
            return uri
        s3 = self.client("s3")
        try:
            s3.head_bucket(Bucket=bucket)
        except s3.exceptions.ClientError:
            kwargs: dict[str, Any] = {"Bucket": bucket}
            if self.region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
            s3.create_bucket(**kwargs)
        origin, self.origin = self.origin, None
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=b"")
        finally:
            self.origin = origin
        self.provided[uri] = for_task
        return uri

    def rename(self, kind: str, current: str, wanted: str) -> None:
        """Give a resource made for the run the id a spec names literally (moto draws random ids)."""
        if kind == "cluster":
            from moto.emr.models import emr_backends

            table: dict[str, Any] = emr_backends[ACCOUNT_ID][self.region].clusters
        elif kind == "application":
            from moto.emrserverless.models import emrserverless_backends

            table = emrserverless_backends[ACCOUNT_ID][self.region].applications
        elif kind == "virtual_cluster":
            from moto.emrcontainers.models import emrcontainers_backends

            table = emrcontainers_backends[ACCOUNT_ID][self.region].virtual_clusters
        else:
            raise ValueError(f"cannot rename a {kind}")
        resource = table.pop(current)
        resource.id = wanted
        if isinstance(vars(resource).get("arn"), str):  # an attribute, not a property computed from the id
            resource.arn = resource.arn.replace(current, wanted)
        table[wanted] = resource
        for record in self.records:
            if record.id == current:
                record.id = wanted

    # what happened
    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        """Every resource the run created, its final state and who created it (plain data)."""
        from moto.emr.models import emr_backends

        out: dict[str, list[dict[str, Any]]] = {
            "clusters": [],
            "steps": [],
            "notebook_executions": [],
            "executions": [],
            "job_runs": [],
            "crawls": [],
            "serverless_job_runs": [],
            "eks_job_runs": [],
            "queries": [],
            "invocations": [],
            "messages": [],
            "objects": [],
        }
        emr = emr_backends[ACCOUNT_ID][self.region]
        for record in self.records_of("cluster"):
            cluster = emr.clusters[record.id]
            out["clusters"].append(
                {
                    "id": record.id,
                    "name": cluster.name,
                    "state": cluster.state,
                    "origin": record.origin,
                    "tags": dict(cluster._tags),
                    "step_concurrency": cluster.step_concurrency_level,
                }
            )
        for record in self.records_of("step"):
            step = record.obj
            out["steps"].append(
                {
                    "id": record.id,
                    "cluster": record.parent,
                    "name": step.name,
                    "state": step.state,
                    "args": list(step.args),
                    "origin": record.origin,
                    "cause": step.failure_cause if step.state == "FAILED" else None,
                }
            )
        for record in self.records_of("notebook_execution"):
            execution = record.obj
            out["notebook_executions"].append(
                {
                    "id": record.id,
                    "cluster": record.parent,
                    "editor_id": execution.request.get("EditorId"),
                    "path": execution.request.get("RelativePath"),
                    "params": json.loads(execution.request.get("NotebookParams") or "{}"),
                    "state": execution.state,
                    "origin": record.origin,
                    "cause": execution.reason,
                }
            )
        for record in self.records_of("execution"):
            execution = record.obj
            out["executions"].append(
                {
                    "arn": record.id,
                    "name": execution.name,
                    "state_machine": record.parent,
                    "state": str(getattr(execution.status, "value", execution.status)),
                    "input": json.loads(execution.execution_input or "{}"),
                    "origin": record.origin,
                    "completed_by_emulator": bool(getattr(execution, "completed_by_emulator", False)),
                    "cause": execution.cause,
                }
            )
        for record in self.records_of("job_run"):
            run = record.obj
            out["job_runs"].append(
                {
                    "id": record.id,
                    "job": record.parent,
                    "state": str(run.status),
                    "arguments": dict(run.arguments or {}),
                    "origin": record.origin,
                    "cause": getattr(run, "failure_cause", None) if run.status == "FAILED" else None,
                }
            )
        for record in self.records_of("crawl"):
            state = str(record.obj.status)
            out["crawls"].append(
                {
                    "crawler": record.parent,
                    "state": "SUCCEEDED" if state == "COMPLETED" else state,
                    "origin": record.origin,
                    "cause": None,
                }
            )
        for kind, key in (("serverless_job_run", "serverless_job_runs"), ("eks_job_run", "eks_job_runs")):
            for record in self.records_of(kind):
                run = record.obj
                state = run.state
                out[key].append(
                    {
                        "id": record.id,
                        # the application, or the virtual cluster
                        "on": record.parent,
                        "name": run.name,
                        "state": state,
                        "entry_point": _entry_point(run.job_driver),
                        "origin": record.origin,
                        "cause": run.failure_cause if state == "FAILED" else None,
                    }
                )
        for record in self.records_of("query"):
            query = record.obj
            state = str(query.status)
            out["queries"].append(
                {
                    "id": record.id,
                    "workgroup": record.parent,
                    "query": query.query,
                    "database": (_plain(query.context) or {}).get("Database"),
                    "output_location": query.output_location,
                    "state": state,
                    "origin": record.origin,
                    "cause": query.failure_cause if state == "FAILED" else None,
                }
            )
        for record in self.records_of("invocation"):
            invocation = record.obj
            out["invocations"].append(
                {
                    "id": record.id,
                    "function": invocation.function,
                    "qualifier": invocation.qualifier,
                    "invocation_type": invocation.invocation_type,
                    "payload": invocation.payload,
                    "state": invocation.state,
                    "origin": record.origin,
                    "cause": invocation.cause,
                }
            )
        for record in self.records_of("message"):
            out["messages"].append({"id": record.id, "topic": record.parent, **record.obj, "origin": record.origin})
        for record in self.records_of("object"):
            out["objects"].append(
                {"uri": record.id, "origin": record.origin, "provided_for": self.provided.get(record.id)}
            )
        return out
