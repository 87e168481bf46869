"""The lifecycle operators of managed resources other than EMR clusters (``clusters:`` entries with a ``kind``).

**EMR Serverless application.** :class:`RetrySafeEmrServerlessCreateApplicationOperator` creates the
application and waits (deferrably, through the provider's ``EmrServerlessCreateApplicationTrigger``) until
it is CREATED; unlike the provider's operator it does not start it (the job operator does, or the first job
run when auto start is on) and its ``config`` (name, tags with ``{{ run_id }}``) is templated.  Its client
token is the key of the first try of this run since the task was last cleared
(:func:`~generator.runtime.tries.keys_of`): CreateApplication is idempotent on it, so every retry gets back
the application an earlier try created instead of creating another, and a clear (after the teardown
deleted it) creates a new one.  :class:`RetrySafeEmrServerlessDeleteApplicationOperator` is the provider's
stop-then-delete (cancelling running jobs first), waiting in the worker (the provider's deferrable path
never reaches DeleteApplication); an application already TERMINATED or gone, or none created, is success,
and one already CREATED or STOPPED is deleted without a stop.

**Redshift cluster.** :class:`RetrySafeRedshiftCreateClusterOperator` creates the cluster with
``ManageMasterPassword`` (Redshift keeps the admin password in Secrets Manager; the provider's operator
always sends a password), adopts a cluster of the same identifier that an earlier try created
(ClusterAlreadyExists), waits (deferrably, ``RedshiftCreateClusterTrigger``) until it is available and pushes
its identifier.  :class:`RetrySafeRedshiftDeleteClusterOperator` is the provider's delete, succeeding when the
cluster is already gone and waiting when it is already being deleted.

**EMR on EKS virtual cluster.** :class:`RetrySafeEmrEksCreateClusterOperator` creates it with a client token
(the key of the first try of this run, as for an application; the provider's operator sends none) and
templated tags, and pushes its id.  :class:`RetrySafeEmrEksDeleteVirtualClusterOperator` deletes it and polls
until it is TERMINATED; one already TERMINATED or gone, or none created, is success.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from airflow.exceptions import AirflowException
from airflow.providers.amazon.aws.hooks.emr import EmrContainerHook
from airflow.providers.amazon.aws.hooks.redshift_cluster import RedshiftHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.operators.emr import (
    EmrEksCreateClusterOperator,
    EmrServerlessCreateApplicationOperator,
    EmrServerlessDeleteApplicationOperator,
)
from airflow.providers.amazon.aws.operators.redshift_cluster import (
    RedshiftCreateClusterOperator,
    RedshiftDeleteClusterOperator,
)
from airflow.providers.amazon.aws.triggers.emr import EmrServerlessCreateApplicationTrigger
from airflow.providers.amazon.aws.triggers.redshift_cluster import RedshiftCreateClusterTrigger
from airflow.providers.amazon.aws.utils.waiter_with_logging import wait

from generator.runtime.tries import keys_of

_STATUS = {"status_message": "Serverless Application status is"}
_STATUS_ARGS = ["application.state", "application.stateDetails"]


class RetrySafeEmrServerlessCreateApplicationOperator(EmrServerlessCreateApplicationOperator):  # type: ignore[misc]
    """Create an EMR Serverless application with a client token per run (see the module); push its id."""

    template_fields: Sequence[str] = (
        *getattr(EmrServerlessCreateApplicationOperator, "template_fields", ()),
        "release_label",
        "config",
    )

    def execute(self, context: Any) -> str:
        keys = keys_of(context, self.retries)
        self.client_request_token = keys[min(keys)]
        response = self.hook.conn.create_application(
            clientToken=self.client_request_token, releaseLabel=self.release_label, type=self.job_type, **self.config
        )
        application_id = str(response["applicationId"])
        self.log.info("EMR Serverless application %s (client token %s)", application_id, self.client_request_token)
        if self.deferrable:
            self.defer(
                trigger=EmrServerlessCreateApplicationTrigger(
                    application_id=application_id,
                    aws_conn_id=self.aws_conn_id,
                    waiter_delay=self.waiter_delay,
                    waiter_max_attempts=self.waiter_max_attempts,
                ),
                timeout=timedelta(seconds=self.waiter_max_attempts * self.waiter_delay),
                method_name="execute_complete",
            )
        wait(
            waiter=self.hook.get_waiter("serverless_app_created"),
            waiter_delay=self.waiter_delay,
            waiter_max_attempts=self.waiter_max_attempts,
            args={"applicationId": application_id},
            failure_message="EMR Serverless application creation failed",
            status_args=_STATUS_ARGS,
            **_STATUS,
        )
        return application_id


class RetrySafeEmrServerlessDeleteApplicationOperator(EmrServerlessDeleteApplicationOperator):  # type: ignore[misc]
    """Stop and delete an EMR Serverless application; success when it is already gone (see the module)."""

    def execute(self, context: Any) -> None:
        if not self.application_id or self.application_id == "None":
            self.log.info("No EMR Serverless application was created: nothing to delete")
            return
        conn = self.hook.conn
        try:
            state = conn.get_application(applicationId=self.application_id)["application"]["state"]
        except conn.exceptions.ResourceNotFoundException:
            self.log.info("EMR Serverless application %s does not exist: nothing to delete", self.application_id)
            return
        if state == "TERMINATED":
            self.log.info("EMR Serverless application %s is already TERMINATED", self.application_id)
            return
        if state in ("CREATING", "STOPPING"):
            waiter = "serverless_app_created" if state == "CREATING" else "serverless_app_stopped"
            self._wait(waiter, f"EMR Serverless application did not leave {state}")
            state = conn.get_application(applicationId=self.application_id)["application"]["state"]
        if state not in ("CREATED", "STOPPED"):
            super().execute(context)  # cancel the running jobs, stop, delete, wait until TERMINATED
            return
        self.log.info("Deleting EMR Serverless application %s (%s)", self.application_id, state)
        conn.delete_application(applicationId=self.application_id)
        self._wait("serverless_app_terminated", "Error terminating application")

    def _wait(self, waiter: str, failure: str) -> None:
        wait(
            waiter=self.hook.get_waiter(waiter),
            waiter_delay=self.waiter_delay,
            waiter_max_attempts=self.waiter_max_attempts,
            args={"applicationId": self.application_id},
            failure_message=failure,
            status_args=_STATUS_ARGS,
            **_STATUS,
        )


# RedshiftCreateClusterOperator's arguments and the CreateCluster parameters they become (when set).
_REDSHIFT_PARAMETERS = {
    "cluster_type": "ClusterType",
    "db_name": "DBName",
    "cluster_subnet_group_name": "ClusterSubnetGroupName",
    "vpc_security_group_ids": "VpcSecurityGroupIds",
    "iam_roles": "IamRoles",
    "automated_snapshot_retention_period": "AutomatedSnapshotRetentionPeriod",
    "port": "Port",
    "encrypted": "Encrypted",
    "tags": "Tags",
}


def _redshift(operator: Any) -> Any:
    """The Redshift client of the operator's connection (the providers name their hooks differently)."""
    return RedshiftHook(aws_conn_id=operator.aws_conn_id, region_name=getattr(operator, "region_name", None)).conn


