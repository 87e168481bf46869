"""What the Redshift task types share: the warehouse a statement runs on, its database and credentials.

A statement runs on a provisioned cluster (``cluster_identifier``, or ``cluster``: one under ``clusters``
with ``kind: redshift``, which the pipeline may own) or a Redshift Serverless workgroup (``workgroup_name``),
exactly one of these (DG530), in ``database``.  The Data API signs in with a
Secrets Manager secret (``secret_arn``), with temporary credentials for a database user (``db_user``,
clusters only: Redshift Serverless has no ``GetClusterCredentials``) or, with neither, as the IAM
identity of the caller; at most one of the two (DG531).  :func:`target_kwargs` gives the
``RedshiftDataOperator`` arguments; the cluster comes from :func:`cluster_identifier`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from generator.core.diagnostics import Diagnostic
from generator.core.lowering_context import LowerContext
from generator.core.model import TaskSpec
from generator.core.schema_parts import STRING, TEMPLATED_STRING, Schema, prop
from generator.resources import redshift_cluster

TARGETS = ("cluster_identifier", "workgroup_name", "cluster")
SECRET_ARN: Schema = {
    "type": "string",
    # Not rendered by the operator (not a template field): a literal ARN, no Jinja.
    "pattern": r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+$",
    "title": "Secrets Manager secret ARN",
}

PROPERTIES: dict[str, Schema] = {
    "cluster": prop(
        STRING,
        "A Redshift cluster under `clusters` (`kind: redshift`): one the pipeline creates before its first task "
        "and deletes after its last, or an existing one. Set this, `cluster_identifier` or `workgroup_name`.",
        "warehouse",
    ),
    "cluster_identifier": prop(
        TEMPLATED_STRING,
        "The provisioned Redshift cluster the statements run on. Set this or `workgroup_name`.",
        "analytics-cluster",
    ),
    "workgroup_name": prop(
        TEMPLATED_STRING,
        "The Redshift Serverless workgroup the statements run on, by name. Set this or `cluster_identifier`.",
        "analytics",
    ),
    "database": prop(TEMPLATED_STRING, "The database the statements run in.", "dev"),
    "secret_arn": prop(
        SECRET_ARN,
        "Secrets Manager secret holding the database user name and password (no Jinja: the operator does not "
        "render it). Without it and without `db_user`, the Data API signs in as the task's IAM identity.",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:redshift/etl-AbCdEf",
    ),
    "db_user": prop(
        TEMPLATED_STRING,
        "Database user to get temporary credentials for (`redshift:GetClusterCredentials`); clusters only, and "
        "not with `secret_arn`.",
        "etl",
    ),
}


def check_target(kind: str, task_id: str, task: dict[str, Any], at: Any) -> Iterator[Diagnostic]:
    """DG530 (exactly one of cluster and workgroup) and DG531 (credentials that fit the target)."""
    given = [key for key in TARGETS if key in task]
    if not given:
        yield Diagnostic(
            code="DG530",
            **at(("tasks", task_id), key=True),
            message=f"{kind} '{task_id}' sets none of cluster, cluster_identifier and workgroup_name: it has no "
            "warehouse to run on",
            hint="add cluster: NAME (under clusters, kind: redshift), cluster_identifier: CLUSTER (provisioned) or "
            "workgroup_name: WORKGROUP (Redshift Serverless)",
        )
    elif len(given) > 1:
        yield Diagnostic(
            code="DG530",
            **at(("tasks", task_id, given[1]), key=True),
            message=f"{kind} '{task_id}' sets both {given[0]} and {given[1]}: a statement runs on one warehouse",
            hint="keep one: cluster (a cluster under clusters), cluster_identifier (a provisioned cluster) or "
            "workgroup_name (Redshift Serverless)",
        )
    if "secret_arn" in task and "db_user" in task:
        yield Diagnostic(
            code="DG531",
            **at(("tasks", task_id, "db_user"), key=True),
            message=f"{kind} '{task_id}' sets both secret_arn and db_user: the Data API signs in one way",
            hint="keep secret_arn (the secret's user and password) or db_user (temporary credentials), not both",
        )
    elif "db_user" in task and "workgroup_name" in task:
        yield Diagnostic(
            code="DG531",
            **at(("tasks", task_id, "db_user"), key=True),
            message=f"{kind} '{task_id}' sets db_user with workgroup_name: Redshift Serverless gives no "
            "credentials for a named database user",
            hint="remove db_user (the task then signs in as its IAM identity) or use secret_arn",
        )


def cluster_identifier(task: TaskSpec, ctx: LowerContext) -> str | None:
    """The cluster a task runs on (``None``: a workgroup): given, existing, or the one the pipeline owns."""
    if task.cluster is not None:
        settings = next(c.settings for c in ctx.spec.clusters if c.name == task.cluster)
        if "existing_cluster_id" in settings:
            return str(settings["existing_cluster_id"])
        return redshift_cluster.cluster_identifier(ctx.spec.dag_id, task.cluster)  # deterministic: no XCom
    value = task.settings.get("cluster_identifier")
    return None if value is None else str(value)


def target_kwargs(task: TaskSpec, ctx: LowerContext) -> dict[str, Any]:
    """The Data API target, database and credentials, as ``RedshiftDataOperator`` (and its hook) name them."""
    settings = task.settings
    cluster = cluster_identifier(task, ctx)
    out: dict[str, Any] = {"cluster_identifier": cluster} if cluster else {"workgroup_name": settings["workgroup_name"]}
    out["database"] = settings["database"]
    for key in ("secret_arn", "db_user"):
        if key in settings:
            out[key] = settings[key]
    return out


def statement_kwargs(task: TaskSpec, ctx: LowerContext, sql: str | list[str]) -> dict[str, Any]:
    """``RedshiftDataOperator`` running ``sql`` on the task's target, deferred until it ends."""
    return {
        **ctx.aws(),
        **target_kwargs(task, ctx),
        "sql": sql,
        "wait_for_completion": True,
        "deferrable": True,
        "poll_interval": task.poll_interval,
    }


IAM_ROLE: Schema = {
    "type": "string",
    "pattern": r"^(default|arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]+|.*\{\{.*\}\}.*)$",
    "title": "IAM role ARN, or default (Jinja allowed)",
}
TRANSFER_PROPERTIES: dict[str, Schema] = {
    "iam_role_arn": prop(
        IAM_ROLE,
        "The IAM role Redshift assumes to read or write S3 (the statement's IAM_ROLE clause); it must be "
        "associated with the cluster or namespace. `default`: the cluster's default IAM role.",
        "arn:aws:iam::123456789012:role/redshift-s3-access",
        "default",
    ),
    "schema": prop(TEMPLATED_STRING, "Schema of `table` (default: the search path's, usually `public`).", "sales"),
}


def iam_role_clause(settings: dict[str, Any]) -> str:
    """``IAM_ROLE 'ARN'`` (or ``IAM_ROLE default``): S3 is read or written as that role, not as the task."""
    role = str(settings["iam_role_arn"])
    return "IAM_ROLE default" if role == "default" else f"IAM_ROLE '{role}'"


def qualified_table(settings: dict[str, Any]) -> str:
    return f"{settings['schema']}.{settings['table']}" if "schema" in settings else str(settings["table"])


def options_text(options: Any) -> str:
    return "".join(f" {option}" for option in options or ())
