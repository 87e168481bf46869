"""EMR on EKS virtual clusters a pipeline owns: ``clusters: {NAME: {kind: emr_eks, ...}}``.

A virtual cluster registers one namespace of an EKS cluster with EMR.  The schema fragment
(:data:`PROPERTIES`) and the lifecycle tasks (:func:`lifecycle`): ``create_<name>`` before its first jobs,
``delete_<name>`` after its last (a setup/teardown pair).  The operators are dagen's
(:mod:`generator.runtime.managed_resources`, named by path only):

* ``create_<name>`` sends a client token that is the key of the task's first try in this run (since it was
  last cleared): CreateVirtualCluster is idempotent on it, so a retry gets back the virtual cluster an
  earlier try created; it is tagged ``dagen:dag-id``, ``dagen:cluster``, ``dagen:run-id`` and pushes its id.
* ``delete_<name>`` calls DeleteVirtualCluster (the provider has no operator for it) and waits until the
  virtual cluster is TERMINATED; a retry when it is already TERMINATED or gone succeeds.
"""

from __future__ import annotations

from typing import Any

from generator.core.schema_parts import TEMPLATED_STRING, Schema, prop

KIND = "emr_eks"
TITLE = "EMR on EKS virtual cluster"
CREATE_OPERATOR = "generator.runtime.managed_resources.RetrySafeEmrEksCreateClusterOperator"
DELETE_OPERATOR = "generator.runtime.managed_resources.RetrySafeEmrEksDeleteVirtualClusterOperator"
CREATE_RETRY = "sends the same client token: CreateVirtualCluster gives back the virtual cluster an earlier try created"
DELETE_RETRY = "deletes the virtual cluster and waits until it is TERMINATED; succeeds when it already is, or is gone"
ID_KWARG = "virtual_cluster_id"
WAIT_TIMEOUT = 1800

PROPERTIES: dict[str, Schema] = {
    "name": prop(TEMPLATED_STRING, "Virtual cluster name (default: DAG id and cluster key).", "daily-spark-eks"),
    "eks_cluster_name": prop(TEMPLATED_STRING, "The EKS cluster whose namespace EMR runs jobs in.", "analytics-eks"),
    "eks_namespace": prop(
        {"type": "string", "pattern": r"^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?|.*\{\{.*\}\}.*)$", "title": "namespace"},
        "The Kubernetes namespace registered with EMR (one virtual cluster per namespace at a time).",
        "spark-jobs",
    ),
}
REQUIRED = ("eks_cluster_name", "eks_namespace")


def lifecycle(
    name: str, settings: dict[str, Any], *, identity: dict[str, str], poll: int, aws: dict[str, Any], seconds: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The kwargs of ``create_<name>`` and of ``delete_<name>`` (the create's id arrives by XCom)."""
    create = {
        **aws,
        "virtual_cluster_name": settings.get("name", f"{identity['dagen:dag-id']}-{name}"),
        "eks_cluster_name": settings["eks_cluster_name"],
        "eks_namespace": settings["eks_namespace"],
        "tags": {**identity, **settings.get("tags", {})},
        "doc_md": f"Create EMR on EKS virtual cluster `{name}`.",
    }
    delete = {
        **aws,
        "poll_interval": poll,
        "max_attempts": max(1, WAIT_TIMEOUT // poll),
        "doc_md": f"Delete EMR on EKS virtual cluster `{name}`; runs even when its jobs failed.",
    }
    return create, delete
