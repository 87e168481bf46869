"""``emr_eks_job`` tasks: an EMR on EKS job run whose retry re-runs a failed job run, and never starts a duplicate.

StartJobRun is idempotent on its client token.  The provider operator's token
is a fresh ``uuid4()`` (providers 9.0: made when the DAG file is parsed, i.e.
once per try; 9.34: made in ``execute``), so every retry would start another
job run, and ``client_request_token`` is not a template field.
:class:`RetrySafeEmrContainerOperator` sends one token per try
(:func:`~generator.runtime.tries.try_key`) and, before it starts, recovers the
job runs of this run's earlier tries by sending their tokens again
(:func:`~generator.runtime.tries.replayed_token`): one still running or
completed is awaited or is the result (a lost start response, a lost worker),
and only when all ended FAILED, CANCELLED or CANCEL_PENDING does the try start
a new job run.  The request, the deferrable wait (``EmrContainerTrigger``) and
the failure handling are the provider's.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.hooks.emr import EmrContainerHook
from airflow.providers.amazon.aws.operators.emr import EmrContainerOperator

from generator.runtime.tries import keys_of, replayed_token

UNSUCCESSFUL = frozenset(EmrContainerHook.FAILURE_STATES)


class RetrySafeEmrContainerOperator(EmrContainerOperator):  # type: ignore[misc]
    """``EmrContainerOperator`` that sends one client token per try (see the module)."""

    def execute(self, context: Any) -> Any:
        self.client_request_token = replayed_token(
            keys_of(context, self.retries), self._state_of_start, unsuccessful=UNSUCCESSFUL
        )
        return super().execute(context)

    def _state_of_start(self, token: str) -> str:
        """Start with ``token`` (a token already used returns its job run) and return the job run's state."""
        job_run_id = self.hook.submit_job(
            self.name,
            self.execution_role_arn,
            self.release_label,
            self.job_driver,
            self.configuration_overrides,
            token,
            self.tags,
            self.job_retry_max_attempts,
        )
        return str(self.hook.check_query_status(job_id=job_run_id))
