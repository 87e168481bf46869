"""EMR on EKS in the emulator: job runs ``PENDING -> RUNNING -> COMPLETED``, one state per DescribeJobRun.

Stock moto leaves them RUNNING forever; here a run is the state-manager model
``emr-containers::job_run`` (FAILED with ``stateDetails`` and ``failureReason: USER_ERROR`` when
injected).  StartJobRun is idempotent on its client token per virtual cluster, as in AWS.  So is
CreateVirtualCluster (the same token gives back the same virtual cluster), and a namespace is free again
once its virtual cluster is TERMINATED (moto refuses it forever).
"""

from __future__ import annotations

from typing import Any

from generator.local.emulator.shared import ONE_STATE_PER_POLL, active, job_run_class, lose_responses_of, record

# The state-manager model this module registers (moto.moto_api.state_manager).
EKS_RUN_MODEL = "emr-containers::job_run"


def install() -> None:
    import moto.emrcontainers.models as models
    import moto.emrcontainers.responses as responses
    from moto.core.utils import utcnow
    from moto.moto_api import state_manager

    def ended(run: Any, state: str) -> None:
        run.finished_at = utcnow()
        if state == "FAILED":
            run.failure_reason = "USER_ERROR"
            run.state_details = run.failure_cause

    models.JobRun = job_run_class(models.JobRun, EKS_RUN_MODEL, "PENDING", "COMPLETED", ended, "eks_job")

    stock_start = models.EMRContainersBackend.start_job_run
    stock_describe = models.EMRContainersBackend.describe_job_run

    def start_job_run(self: Any, virtual_cluster_id: str, client_token: str, **kwargs: Any) -> Any:
        # Idempotent on the client token, per virtual cluster (moto starts a new run every time).
        for run in self.job_runs.values() if active() else []:
            if client_token and run.client_token == client_token and run.virtual_cluster_id == virtual_cluster_id:
                return run
        run = stock_start(self, virtual_cluster_id=virtual_cluster_id, client_token=client_token, **kwargs)
        record("eks_job_run", run.id, run, parent=virtual_cluster_id)
        return run

    def describe_job_run(self: Any, job_run_id: str, virtual_cluster_id: str) -> Any:
        run = stock_describe(self, job_run_id=job_run_id, virtual_cluster_id=virtual_cluster_id)
        run.advance()
        return run

    models.EMRContainersBackend.start_job_run = start_job_run
    stock_create = models.EMRContainersBackend.create_virtual_cluster

    def create_virtual_cluster(self: Any, name: str, container_provider: Any, client_token: str, **kw: Any) -> Any:
        for cluster in self.virtual_clusters.values():
            if client_token and cluster.client_token == client_token:
                return cluster  # idempotent on the client token
        namespace = container_provider["info"]["eksInfo"]["namespace"]
        ended = [c for c in self.virtual_clusters.values() if c.namespace == namespace and c.state == "TERMINATED"]
        for cluster in ended:
            cluster.namespace = None  # (moto compares every cluster's namespace, terminated or not)
        try:
            cluster = stock_create(
                self, name=name, container_provider=container_provider, client_token=client_token, **kw
            )
        finally:
            for old in ended:
                old.namespace = namespace
        record("virtual_cluster", cluster.id, cluster)
        return cluster

    models.EMRContainersBackend.create_virtual_cluster = create_virtual_cluster
    models.EMRContainersBackend.describe_job_run = describe_job_run
    lose_responses_of(
        responses.EMRContainersResponse,
        ("start_job_run",),
        "ValidationException",
        lambda response, action: [("eks_job", str(response._get_param("name") or ""))],
    )
    state_manager.register_default_transition(EKS_RUN_MODEL, ONE_STATE_PER_POLL)