class RetrySafeRedshiftCreateClusterOperator(RedshiftCreateClusterOperator):  # type: ignore[misc]
    """Create (or adopt) a Redshift cluster whose password Redshift manages; push its identifier."""

    def __init__(self, *, master_user_password: str = "", manage_master_password: bool = True, **kwargs: Any) -> None:
        super().__init__(master_user_password=master_user_password, **kwargs)
        self.manage_master_password = manage_master_password

    def execute(self, context: Any) -> str:
        conn = _redshift(self)
        request: dict[str, Any] = {
            "ClusterIdentifier": self.cluster_identifier,
            "NodeType": self.node_type,
            "MasterUsername": self.master_username,
            "PubliclyAccessible": self.publicly_accessible,
        }
        if self.manage_master_password:
            request["ManageMasterPassword"] = True
        else:
            request["MasterUserPassword"] = self.master_user_password
        request.update(
            {parameter: getattr(self, name) for name, parameter in _REDSHIFT_PARAMETERS.items() if getattr(self, name)}
        )
        if self.cluster_type == "multi-node":
            request["NumberOfNodes"] = self.number_of_nodes
        try:
            conn.create_cluster(**request)
            self.log.info("Creating Redshift cluster %s", self.cluster_identifier)
        except conn.exceptions.ClusterAlreadyExistsFault:
            self.log.info(
                "Redshift cluster %s exists (an earlier try created it): adopting it", self.cluster_identifier
            )
        if self.deferrable:
            self.defer(
                trigger=RedshiftCreateClusterTrigger(
                    cluster_identifier=self.cluster_identifier,
                    waiter_delay=self.poll_interval,
                    waiter_max_attempts=self.max_attempt,
                    aws_conn_id=self.aws_conn_id,
                ),
                timeout=timedelta(seconds=self.max_attempt * self.poll_interval + 60),
                method_name="execute_complete",
            )
        conn.get_waiter("cluster_available").wait(
            ClusterIdentifier=self.cluster_identifier,
            WaiterConfig={"Delay": self.poll_interval, "MaxAttempts": self.max_attempt},
        )
        return str(self.cluster_identifier)

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> str:
        super().execute_complete(context, event)
        return str(self.cluster_identifier)


