"""EMR Serverless applications a pipeline owns: ``clusters: {NAME: {kind: emr_serverless, ...}}``.

The schema fragment (:data:`PROPERTIES`), the CreateApplication request (:func:`create_request`) and the
lifecycle tasks (:func:`lifecycle`): ``create_<name>`` before the application's first tasks,
``delete_<name>`` after its last, an Airflow setup/teardown pair (the teardown runs even when a job
failed, and the run stays failed).  The operators are dagen's (:mod:`generator.runtime.managed_resources`,
named by path only):

* ``create_<name>`` sends a client token derived from the DAG id, the run id and the task id, so a retry in
  the same run gets back the application an earlier try created (CreateApplication is idempotent on it)
  instead of creating another; it waits (deferrably) until the application is CREATED and pushes its id.
  The job operator starts it; a job run also starts it when auto start is on.
* ``delete_<name>`` cancels the application's running jobs, stops it, deletes it and waits until it is
  TERMINATED; a retry when it is already TERMINATED or gone succeeds.
"""

from __future__ import annotations

from typing import Any

from generator.core.schema_parts import (
    BOOLEAN,
    DURATION,
    POSITIVE_INT,
    STRING_LIST,
    TEMPLATED_STRING,
    Schema,
    obj,
    prop,
)

KIND = "emr_serverless"
TITLE = "EMR Serverless application"
CREATE_OPERATOR = "generator.runtime.managed_resources.RetrySafeEmrServerlessCreateApplicationOperator"
DELETE_OPERATOR = "generator.runtime.managed_resources.RetrySafeEmrServerlessDeleteApplicationOperator"
CREATE_RETRY = (
    "sends the same client token (DAG id, run id, task id): CreateApplication gives back the application an "
    "earlier try of this run created, and the try waits for it to be CREATED"
)
DELETE_RETRY = "cancels its jobs, stops and deletes the application; succeeds when it is already TERMINATED or gone"
WAIT_TIMEOUT = 1800
ID_KWARG = "application_id"  # the delete operator's argument naming what to delete

_CPU: Schema = {"type": "string", "pattern": r"^[0-9]+ ?vCPU$", "title": "vCPU amount such as 4vCPU"}
_SIZE: Schema = {"type": "string", "pattern": r"^[0-9]+ ?GB$", "title": "size such as 16GB"}
_WORKER = obj(
    {
        "count": prop(POSITIVE_INT, "Workers kept warm.", 1),
        "cpu": prop(_CPU, "vCPUs of each worker.", "4vCPU"),
        "memory": prop(_SIZE, "Memory of each worker.", "16GB"),
        "disk": prop(_SIZE, "Disk of each worker.", "20GB"),
    },
    required=("count", "cpu", "memory"),
    title="pre-initialised workers",
)

PROPERTIES: dict[str, Schema] = {
    "name": prop(TEMPLATED_STRING, "Application name (default: DAG id and cluster key).", "daily-spark"),
    "release_label": prop(
        {"type": "string", "pattern": r"^(emr-[0-9]+\.[0-9]+\.[0-9]+|\{\{.*\}\})$", "title": "EMR release label"},
        "EMR release of the application.",
        "emr-7.5.0",
    ),
    "type": prop({"enum": ["SPARK", "HIVE"]}, "The application's engine.", "SPARK", default="SPARK"),
    "initial_capacity": prop(
        obj(
            {"driver": prop(_WORKER, "Drivers.", {"count": 1, "cpu": "2vCPU", "memory": "4GB"})}
            | {"executor": prop(_WORKER, "Executors.", {"count": 2, "cpu": "4vCPU", "memory": "8GB"})},
            title="initial capacity",
        ),
        "Workers pre-initialised when the application starts.",
        {"driver": {"count": 1, "cpu": "2vCPU", "memory": "4GB"}},
    ),
    "maximum_capacity": prop(
        obj(
            {
                "cpu": prop(_CPU, "At most this many vCPUs.", "200vCPU"),
                "memory": prop(_SIZE, "At most this much memory.", "800GB"),
                "disk": prop(_SIZE, "At most this much disk.", "1000GB"),
            },
            required=("cpu", "memory"),
            title="maximum capacity",
        ),
        "The most the application may use at once (a cost cap).",
        {"cpu": "200vCPU", "memory": "800GB"},
    ),
    "auto_start": prop(BOOLEAN, "Whether submitting a job starts the application.", True, default=True),
    "idle_timeout": prop(
        {"anyOf": [DURATION, {"type": "null"}]},
        "Stop the application after this much idle time (default 15m; null disables auto stop).",
        "15m",
    ),
    "subnet_ids": prop(STRING_LIST, "Subnets for the application's workers (a VPC application).", ["subnet-0a"]),
    "security_group_ids": prop(STRING_LIST, "Security groups of the workers (with subnet_ids).", ["sg-0a"]),
}
REQUIRED = ("release_label",)


def _worker(worker: dict[str, Any]) -> dict[str, Any]:
    configuration = {"cpu": worker["cpu"], "memory": worker["memory"]}
    if "disk" in worker:
        configuration["disk"] = worker["disk"]
    return {"workerCount": worker["count"], "workerConfiguration": configuration}


def create_request(
    settings: dict[str, Any], *, default_name: str, tags: dict[str, str], seconds: Any
) -> dict[str, Any]:
    """CreateApplication's parameters besides the client token, release label and type (the ``config``)."""
    request: dict[str, Any] = {"name": settings.get("name", default_name)}
    if "initial_capacity" in settings:
        request["initialCapacity"] = {
            role.upper(): _worker(worker) for role, worker in settings["initial_capacity"].items()
        }
    if "maximum_capacity" in settings:
        request["maximumCapacity"] = dict(settings["maximum_capacity"])
    request["autoStartConfiguration"] = {"enabled": settings.get("auto_start", True)}
    idle = settings.get("idle_timeout", "15m")
    request["autoStopConfiguration"] = (
        {"enabled": True, "idleTimeoutMinutes": max(1, -(-seconds(idle) // 60))}
        if idle is not None
        else {"enabled": False}
    )
    if "subnet_ids" in settings or "security_group_ids" in settings:
        network: dict[str, Any] = {}
        if "subnet_ids" in settings:
            network["subnetIds"] = list(settings["subnet_ids"])
        if "security_group_ids" in settings:
            network["securityGroupIds"] = list(settings["security_group_ids"])
        request["networkConfiguration"] = network
    request["tags"] = {**tags, **settings.get("tags", {})}
    return request


def lifecycle(
    name: str, settings: dict[str, Any], *, identity: dict[str, str], poll: int, aws: dict[str, Any], seconds: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The kwargs of ``create_<name>`` and of ``delete_<name>`` (the create's id arrives by XCom)."""
    attempts = max(1, WAIT_TIMEOUT // poll)
    create = {
        **aws,
        "release_label": settings["release_label"],
        "job_type": settings.get("type", "SPARK"),
        "config": create_request(
            settings, default_name=f"{identity['dagen:dag-id']}-{name}", tags=identity, seconds=seconds
        ),
        "wait_for_completion": True,
        "deferrable": True,
        "waiter_delay": poll,
        "waiter_max_attempts": attempts,
        "doc_md": f"Create EMR Serverless application `{name}` and wait until it is CREATED.",
    }
    delete = {
        **aws,
        "force_stop": True,
        "wait_for_completion": True,
        "deferrable": False,
        "waiter_delay": poll,
        "waiter_max_attempts": attempts,
        "doc_md": f"Stop and delete EMR Serverless application `{name}`; runs even when its tasks failed.",
    }
    return create, delete
