"""Named EMR clusters as specs declare them: the ``clusters:`` schema fragment and the checks it cannot express.

A pipeline declares clusters by name under ``clusters:``; tasks run on them with
``cluster: NAME``.  A cluster is either created by the pipeline (release,
instances...) or an existing, long-running one (``existing_cluster_id``).  The
RunJobFlow request built from a created cluster is :mod:`generator.resources.emr_cluster`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from generator.core.diagnostics import Diagnostic
from generator.core.schema_parts import (
    BOOLEAN,
    DURATION,
    POSITIVE_INT,
    ROLE,
    S3_URI,
    STRING,
    STRING_LIST,
    TAGS_MAP,
    TEMPLATED_STRING,
    Schema,
    obj,
    prop,
)

APPLICATIONS = (
    "AmazonCloudWatchAgent",
    "Delta",
    "Flink",
    "Ganglia",
    "HBase",
    "HCatalog",
    "Hadoop",
    "Hive",
    "Hudi",
    "Hue",
    "Iceberg",
    "JupyterEnterpriseGateway",
    "JupyterHub",
    "Livy",
    "MXNet",
    "Oozie",
    "Phoenix",
    "Pig",
    "Presto",
    "Spark",
    "Sqoop",
    "TensorFlow",
    "Tez",
    "Trino",
    "Zeppelin",
    "ZooKeeper",
)
MARKETS = ("ON_DEMAND", "SPOT")

_EBS = obj(
    {
        "size_gb": prop(POSITIVE_INT, "Size of each EBS volume in GiB.", 64),
        "volume_type": prop(
            {"enum": ["gp3", "gp2", "io1", "io2", "st1", "sc1", "standard"]}, "EBS volume type.", "gp3"
        ),
        "volumes_per_instance": prop(POSITIVE_INT, "EBS volumes attached to each instance.", 1),
    },
    required=("size_gb",),
    title="EBS volumes",
)

_GROUP = obj(
    {
        "instance_type": prop(STRING, "EC2 instance type of the group.", "m5.xlarge", "m7g.2xlarge"),
        "count": prop(POSITIVE_INT, "Number of instances (primary: 1, or 3 for high availability).", 2),
        "market": prop({"enum": list(MARKETS)}, "Purchase option.", "SPOT", default="ON_DEMAND"),
        "bid_price": prop(
            {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$"},
            "Maximum Spot price in USD per hour (SPOT only; omit to cap at the On-Demand price).",
            "0.10",
        ),
        "ebs": prop(_EBS, "EBS storage for each instance.", {"size_gb": 64, "volume_type": "gp3"}),
        "name": prop(STRING, "Display name of the group (defaults to Primary/Core/Task).", "Core - spot"),
    },
    required=("instance_type",),
    title="instance group",
)

_FLEET_TYPE = obj(
    {
        "instance_type": prop(STRING, "EC2 instance type.", "m5.xlarge"),
        "weighted_capacity": prop(POSITIVE_INT, "Capacity units one instance counts for.", 1),
        "bid_price_as_percentage_of_on_demand": prop(
            {"type": "number", "minimum": 1, "maximum": 100}, "Spot bid as a percentage of the On-Demand price.", 60
        ),
        "ebs": prop(_EBS, "EBS storage for each instance.", {"size_gb": 64}),
    },
    required=("instance_type",),
    title="fleet instance type",
)

_FLEET = obj(
    {
        "on_demand_capacity": prop({"type": "integer", "minimum": 0}, "Target On-Demand capacity units.", 1),
        "spot_capacity": prop({"type": "integer", "minimum": 0}, "Target Spot capacity units.", 4),
        "instance_types": prop(
            {"type": "array", "minItems": 1, "maxItems": 30, "items": _FLEET_TYPE},
            "Instance types the fleet may use.",
            [{"instance_type": "m5.xlarge"}, {"instance_type": "m5a.xlarge"}],
        ),
        "spot_timeout": prop(DURATION, "How long to wait for Spot capacity before `spot_timeout_action`.", "10m"),
        "spot_timeout_action": prop(
            {"enum": ["SWITCH_TO_ON_DEMAND", "TERMINATE_CLUSTER"]},
            "What to do when Spot capacity is not found in time.",
            "SWITCH_TO_ON_DEMAND",
        ),
        "spot_allocation_strategy": prop(
            {
                "enum": [
                    "capacity-optimized",
                    "price-capacity-optimized",
                    "lowest-price",
                    "diversified",
                    "capacity-optimized-prioritized",
                ]
            },
            "How Spot instances are chosen.",
            "price-capacity-optimized",
        ),
        "name": prop(STRING, "Display name of the fleet.", "Core fleet"),
    },
    required=("instance_types",),
    title="instance fleet",
)

CLUSTER_PROPERTIES: dict[str, Schema] = {
    "existing_cluster_id": prop(
        TEMPLATED_STRING,
        "Run on a long-running cluster instead of creating one: its id (Jinja allowed). The pipeline then neither "
        "creates nor terminates it, and takes no other cluster settings.",
        "{{ var.value.shared_emr_cluster_id }}",
        "j-2AXXXXXXGAPLF",
    ),
    "name": prop(
        TEMPLATED_STRING,
        "Cluster name shown in the EMR console (default: DAG id and cluster key).",
        "movielens-preprocess-{{ ds_nodash }}",
    ),
    "release_label": prop(
        {"type": "string", "pattern": r"^(emr-[0-9]+\.[0-9]+\.[0-9]+|\{\{.*\}\})$", "title": "EMR release label"},
        "EMR release.",
        "emr-7.5.0",
    ),
    "applications": prop(
        {"type": "array", "items": {"enum": list(APPLICATIONS)}, "uniqueItems": True},
        "Applications installed on the cluster.",
        ["Hadoop", "Spark"],
    ),
    "configurations": prop(
        {"type": "array", "items": {"$ref": "#/$defs/emr_configuration"}},
        "EMR configuration classifications.",
        [{"classification": "spark-defaults", "properties": {"spark.sql.adaptive.enabled": "true"}}],
    ),
    "instance_groups": prop(
        obj(
            {
                "primary": prop(_GROUP, "The primary node.", {"instance_type": "m5.xlarge"}),
                "core": prop(_GROUP, "Core nodes (HDFS and work).", {"instance_type": "m5.xlarge", "count": 2}),
                "task": prop(
                    _GROUP,
                    "Task nodes (work only; good Spot candidates).",
                    {"instance_type": "m5.xlarge", "count": 4, "market": "SPOT"},
                ),
            },
            required=("primary",),
            title="instance groups",
        ),
        "Uniform instance groups (use this or `instance_fleets`).",
        {"primary": {"instance_type": "m5.xlarge"}, "core": {"instance_type": "m5.xlarge", "count": 2}},
    ),
    "instance_fleets": prop(
        obj(
            {
                "primary": prop(
                    _FLEET,
                    "The primary node's fleet.",
                    {"on_demand_capacity": 1, "instance_types": [{"instance_type": "m5.xlarge"}]},
                ),
                "core": prop(
                    _FLEET, "The core fleet.", {"spot_capacity": 4, "instance_types": [{"instance_type": "m5.xlarge"}]}
                ),
                "task": prop(
                    _FLEET, "The task fleet.", {"spot_capacity": 8, "instance_types": [{"instance_type": "m5.2xlarge"}]}
                ),
            },
            required=("primary",),
            title="instance fleets",
        ),
        "Instance fleets mixing types and markets (use this or `instance_groups`).",
        {"primary": {"on_demand_capacity": 1, "instance_types": [{"instance_type": "m5.xlarge"}]}},
    ),
    "subnet_id": prop(
        TEMPLATED_STRING,
        "Subnet to launch the cluster in.",
        "{{ var.value.emr_subnet_id }}",
        "subnet-0123456789abcdef0",
    ),
    "subnet_ids": prop(STRING_LIST, "Candidate subnets (instance fleets only).", ["subnet-0a", "subnet-0b"]),
    "ec2_key_name": prop(
        TEMPLATED_STRING, "EC2 key pair for SSH to the nodes (omit unless needed).", "{{ var.value.emr_key_pair }}"
    ),
    "log_uri": prop(S3_URI, "Where EMR writes cluster and step logs.", "s3://my-logs/emr/"),
    "service_role": prop(ROLE, "EMR service role.", "EMR_DefaultRole", default="EMR_DefaultRole"),
    "instance_profile": prop(
        ROLE, "EC2 instance profile of the nodes (JobFlowRole).", "EMR_EC2_DefaultRole", default="EMR_EC2_DefaultRole"
    ),
    "security_configuration": prop(STRING, "Name of an EMR security configuration.", "encrypt-at-rest"),
    "ebs_root_volume_size": prop({"type": "integer", "minimum": 15, "maximum": 100}, "Root volume size in GiB.", 32),
    "bootstrap_actions": prop(
        {
            "type": "array",
            "items": obj(
                {
                    "name": prop(STRING, "Name of the action.", "install-requirements"),
                    "script": prop(
                        S3_URI, "Script run on every node at start-up.", "s3://my-bucket/bootstrap/install.sh"
                    ),
                    "args": prop(STRING_LIST, "Arguments of the script.", ["--quiet"]),
                },
                required=("name", "script"),
                title="bootstrap action",
            ),
        },
        "Scripts run on each node before applications start.",
        [{"name": "install-requirements", "script": "s3://my-bucket/bootstrap/install.sh"}],
    ),
    "tags": prop(
        {
            **TAGS_MAP,
            "propertyNames": {
                **TAGS_MAP["propertyNames"],
                "pattern": "^(?!dagen:)",
                "title": "cluster tag key (one starting with 'dagen:' is reserved: it names the run that owns it)",
            },
        },
        "Tags on the cluster and its instances (cost allocation).",
        {"team": "data-platform"},
    ),
    "idle_timeout": prop(
        {"anyOf": [DURATION, {"type": "null"}]},
        "Terminate the cluster after this much idle time: a safety net if the pipeline cannot terminate it "
        "(default 1h; null disables it).",
        "1h",
    ),
    "managed_scaling": prop(
        obj(
            {
                "unit_type": prop(
                    {"enum": ["Instances", "InstanceFleetUnits", "VCPU"]},
                    "Unit of the limits.",
                    "Instances",
                    default="Instances",
                ),
                "min_capacity": prop(POSITIVE_INT, "Lower limit.", 2),
                "max_capacity": prop(POSITIVE_INT, "Upper limit.", 10),
                "max_on_demand_capacity": prop(POSITIVE_INT, "Upper limit of On-Demand units.", 4),
                "max_core_capacity": prop(POSITIVE_INT, "Upper limit of core nodes.", 3),
            },
            required=("min_capacity", "max_capacity"),
            title="managed scaling",
        ),
        "EMR managed scaling limits.",
        {"min_capacity": 2, "max_capacity": 10},
    ),
    "step_concurrency": prop(
        {"type": "integer", "minimum": 1, "maximum": 256},
        "Steps that may run at once (default: the widest set of this cluster's steps that can run in parallel).",
        3,
    ),
    "visible_to_all_users": prop(
        BOOLEAN, "Whether all IAM users of the account can see the cluster.", True, default=True
    ),
}

CONFIGURATION_DEF: Schema = obj(
    {
        "classification": prop(STRING, "Configuration classification.", "spark-defaults", "hive-site"),
        "properties": prop(
            {"type": "object", "additionalProperties": {"type": "string"}},
            "Properties of the classification (values are strings).",
            {"hive.execution.engine": "spark"},
        ),
        "configurations": prop(
            {"type": "array", "items": {"$ref": "#/$defs/emr_configuration"}},
            "Nested classifications (for example `export` under `spark-env`).",
            [{"classification": "export", "properties": {"PYSPARK_PYTHON": "/usr/bin/python3"}}],
        ),
    },
    required=("classification",),
    title="EMR configuration",
)

CLUSTER_SCHEMA: Schema = obj(CLUSTER_PROPERTIES, title="EMR cluster")

# Settings that only make sense for a cluster the pipeline creates.
CREATION_SETTINGS = tuple(key for key in CLUSTER_PROPERTIES if key != "existing_cluster_id")


def is_existing(cluster: dict[str, Any]) -> bool:
    return "existing_cluster_id" in cluster


def check_cluster(name: str, cluster: dict[str, Any], at: Any) -> Iterator[Diagnostic]:
    """Rules the schema cannot express."""
    base = ("clusters", name)
    if is_existing(cluster):
        extra = [key for key in CREATION_SETTINGS if key in cluster]
        if extra:
            yield Diagnostic(
                code="DG520",
                **at((*base, extra[0]), key=True),
                message=f"cluster '{name}' is an existing cluster (existing_cluster_id) and cannot also set "
                f"{', '.join(extra)}",
                hint="remove the creation settings, or remove existing_cluster_id to have the pipeline create it",
            )
        return
    if "release_label" not in cluster:
        yield Diagnostic(
            code="DG202",
            **at(base, key=True),
            message=f"missing required key 'release_label' in clusters.{name}",
            hint="a cluster the pipeline creates needs release_label; to use a running one set existing_cluster_id",
        )
    has_groups, has_fleets = "instance_groups" in cluster, "instance_fleets" in cluster
    if has_groups == has_fleets:
        where = at(base, key=True)
        what = "both" if has_groups else "neither"
        yield Diagnostic(
            code="DG503",
            **where,
            message=f"cluster '{name}' defines {what} of instance_groups and instance_fleets",
            hint="define exactly one: instance_groups for uniform nodes, instance_fleets to mix types",
        )
    for role, group in (cluster.get("instance_groups") or {}).items():
        if "bid_price" in group and group.get("market", "ON_DEMAND") != "SPOT":
            pointer = (*base, "instance_groups", role, "bid_price")
            where = at(pointer, key=True)
            yield Diagnostic(
                code="DG506",
                **where,
                message=f"bid_price is set but the {role} group's market is not SPOT",
                hint="add `market: SPOT` or remove bid_price",
            )
    scaling = cluster.get("managed_scaling")
    if scaling and scaling.get("min_capacity", 0) > scaling.get("max_capacity", 0):
        where = at((*base, "managed_scaling", "min_capacity"))
        yield Diagnostic(
            code="DG504",
            **where,
            message=f"managed_scaling min_capacity {scaling['min_capacity']} exceeds "
            f"max_capacity {scaling['max_capacity']}",
            hint="raise max_capacity or lower min_capacity",
        )
