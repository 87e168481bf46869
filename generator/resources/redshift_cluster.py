"""Provisioned Redshift clusters a pipeline owns: ``clusters: {NAME: {kind: redshift, ...}}``.

The schema fragment (:data:`PROPERTIES`) and the lifecycle tasks (:func:`lifecycle`): ``create_<name>``
before the cluster's first tasks, ``delete_<name>`` after its last (a setup/teardown pair).  The operators
are dagen's (:mod:`generator.runtime.managed_resources`, named by path only):

* the cluster identifier is deterministic (:func:`cluster_identifier`: DAG id and cluster key), so
  ``create_<name>`` retried after an earlier try created the cluster adopts it (CreateCluster answers
  ClusterAlreadyExists) and waits, deferrably, until it is available; the admin password is managed by
  Redshift in Secrets Manager (``ManageMasterPassword``): no password is in a spec or the DAG.  It pushes the
  identifier (what a task on the cluster uses).  Being per DAG, not per run, one run owns it at a time: the
  pipeline's runs must not overlap (``max_active_runs: 1``).
* ``delete_<name>`` deletes it (no final snapshot unless ``final_snapshot: true``) and waits until it is
  gone; a retry when it is already gone, or being deleted, succeeds.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from generator.core.schema_parts import BOOLEAN, POSITIVE_INT, STRING, STRING_LIST, Schema, prop

KIND = "redshift"
TITLE = "Redshift cluster"
CREATE_OPERATOR = "generator.runtime.managed_resources.RetrySafeRedshiftCreateClusterOperator"
DELETE_OPERATOR = "generator.runtime.managed_resources.RetrySafeRedshiftDeleteClusterOperator"
CREATE_RETRY = "adopts the cluster of the same identifier (DAG id and cluster key) and waits until it is available"
DELETE_RETRY = "deletes the cluster of that identifier; succeeds when it is already gone or being deleted"
ID_KWARG = "cluster_identifier"
WAIT_TIMEOUT = 3600
NODE_TYPES = ("ra3.large", "ra3.xlplus", "ra3.4xlarge", "ra3.16xlarge", "dc2.large", "dc2.8xlarge")

PROPERTIES: dict[str, Schema] = {
    "node_type": prop({"enum": list(NODE_TYPES)}, "Node type of the cluster.", "ra3.xlplus"),
    "number_of_nodes": prop(
        {"type": "integer", "minimum": 1, "maximum": 128}, "Nodes (1: a single-node cluster).", 2, default=1
    ),
    "master_username": prop(
        {"type": "string", "pattern": r"^[a-z][a-z0-9_]{0,127}$", "title": "database user name"},
        "Admin user (its password is managed by Redshift in Secrets Manager).",
        "admin",
        default="awsuser",
    ),
    "db_name": prop(
        {"type": "string", "pattern": r"^[a-z][a-z0-9_$]{0,63}$", "title": "database name"},
        "Database created with the cluster.",
        "analytics",
        default="dev",
    ),
    "subnet_group": prop(STRING, "Cluster subnet group (the VPC the cluster is in).", "analytics-private"),
    "security_group_ids": prop(STRING_LIST, "VPC security groups of the cluster.", ["sg-0a"]),
    "iam_roles": prop(
        STRING_LIST,
        "IAM role ARNs the cluster may assume (COPY, UNLOAD).",
        ["arn:aws:iam::123456789012:role/redshift-s3"],
    ),
    "publicly_accessible": prop(BOOLEAN, "Whether the cluster has a public address.", False, default=False),
    "encrypted": prop(BOOLEAN, "Encrypt the cluster's data at rest.", True, default=True),
    "final_snapshot": prop(BOOLEAN, "Take a final snapshot when the pipeline deletes it.", True, default=False),
    "automated_snapshot_retention_days": prop(
        {"type": "integer", "minimum": 0, "maximum": 35}, "Days automated snapshots are kept (0: none).", 1
    ),
    "port": prop(POSITIVE_INT, "Port of the database.", 5439),
}
REQUIRED = ("node_type",)


def cluster_identifier(dag_id: str, name: str) -> str:
    """A valid Redshift identifier from the DAG id and the cluster key: lowercase letters, digits and single
    hyphens, starting with a letter, at most 63 characters (a hash keeps long ones apart)."""
    raw = re.sub(r"[^a-z0-9]+", "-", f"{dag_id}-{name}".lower()).strip("-")
    if not raw[:1].isalpha():
        raw = f"c-{raw}"
    if len(raw) > 63:
        raw = f"{raw[:54].rstrip('-')}-{hashlib.sha256(raw.encode()).hexdigest()[:8]}"
    return raw


def lifecycle(
    name: str, settings: dict[str, Any], *, identity: dict[str, str], poll: int, aws: dict[str, Any], seconds: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The kwargs of ``create_<name>`` and of ``delete_<name>`` (the identifier is known: no XCom needed)."""
    identifier = cluster_identifier(identity["dagen:dag-id"], name)
    attempts = max(1, WAIT_TIMEOUT // poll)
    nodes = settings.get("number_of_nodes", 1)
    create: dict[str, Any] = {
        **aws,
        "cluster_identifier": identifier,
        "node_type": settings["node_type"],
        "master_username": settings.get("master_username", "awsuser"),
        "manage_master_password": True,
        "db_name": settings.get("db_name", "dev"),
        "cluster_type": "multi-node" if nodes > 1 else "single-node",
        "number_of_nodes": nodes,
        "publicly_accessible": settings.get("publicly_accessible", False),
        "encrypted": settings.get("encrypted", True),
        "tags": [{"Key": key, "Value": value} for key, value in {**identity, **settings.get("tags", {})}.items()],
    }
    optional = {
        "subnet_group": "cluster_subnet_group_name",
        "security_group_ids": "vpc_security_group_ids",
        "iam_roles": "iam_roles",
        "automated_snapshot_retention_days": "automated_snapshot_retention_period",
        "port": "port",
    }
    create.update({kwarg: settings[key] for key, kwarg in optional.items() if key in settings})
    create.update(
        {
            "wait_for_completion": True,
            "deferrable": True,
            "poll_interval": poll,
            "max_attempt": attempts,
            "doc_md": f"Create Redshift cluster `{name}` ({identifier}) and wait until it is available.",
        }
    )
    final = settings.get("final_snapshot", False)
    delete: dict[str, Any] = {**aws, "cluster_identifier": identifier, "skip_final_cluster_snapshot": not final}
    if final:
        delete["final_cluster_snapshot_identifier"] = f"{identifier[:40]}-final-{{{{ ts_nodash | lower }}}}"
    delete.update(
        {
            "wait_for_completion": True,
            "deferrable": False,
            "poll_interval": poll,
            "max_attempts": attempts,
            "doc_md": f"Delete Redshift cluster `{name}` ({identifier}); runs even when its tasks failed.",
        }
    )
    return create, delete