class RetrySafeRedshiftDeleteClusterOperator(RedshiftDeleteClusterOperator):  # type: ignore[misc]
    """Delete a Redshift cluster; success when it is already gone (see the module)."""

    def execute(self, context: Any) -> None:
        conn = _redshift(self)
        try:
            status = conn.describe_clusters(ClusterIdentifier=self.cluster_identifier)["Clusters"][0]["ClusterStatus"]
        except conn.exceptions.ClusterNotFoundFault:
            self.log.info("Redshift cluster %s does not exist: nothing to delete", self.cluster_identifier)
            return
        if status != "deleting":
            super().execute(context)
            return
        self.log.info("Redshift cluster %s is already being deleted: waiting", self.cluster_identifier)
        conn.get_waiter("cluster_deleted").wait(
            ClusterIdentifier=self.cluster_identifier,
            WaiterConfig={"Delay": self.poll_interval, "MaxAttempts": self.max_attempts},
        )


class RetrySafeEmrEksCreateClusterOperator(EmrEksCreateClusterOperator):  # type: ignore[misc]
    """Create an EMR on EKS virtual cluster with a client token per run (see the module); push its id."""

    template_fields: Sequence[str] = (*EmrEksCreateClusterOperator.template_fields, "tags")

    def execute(self, context: Any) -> str:
        keys = keys_of(context, self.retries)
        response = self.hook.conn.create_virtual_cluster(
            name=self.virtual_cluster_name,
            containerProvider={
                "id": self.eks_cluster_name,
                "type": "EKS",
                "info": {"eksInfo": {"namespace": self.eks_namespace}},
            },
            clientToken=keys[min(keys)],
            tags=self.tags or {},
        )
        self.virtual_cluster_id = str(response["id"])
        self.log.info("EMR on EKS virtual cluster %s (client token %s)", self.virtual_cluster_id, keys[min(keys)])
        return self.virtual_cluster_id


class RetrySafeEmrEksDeleteVirtualClusterOperator(AwsBaseOperator):  # type: ignore[misc]
    """Delete an EMR on EKS virtual cluster and wait until it is TERMINATED; success when it already is."""

    aws_hook_class = EmrContainerHook
    template_fields: Sequence[str] = (*AwsBaseOperator.template_fields, "virtual_cluster_id")

    def __init__(
        self, *, virtual_cluster_id: str, poll_interval: int = 30, max_attempts: int = 60, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.virtual_cluster_id = virtual_cluster_id
        self.poll_interval = poll_interval
        self.max_attempts = max_attempts

    def _state(self) -> str:
        conn = self.hook.conn
        try:
            return str(conn.describe_virtual_cluster(id=self.virtual_cluster_id)["virtualCluster"]["state"])
        except (conn.exceptions.ResourceNotFoundException, conn.exceptions.ValidationException):
            return "TERMINATED"  # gone (AWS answers ResourceNotFound; moto a ValidationException)

    def execute(self, context: Any) -> None:
        if not self.virtual_cluster_id or self.virtual_cluster_id == "None":
            self.log.info("No EMR on EKS virtual cluster was created: nothing to delete")
            return
        state = self._state()
        if state == "TERMINATED":
            self.log.info("EMR on EKS virtual cluster %s is already TERMINATED", self.virtual_cluster_id)
            return
        if state != "TERMINATING":
            self.hook.conn.delete_virtual_cluster(id=self.virtual_cluster_id)
        for _ in range(self.max_attempts):
            state = self._state()
            if state == "TERMINATED":
                self.log.info("EMR on EKS virtual cluster %s deleted", self.virtual_cluster_id)
                return
            time.sleep(self.poll_interval)
        raise AirflowException(f"EMR on EKS virtual cluster {self.virtual_cluster_id} is still {state}")
