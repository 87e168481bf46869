"""The clusters section of a preview: each pipeline cluster, as the RunJobFlow request of its create task says."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from generator.core.lowering_context import create_cluster_task_id, terminate_cluster_task_id
from generator.preview.values import plain

_APPLICATION = "ServerlessCreateApplication"  # the create task of an EMR Serverless application
_EMR_ROLES = {"MASTER": "primary", "CORE": "core", "TASK": "task"}


@dataclass(frozen=True, kw_only=True)
class ClusterPreview:
    name: str  # the pipeline's key for it
    create_task: str | None  # None for an existing cluster: the pipeline neither creates nor terminates it
    terminate_task: str | None
    existing_cluster_id: str | None
    emr_name: str | None
    release: str | None
    applications: tuple[str, ...]
    instances: tuple[dict[str, Any], ...]
    idle_timeout: int | None  # seconds (AutoTerminationPolicy), None when disabled
    step_concurrency: int | None
    log_uri: str | None
    kind: str = "emr"  # or another kind of `clusters:` entry (generator.resources.kinds)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "create_task": self.create_task,
            "terminate_task": self.terminate_task,
            "existing_cluster_id": self.existing_cluster_id,
            "emr_name": self.emr_name,
            "release": self.release,
            "applications": list(self.applications),
            "instances": list(self.instances),
            "idle_timeout_seconds": self.idle_timeout,
            "step_concurrency": self.step_concurrency,
            "log_uri": self.log_uri,
        }


def _instances(request: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    instances = request.get("Instances", {})
    out: list[dict[str, Any]] = []
    for group in instances.get("InstanceGroups", []):
        out.append(
            {
                "role": _EMR_ROLES.get(group.get("InstanceRole", ""), group.get("InstanceRole")),
                "instance_type": group.get("InstanceType"),
                "count": group.get("InstanceCount"),
                "market": group.get("Market", "ON_DEMAND"),
            }
        )
    for fleet in instances.get("InstanceFleets", []):
        out.append(
            {
                "role": _EMR_ROLES.get(fleet.get("InstanceFleetType", ""), fleet.get("InstanceFleetType")),
                "instance_types": [item.get("InstanceType") for item in fleet.get("InstanceTypeConfigs", [])],
                "on_demand_capacity": fleet.get("TargetOnDemandCapacity", 0),
                "spot_capacity": fleet.get("TargetSpotCapacity", 0),
            }
        )
    return tuple(out)


def _application_preview(name: str, dag: Any) -> ClusterPreview:
    """An EMR Serverless application the pipeline creates: its name, release, engine and auto stop."""
    create = dag.get_task(create_cluster_task_id(name))
    config = plain(getattr(create, "config", None) or {})
    stop = config.get("autoStopConfiguration", {})
    return ClusterPreview(
        name=name,
        create_task=create.task_id,
        terminate_task=f"delete_{name}",
        existing_cluster_id=None,
        emr_name=config.get("name"),
        release=getattr(create, "release_label", None),
        applications=(f"EMR Serverless {getattr(create, 'job_type', 'SPARK')} application",),
        instances=(),
        idle_timeout=stop.get("idleTimeoutMinutes", 0) * 60 if stop.get("enabled") else None,
        step_concurrency=None,
        log_uri=None,
        kind="other",
    )


def _other_preview(name: str, dag: Any) -> ClusterPreview | None:
    """A virtual cluster or a Redshift cluster the pipeline creates (by its create task), else None."""
    create = dag.get_task(create_cluster_task_id(name))
    kind = type(create).__name__
    if _APPLICATION in kind:
        return _application_preview(name, dag)
    if "EmrEksCreateCluster" in kind:
        what = f"EMR on EKS virtual cluster on {create.eks_cluster_name}, namespace {create.eks_namespace}"
        created: tuple[str | None, str] = (create.virtual_cluster_name, what)
    elif "RedshiftCreateCluster" in kind:
        created = (create.cluster_identifier, f"Redshift cluster, {create.number_of_nodes} x {create.node_type}")
    else:
        return None
    return ClusterPreview(
        name=name,
        create_task=create.task_id,
        terminate_task=f"delete_{name}",
        existing_cluster_id=None,
        emr_name=created[0],
        release=None,
        applications=(created[1],),
        instances=(),
        idle_timeout=None,
        step_concurrency=None,
        log_uri=None,
        kind="other",
    )


def cluster_preview(name: str, settings: dict[str, Any], dag: Any) -> ClusterPreview:
    other = None if "existing_cluster_id" in settings else _other_preview(name, dag)
    if other is not None:
        return other
    if "existing_cluster_id" in settings:
        return ClusterPreview(
            name=name,
            create_task=None,
            terminate_task=None,
            existing_cluster_id=str(settings["existing_cluster_id"]),
            emr_name=None,
            release=None,
            applications=(),
            instances=(),
            idle_timeout=None,
            step_concurrency=None,
            log_uri=None,
        )
    create_id, terminate_id = create_cluster_task_id(name), terminate_cluster_task_id(name)
    request = plain(getattr(dag.get_task(create_id), "job_flow_overrides", None) or {})
    idle = request.get("AutoTerminationPolicy", {}).get("IdleTimeout")
    return ClusterPreview(
        name=name,
        create_task=create_id,
        terminate_task=terminate_id,
        existing_cluster_id=None,
        emr_name=request.get("Name"),
        release=request.get("ReleaseLabel"),
        applications=tuple(app.get("Name") for app in request.get("Applications", [])),
        instances=_instances(request),
        idle_timeout=idle,
        step_concurrency=request.get("StepConcurrencyLevel"),
        log_uri=request.get("LogUri"),
    )
