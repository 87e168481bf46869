"""EMR Serverless in the emulator: job runs ``SUBMITTED -> RUNNING -> SUCCESS``, one state per GetJobRun.

Stock moto answers SUCCESS at once; here a run is the state-manager model ``emr-serverless::job_run``
(FAILED with ``stateDetails`` when injected).  StartJobRun is idempotent on its client token per
application, as in AWS (moto starts a new run every time): dagen's retries rely on it to find the job
run an earlier try started.

Applications follow AWS's states, one step per GetApplication: CreateApplication -> CREATING -> CREATED
(idempotent on its client token: the same token gives back the same application), StartApplication ->
STARTING -> STARTED, StopApplication -> STOPPING -> STOPPED (an application not started is STOPPED at
once), DeleteApplication only when CREATED or STOPPED (else ValidationException) -> TERMINATED.  A job
run submitted to a CREATED or STOPPED application starts it when auto start is on (refused when off).
"""

from __future__ import annotations

from typing import Any

from generator.local.emulator.shared import ONE_STATE_PER_POLL, active, job_run_class, lose_responses_of, record

# The state-manager model this module registers (moto.moto_api.state_manager).
SERVERLESS_RUN_MODEL = "emr-serverless::job_run"


def install() -> None:
    import moto.emrserverless.models as models
    import moto.emrserverless.responses as responses
    from moto.core.utils import utcnow
    from moto.moto_api import state_manager

    def ended(run: Any, state: str) -> None:
        run.updated_at = utcnow()
        if state == "FAILED":
            run.state_details = run.failure_cause

    models.JobRun = job_run_class(models.JobRun, SERVERLESS_RUN_MODEL, "SUBMITTED", "SUCCESS", ended, "serverless_job")

    stock_start = models.EMRServerlessBackend.start_job_run
    stock_get = models.EMRServerlessBackend.get_job_run

    def start_job_run(self: Any, application_id: str, client_token: str, **kwargs: Any) -> Any:
        # StartJobRun is idempotent on its client token (moto starts a new run every time).
        for run in self.job_runs.get(application_id, []) if active() else []:
            if client_token and run.client_token == client_token:
                return run
        application = self.get_application(application_id)
        if application.state in ("CREATED", "STOPPED"):
            if not application.auto_start_configuration.get("enabled", True):
                raise models.ValidationException(f"Application {application_id} is not started (auto start off)")
            application.state = "STARTING"
        run = stock_start(self, application_id=application_id, client_token=client_token, **kwargs)
        record("serverless_job_run", run.id, run, parent=application_id)
        return run

    def get_job_run(self: Any, application_id: str, job_run_id: str) -> Any:
        run = stock_get(self, application_id=application_id, job_run_id=job_run_id)
        run.advance()
        return run

    models.EMRServerlessBackend.start_job_run = start_job_run
    _install_application_states(models)
    models.EMRServerlessBackend.get_job_run = get_job_run
    lose_responses_of(
        responses.EMRServerlessResponse,
        ("start_job_run",),
        "ValidationException",
        lambda response, action: [("serverless_job", str(response._get_param("name") or ""))],
    )
    state_manager.register_default_transition(SERVERLESS_RUN_MODEL, ONE_STATE_PER_POLL)


# What one GetApplication moves an application in a transitional state to.
_NEXT_STATE = {"CREATING": "CREATED", "STARTING": "STARTED", "STOPPING": "STOPPED"}


def _install_application_states(models: Any) -> None:
    backend = models.EMRServerlessBackend
    stock_create, stock_get = backend.create_application, backend.get_application
    stock_start, stock_stop = backend.start_application, backend.stop_application

    def create_application(self: Any, client_token: str, **kwargs: Any) -> Any:
        for application in self.applications.values():
            if client_token and application.client_token == client_token:
                return application  # CreateApplication is idempotent on its client token
        application = stock_create(self, client_token=client_token, **kwargs)
        application.state = "CREATING"
        record("serverless_application", application.id, application)
        return application

    def get_application(self: Any, application_id: str) -> Any:
        application = stock_get(self, application_id)
        application.state = _NEXT_STATE.get(application.state, application.state)
        return application

    def start_application(self: Any, application_id: str) -> None:
        application = stock_get(self, application_id)
        if application.state == "TERMINATED":
            raise models.ValidationException(f"Application {application_id} is terminated")
        if application.state not in ("STARTING", "STARTED"):
            stock_start(self, application_id)
            application.state = "STARTING"

    def stop_application(self: Any, application_id: str) -> None:
        application = stock_get(self, application_id)
        if application.state == "TERMINATED":
            raise models.ValidationException(f"Application {application_id} is terminated")
        started = application.state in ("STARTING", "STARTED")
        stock_stop(self, application_id)
        # a started application takes a poll to stop; one that never started is stopped at once
        application.state = "STOPPING" if started else "STOPPED"

    backend.create_application = create_application
    backend.get_application = get_application
    backend.start_application = start_application
    backend.stop_application = stop_application
