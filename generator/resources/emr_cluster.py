"""Named EMR clusters: the RunJobFlow request that creates one.

A pipeline declares clusters by name under ``clusters:`` (their schema and checks:
:mod:`generator.resources.emr_cluster_schema`); tasks run on them with
``cluster: NAME``.  The generator creates each cluster before its first task
and terminates it after its last (see :mod:`generator.compile.lower`).
"""

from __future__ import annotations

from typing import Any

DEFAULT_IDLE_TIMEOUT = 3600

# What a retry of a cluster's create and terminate tasks does (generator.runtime.emr_cluster), as previews say it.
_IDENTITY = "the same EMR name and tags dagen:dag-id, dagen:cluster, dagen:run-id"
CREATE_RETRY = (
    f"adopts the live cluster an earlier try of this run started ({_IDENTITY}) and waits for it, deferrably; "
    "RunJobFlow only when there is none"
)
TERMINATE_RETRY = (
    f"terminates every live cluster of this run ({_IDENTITY}) and the id create returned, if any; "
    "succeeds when there is none"
)


def _ebs(ebs: dict[str, Any]) -> dict[str, Any]:
    return {
        "EbsBlockDeviceConfigs": [
            {
                "VolumeSpecification": {"VolumeType": ebs.get("volume_type", "gp3"), "SizeInGB": ebs["size_gb"]},
                "VolumesPerInstance": ebs.get("volumes_per_instance", 1),
            }
        ]
    }


_ROLES = {"primary": ("MASTER", "Primary"), "core": ("CORE", "Core"), "task": ("TASK", "Task")}


