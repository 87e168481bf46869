"""``emr_serverless_job`` tasks: a Spark job run whose retry re-runs a failed job run, and never starts a duplicate.

StartJobRun is idempotent on its client token.  The provider operator's token
is a fresh ``uuid4()`` per parse (every try would start another job run), and
one token per task and run would give a retry back the job run that failed.
:class:`RetrySafeEmrServerlessStartJobOperator` sends one token per try
(:func:`~generator.runtime.tries.try_key`) and, before it starts, recovers the
job runs of this run's earlier tries by sending their tokens again
(:func:`~generator.runtime.tries.replayed_token`): one still running or
succeeded is awaited or is the result (a lost start response, a lost worker),
and only when all ended FAILED, CANCELLING or CANCELLED does the try start a
new job run.  Everything else -- starting the application, the request, the
deferrable wait (``EmrServerlessStartJobTrigger``), the links -- is the
provider's.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.hooks.emr import EmrServerlessHook
from airflow.providers.amazon.aws.operators.emr import EmrServerlessStartJobOperator

from generator.runtime.tries import keys_of, replayed_token

UNSUCCESSFUL = frozenset(EmrServerlessHook.JOB_FAILURE_STATES)


class RetrySafeEmrServerlessStartJobOperator(EmrServerlessStartJobOperator):  # type: ignore[misc]
    """``EmrServerlessStartJobOperator`` that sends one client token per try (see the module)."""

    def execute(self, context: Any, event: dict[str, Any] | None = None) -> Any:
        conn = self.hook.conn
        application = conn.get_application(applicationId=self.application_id)["application"]
        if application["state"] in EmrServerlessHook.APPLICATION_SUCCESS_STATES or not self.deferrable:
            # (otherwise the provider starts the application and comes back here once it is started)
            self.client_request_token = replayed_token(
                keys_of(context, self.retries), self._state_of_start, unsuccessful=UNSUCCESSFUL
            )
        return super().execute(context, event)

    def _state_of_start(self, token: str) -> str:
        """Start with ``token`` (a token already used returns its job run) and return the job run's state."""
        request: dict[str, Any] = {
            "clientToken": token,
            "applicationId": self.application_id,
            "executionRoleArn": self.execution_role_arn,
            "jobDriver": self.job_driver,
            "name": self.name,
            **self.config,
        }
        if self.configuration_overrides is not None:
            request["configurationOverrides"] = self.configuration_overrides
        conn = self.hook.conn
        job_run_id = conn.start_job_run(**request)["jobRunId"]
        return str(conn.get_job_run(applicationId=self.application_id, jobRunId=job_run_id)["jobRun"]["state"])
