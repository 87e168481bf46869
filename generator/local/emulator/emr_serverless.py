"""EMR Serverless in the emulator: job runs ``SUBMITTED -> RUNNING -> SUCCESS``, one state per GetJobRun.

Stock moto answers SUCCESS at once; here a run is the state-manager model ``emr-serverless::job_run``
(FAILED with ``stateDetails`` when injected).  StartJobRun is idempotent on its client token per
application, as in AWS (moto starts a new run every time): dagen's retries rely on it to find the job
run an earlier try started.
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
        run = stock_start(self, application_id=application_id, client_token=client_token, **kwargs)
        record("serverless_job_run", run.id, run, parent=application_id)
        return run

    def get_job_run(self: Any, application_id: str, job_run_id: str) -> Any:
        run = stock_get(self, application_id=application_id, job_run_id=job_run_id)
        run.advance()
        return run

    models.EMRServerlessBackend.start_job_run = start_job_run
    models.EMRServerlessBackend.get_job_run = get_job_run
    lose_responses_of(
        responses.EMRServerlessResponse,
        ("start_job_run",),
        "ValidationException",
        lambda response, action: [("serverless_job", str(response._get_param("name") or ""))],
    )
    state_manager.register_default_transition(SERVERLESS_RUN_MODEL, ONE_STATE_PER_POLL)
