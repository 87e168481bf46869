"""The kinds of ``clusters:`` entries: one regular shape for every managed resource a pipeline owns.

An entry's ``kind`` (default ``emr``) says what it is; each kind takes either creation settings or
``existing_cluster_id``, and its tasks name it with ``cluster: NAME``.  This module is the dispatch:
the schema of an entry by kind, the rules the schema cannot express, which task types run on which
kinds (:data:`RUNS_ON`; a type missing from it runs on no cluster) and the lifecycle task ids.
EMR clusters (``emr``) are :mod:`generator.resources.emr_cluster`; the other kinds have a module each.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import Any

from generator.core.diagnostics import Diagnostic
from generator.core.schema_parts import Schema, prop
from generator.resources import emr_eks_virtual_cluster, emr_serverless_application, redshift_cluster

DEFAULT_KIND = "emr"
# The kinds besides EMR clusters, each a module with KIND, TITLE, PROPERTIES, REQUIRED and lifecycle().
OTHER_KINDS: dict[str, ModuleType] = {
    module.KIND: module for module in (emr_serverless_application, emr_eks_virtual_cluster, redshift_cluster)
}
KINDS = (DEFAULT_KIND, *OTHER_KINDS)
# Task type -> the kinds of cluster it runs on (extend a row to let a type run on another kind).
RUNS_ON: dict[str, tuple[str, ...]] = {
    "emr_step": ("emr",),
    "emr_notebook": ("emr",),
    "emr_serverless_job": ("emr_serverless",),
    "emr_eks_job": ("emr_eks",),
    "redshift_sql": ("redshift",),
    "s3_to_redshift": ("redshift",),
    "redshift_to_s3": ("redshift",),
}

_KIND_NAMES = {
    "emr": "an EMR cluster",
    "emr_serverless": "an EMR Serverless application",
    "emr_eks": "an EMR on EKS virtual cluster",
    "redshift": "a Redshift cluster",
}


def kind_of(cluster: dict[str, Any]) -> str:
    kind = cluster.get("kind", DEFAULT_KIND)
    return kind if isinstance(kind, str) else DEFAULT_KIND


def teardown_task_id(name: str, kind: str) -> str:
    """``terminate_<name>`` for an EMR cluster, ``delete_<name>`` for the other kinds."""
    return f"terminate_{name}" if kind == DEFAULT_KIND else f"delete_{name}"


def _kind_property(kind: str) -> Schema:
    return prop(
        {"enum": list(KINDS)},
        "What the entry is: `emr`, an EMR cluster (the default), `emr_serverless`, an EMR Serverless "
        "application, `emr_eks`, an EMR on EKS virtual cluster, or `redshift`, a provisioned Redshift "
        "cluster. Each kind takes creation settings or `existing_cluster_id`.",
        "emr_serverless",
        default=kind,
    )


def kind_definitions(emr_schema: Schema) -> dict[str, Schema]:
    """``$defs`` entries: ``cluster`` and one definition per other kind.

    ``cluster`` keeps the EMR cluster's properties (what the reference documents, validated once); an entry
    of another kind is checked by its kind's closed definition (keys it shares with EMR clusters validated
    by those properties), an EMR cluster is closed to EMR keys.
    """
    properties = {**emr_schema["properties"], "kind": _kind_property(DEFAULT_KIND)}
    out: dict[str, Schema] = {}
    for kind, module in OTHER_KINDS.items():
        own = {key: _annotation(schema) if key in properties else schema for key, schema in module.PROPERTIES.items()}
        existing = prop(
            {},
            f"Use an existing {module.TITLE} instead of creating one: its id (Jinja allowed); no other settings.",
            "{{ var.value.existing_id }}",
        )
        out[f"{kind}_cluster"] = {
            "type": "object",
            "title": module.TITLE,
            "properties": {
                "kind": _annotation(properties["kind"]),
                "existing_cluster_id": existing,
                **own,
                "tags": _annotation(properties["tags"]),
            },
            "additionalProperties": False,
        }
    out["cluster"] = {
        **{key: value for key, value in emr_schema.items() if key != "additionalProperties"},
        "properties": properties,
        "allOf": [{"if": _required_kind(kind), "then": {"$ref": f"#/$defs/{kind}_cluster"}} for kind in OTHER_KINDS]
        + [
            {
                "if": {"properties": {"kind": {"const": DEFAULT_KIND}}},
                "then": {
                    "properties": {key: _annotation(schema) for key, schema in properties.items()},
                    "additionalProperties": False,
                },
            }
        ],
    }
    return out


def _annotation(schema: Schema) -> Schema:
    """A property's description and examples only: its value is validated where the property is defined."""
    return {key: schema[key] for key in ("title", "description", "examples") if key in schema}


def _required_kind(kind: str) -> Schema:
    return {"properties": {"kind": {"const": kind}}, "required": ["kind"]}


def check_other_kind(name: str, cluster: dict[str, Any], at: Any) -> Iterator[Diagnostic]:
    """The rules of a non-EMR entry the schema cannot express (as an EMR cluster's: DG520, DG202)."""
    module = OTHER_KINDS[kind_of(cluster)]
    base = ("clusters", name)
    if "existing_cluster_id" in cluster:
        extra = [key for key in module.PROPERTIES if key in cluster] + (["tags"] if "tags" in cluster else [])
        if extra:
            yield Diagnostic(
                code="DG520",
                **at((*base, extra[0]), key=True),
                message=f"cluster '{name}' is an existing {module.TITLE} (existing_cluster_id) and cannot also set "
                f"{', '.join(extra)}",
                hint="remove the creation settings, or remove existing_cluster_id to have the pipeline create it",
            )
        return
    for key in module.REQUIRED:
        if key not in cluster:
            yield Diagnostic(
                code="DG202",
                **at(base, key=True),
                message=f"missing required key '{key}' in clusters.{name}",
                hint=f"{module.TITLE} the pipeline creates needs {key}; to use an existing one set existing_cluster_id",
            )


def check_runs_on(tasks: dict[str, Any], clusters: dict[str, Any], at: Any) -> Iterator[Diagnostic]:
    """DG522: a task on a cluster of a kind its type does not run on."""
    for task_id, task in tasks.items():
        name = task.get("cluster")
        if name not in clusters or not isinstance(clusters[name], dict):
            continue  # DG302 says so
        kind, allowed = kind_of(clusters[name]), RUNS_ON.get(task.get("type"), ())
        if kind not in allowed:
            runs_on = " or ".join(f"`kind: {k}`" for k in allowed) or "no cluster"
            yield Diagnostic(
                code="DG522",
                **at(("tasks", task_id, "cluster")),
                message=f"task '{task_id}' ({task.get('type')}) runs on cluster '{name}', which is "
                f"{_KIND_NAMES.get(kind, kind)} (kind: {kind})",
                hint=f"{task.get('type')} tasks run on a cluster with {runs_on}",
            )
