"""The clusters section of a preview: each pipeline cluster, as the RunJobFlow request of its create task says."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from generator.core.lowering_context import create_cluster_task_id, terminate_cluster_task_id
from generator.preview.values import plain

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


def cluster_preview(name: str, settings: dict[str, Any], dag: Any) -> ClusterPreview:
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