def _instance_groups(groups: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for role, group in groups.items():
        emr_role, default_name = _ROLES[role]
        item: dict[str, Any] = {
            "Name": group.get("name", default_name),
            "Market": group.get("market", "ON_DEMAND"),
            "InstanceRole": emr_role,
            "InstanceType": group["instance_type"],
            "InstanceCount": group.get("count", 1),
        }
        if "bid_price" in group:
            item["BidPrice"] = group["bid_price"]
        if "ebs" in group:
            item["EbsConfiguration"] = _ebs(group["ebs"])
        out.append(item)
    return out


def _instance_fleets(fleets: dict[str, Any], seconds: Any) -> list[dict[str, Any]]:
    out = []
    for role, fleet in fleets.items():
        emr_role, default_name = _ROLES[role]
        item: dict[str, Any] = {"Name": fleet.get("name", default_name), "InstanceFleetType": emr_role}
        if "on_demand_capacity" in fleet:
            item["TargetOnDemandCapacity"] = fleet["on_demand_capacity"]
        if "spot_capacity" in fleet:
            item["TargetSpotCapacity"] = fleet["spot_capacity"]
        types = []
        for entry in fleet["instance_types"]:
            spec: dict[str, Any] = {"InstanceType": entry["instance_type"]}
            if "weighted_capacity" in entry:
                spec["WeightedCapacity"] = entry["weighted_capacity"]
            if "bid_price_as_percentage_of_on_demand" in entry:
                spec["BidPriceAsPercentageOfOnDemandPrice"] = entry["bid_price_as_percentage_of_on_demand"]
            if "ebs" in entry:
                spec["EbsConfiguration"] = _ebs(entry["ebs"])
            types.append(spec)
        item["InstanceTypeConfigs"] = types
        spot: dict[str, Any] = {}
        if "spot_timeout" in fleet:
            spot["TimeoutDurationMinutes"] = max(5, -(-seconds(fleet["spot_timeout"]) // 60))
            spot["TimeoutAction"] = fleet.get("spot_timeout_action", "SWITCH_TO_ON_DEMAND")
        if "spot_allocation_strategy" in fleet:
            spot["AllocationStrategy"] = fleet["spot_allocation_strategy"]
        if spot:
            item["LaunchSpecifications"] = {"SpotSpecification": spot}
        out.append(item)
    return out


def configurations(items: list[dict[str, Any]], *, capitalised: bool = True) -> list[dict[str, Any]]:
    """Spec configurations (classification/properties/configurations) as an API spells them.

    RunJobFlow capitalises the keys; the EMR Serverless and EMR on EKS job APIs
    (``capitalised=False``) spell them as specs do.
    """

    def key(name: str) -> str:
        return name.capitalize() if capitalised else name

    out = []
    for item in items:
        conf: dict[str, Any] = {key("classification"): item["classification"]}
        if "properties" in item:
            conf[key("properties")] = dict(item["properties"])
        if "configurations" in item:
            conf[key("configurations")] = configurations(item["configurations"], capitalised=capitalised)
        out.append(conf)
    return out


def run_job_flow_request(
    *, cluster: dict[str, Any], default_name: str, step_concurrency: int, tags: dict[str, str], seconds: Any
) -> dict[str, Any]:
    """The RunJobFlow request (``job_flow_overrides``) for one cluster.

    The cluster must stay up between steps (``KeepJobFlowAliveWhenNoSteps``),
    because steps arrive one task at a time; the pipeline terminates it.
    """
    instances: dict[str, Any] = {"KeepJobFlowAliveWhenNoSteps": True, "TerminationProtected": False}
    if "instance_groups" in cluster:
        instances["InstanceGroups"] = _instance_groups(cluster["instance_groups"])
    else:
        instances["InstanceFleets"] = _instance_fleets(cluster["instance_fleets"], seconds)
    if "subnet_id" in cluster:
        instances["Ec2SubnetId"] = cluster["subnet_id"]
    if "subnet_ids" in cluster:
        instances["Ec2SubnetIds"] = list(cluster["subnet_ids"])
    if "ec2_key_name" in cluster:
        instances["Ec2KeyName"] = cluster["ec2_key_name"]

    request: dict[str, Any] = {
        "Name": cluster.get("name", default_name),
        "ReleaseLabel": cluster["release_label"],
        "Applications": [{"Name": app} for app in cluster.get("applications", [])],
        "Instances": instances,
        "ServiceRole": cluster.get("service_role", "EMR_DefaultRole"),
        "JobFlowRole": cluster.get("instance_profile", "EMR_EC2_DefaultRole"),
        "VisibleToAllUsers": cluster.get("visible_to_all_users", True),
        "StepConcurrencyLevel": cluster.get("step_concurrency", step_concurrency),
        "Tags": [{"Key": key, "Value": value} for key, value in {**tags, **cluster.get("tags", {})}.items()],
    }
    if "configurations" in cluster:
        request["Configurations"] = configurations(cluster["configurations"])
    if "log_uri" in cluster:
        request["LogUri"] = cluster["log_uri"]
    if "security_configuration" in cluster:
        request["SecurityConfiguration"] = cluster["security_configuration"]
    if "ebs_root_volume_size" in cluster:
        request["EbsRootVolumeSize"] = cluster["ebs_root_volume_size"]
    if cluster.get("bootstrap_actions"):
        request["BootstrapActions"] = [
            {
                "Name": action["name"],
                "ScriptBootstrapAction": {"Path": action["script"], "Args": list(action.get("args", []))},
            }
            for action in cluster["bootstrap_actions"]
        ]
    idle = cluster.get("idle_timeout", DEFAULT_IDLE_TIMEOUT)
    if idle is not None:
        request["AutoTerminationPolicy"] = {"IdleTimeout": max(60, seconds(idle))}
    if "managed_scaling" in cluster:
        scaling = cluster["managed_scaling"]
        limits = {
            "UnitType": scaling.get("unit_type", "Instances"),
            "MinimumCapacityUnits": scaling["min_capacity"],
            "MaximumCapacityUnits": scaling["max_capacity"],
        }
        if "max_on_demand_capacity" in scaling:
            limits["MaximumOnDemandCapacityUnits"] = scaling["max_on_demand_capacity"]
        if "max_core_capacity" in scaling:
            limits["MaximumCoreCapacityUnits"] = scaling["max_core_capacity"]
        request["ManagedScalingPolicy"] = {"ComputeLimits": limits}
    return request
