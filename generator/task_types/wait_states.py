"""The kinds a ``wait_until`` task waits on: each kind's sensor, identifying keys and the states it can wait for.

Taken from the Amazon provider's sensors (the same on both provider lines) and
from the AWS API's own status enums (botocore's service models:
``tests/test_wait_until.py`` checks every state here against them, so a new or
renamed state fails a test instead of a run).

* ``states`` are the states the sensor may be told to wait for.  A sensor with
  ``fixed`` states cannot wait for another one (``states`` may only name them);
  a sensor whose failure states are not configurable raises on those before it
  looks at its targets, so they are not waitable either.
* ``failed`` are the sensor's own failure states; ``failed_configurable`` says
  whether a spec may replace them (``failed_states``).
* ``single``: the sensor takes one target state (``target_status``), not a list.
* ``other`` are the resource's remaining states (the sensor keeps waiting through them).
* ``pseudo`` are states the sensor reports that AWS has not (Redshift's hook says
  ``cluster_not_found`` once the cluster is gone).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_SENSORS = "airflow.providers.amazon.aws.sensors"


@dataclass(frozen=True, kw_only=True)
class WaitKind:
    sensor: str  # dotted path of the provider's sensor
    ids: dict[str, str]  # identifying key of the spec -> the sensor's argument
    optional_ids: tuple[str, ...] = ()
    states: tuple[str, ...]  # what `states` may name
    failed: tuple[str, ...]  # the sensor's default failure states
    failed_configurable: bool = False
    fixed: bool = False  # the sensor waits for `states` only; it takes no target argument
    single: bool = False  # one target state (target_status)
    target_kwarg: str | None = "target_states"
    api: tuple[str, str] = ("", "")  # (botocore service, status shape) the states come from
    pseudo: tuple[str, ...] = ()
    other: tuple[str, ...] = ()  # states of the resource the sensor neither waits for nor fails on
    extra: dict[str, Any] = field(default_factory=dict)  # further sensor arguments


_CLUSTER_STATES = ("STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING", "TERMINATING", "TERMINATED")
_STEP_STATES = ("PENDING", "CANCEL_PENDING", "RUNNING", "COMPLETED", "CANCELLED", "FAILED", "INTERRUPTED")
_NOTEBOOK_STATES: tuple[str, ...] = (
    "START_PENDING",
    "STARTING",
    "RUNNING",
    "FINISHING",
    "FINISHED",
    "FAILING",
    "FAILED",
)
_NOTEBOOK_STATES += ("STOP_PENDING", "STOPPING", "STOPPED")
_LAMBDA_STATES = ("Pending", "Active", "Inactive", "Deactivating", "Deactivated", "ActiveNonInvocable", "Deleting")
# Redshift's ClusterStatus is a plain string; these are the values its API reference lists.
_REDSHIFT_STATES: tuple[str, ...] = (
    "available",
    "available, prep-for-resize",
    "available, resize-cleanup",
    "cancelling-resize",
)
_REDSHIFT_STATES += ("creating", "deleting", "final-snapshot", "hardware-failure", "incompatible-hsm")
_REDSHIFT_STATES += ("incompatible-network", "incompatible-parameters", "incompatible-restore", "modifying")
_REDSHIFT_STATES += ("paused", "rebooting", "renaming", "resizing", "rotating-keys", "storage-full", "updating-hsm")

KINDS: dict[str, WaitKind] = {
    "emr_cluster": WaitKind(
        sensor=f"{_SENSORS}.emr.EmrJobFlowSensor",
        ids={"job_flow_id": "job_flow_id"},
        states=(*_CLUSTER_STATES, "TERMINATED_WITH_ERRORS"),
        failed=("TERMINATED_WITH_ERRORS",),
        failed_configurable=True,
        api=("emr", "ClusterState"),
    ),
    "emr_step": WaitKind(
        sensor=f"{_SENSORS}.emr.EmrStepSensor",
        ids={"job_flow_id": "job_flow_id", "step_id": "step_id"},
        states=_STEP_STATES,
        failed=("CANCELLED", "FAILED", "INTERRUPTED"),
        failed_configurable=True,
        api=("emr", "StepState"),
    ),
    "emr_notebook": WaitKind(
        sensor=f"{_SENSORS}.emr.EmrNotebookExecutionSensor",
        ids={"notebook_execution_id": "notebook_execution_id"},
        states=_NOTEBOOK_STATES,
        failed=("FAILED",),
        failed_configurable=True,
        api=("emr", "NotebookExecutionStatus"),
    ),
    "emr_serverless_application": WaitKind(
        sensor=f"{_SENSORS}.emr.EmrServerlessApplicationSensor",
        ids={"application_id": "application_id"},
        states=("CREATING", "CREATED", "STARTING", "STARTED", "STOPPING"),
        failed=("STOPPED", "TERMINATED"),
        api=("emr-serverless", "ApplicationState"),
    ),
    "emr_serverless_job": WaitKind(
        sensor=f"{_SENSORS}.emr.EmrServerlessJobSensor",
        ids={"application_id": "application_id", "job_run_id": "job_run_id"},
        states=("SUBMITTED", "PENDING", "SCHEDULED", "RUNNING", "SUCCESS", "QUEUED"),
        failed=("CANCELLED", "CANCELLING", "FAILED"),
        api=("emr-serverless", "JobRunState"),
    ),
    "step_function": WaitKind(
        sensor=f"{_SENSORS}.step_function.StepFunctionExecutionSensor",
        ids={"execution_arn": "execution_arn"},
        states=("SUCCEEDED",),
        failed=("ABORTED", "FAILED", "TIMED_OUT"),
        fixed=True,
        target_kwarg=None,
        api=("stepfunctions", "ExecutionStatus"),
        other=("RUNNING", "PENDING_REDRIVE"),
    ),
    "glue_crawler": WaitKind(
        sensor=f"{_SENSORS}.glue_crawler.GlueCrawlerSensor",
        ids={"crawler_name": "crawler_name"},
        states=("SUCCEEDED",),  # the status of the crawler's last crawl, once it is READY again
        failed=("CANCELLED", "FAILED"),
        fixed=True,
        target_kwarg=None,
        api=("glue", "LastCrawlStatus"),
    ),
    "glue_job": WaitKind(
        sensor=f"{_SENSORS}.glue.GlueJobSensor",
        ids={"job_name": "job_name", "run_id": "run_id"},
        states=("SUCCEEDED",),
        failed=("FAILED", "STOPPED", "TIMEOUT"),
        fixed=True,
        target_kwarg=None,
        api=("glue", "JobRunState"),
        other=("STARTING", "RUNNING", "STOPPING", "ERROR", "WAITING", "EXPIRED"),
    ),
    "redshift_cluster": WaitKind(
        sensor=f"{_SENSORS}.redshift_cluster.RedshiftClusterSensor",
        ids={"cluster_identifier": "cluster_identifier"},
        states=(*_REDSHIFT_STATES, "cluster_not_found"),
        failed=(),
        single=True,
        target_kwarg="target_status",
        api=("redshift", "Cluster.ClusterStatus"),
        pseudo=("cluster_not_found",),
    ),
    "lambda_function": WaitKind(
        sensor=f"{_SENSORS}.lambda_function.LambdaFunctionStateSensor",
        ids={"function_name": "function_name", "qualifier": "qualifier"},
        optional_ids=("qualifier",),
        states=_LAMBDA_STATES,
        failed=("Failed",),
        api=("lambda", "State"),
    ),
    "athena_query": WaitKind(
        sensor=f"{_SENSORS}.athena.AthenaSensor",
        ids={"query_execution_id": "query_execution_id"},
        states=("SUCCEEDED",),
        failed=("CANCELLED", "FAILED"),
        fixed=True,
        target_kwarg=None,
        api=("athena", "QueryExecutionState"),
        other=("QUEUED", "RUNNING"),
        extra={"max_retries": 1, "sleep_time": 1},  # one check per poke: the task does the waiting
    ),
}

# Every identifying key of every kind, in the order the schema lists them.
ID_KEYS: tuple[str, ...] = tuple(dict.fromkeys(key for kind in KINDS.values() for key in kind.ids))


def required_ids(kind: WaitKind) -> tuple[str, ...]:
    return tuple(key for key in kind.ids if key not in kind.optional_ids)


def known_states(kind: WaitKind) -> tuple[str, ...]:
    """Every state of the kind's resource (waitable, failing, or passed through)."""
    return tuple(dict.fromkeys((*kind.states, *kind.failed, *kind.other)))
