"""Least-privilege IAM for the MWAA execution role, derived from the compiled pipelines.

Each operator a pipeline compiles to needs a known set of API calls (what the
provider's operator, hook, waiter and trigger call); resources are as narrow as
the specs allow:

* EMR clusters are the pipeline's own: RunJobFlow is allowed only with the
  ``dagen:dag-id`` tag the compiler puts on every cluster, and every later call
  (steps, describe, terminate, notebooks) only on clusters carrying that tag;
* state machines, Glue jobs and crawlers, EMR Studio editors by name;
* ``iam:PassRole`` only on the roles the specs name, only to the service that
  uses them.

A value that is a Jinja template is only known at run time, so it is widened:
each template becomes ``*`` inside its ARN segment (a whole templated state
machine ARN becomes every state machine of the account and region).  Region
and account are ``*`` unless given (``--region``, ``--account-id``); the
CloudFormation form uses the stack's own region, account and partition.

Here the policy is assembled: each task goes to its service's statements
(``statements_*.py``, through :class:`generator.iam.builder.PolicyBuilder`),
notifications and declared permissions are added, and the CloudFormation form
wraps the document.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from generator.core.conditions import map_items_task_id, run_if_task_id
from generator.core.model import LoweredPipeline
from generator.iam.builder import Arns, PolicyBuilder, widen
from generator.iam.statements_athena import athena_tasks
from generator.iam.statements_emr import emr_cluster_tasks, emr_eks_tasks, emr_serverless_tasks, notebook_tasks
from generator.iam.statements_glue import glue_tasks
from generator.iam.statements_lambda import lambda_create_tasks, lambda_tasks
from generator.iam.statements_redshift import redshift_data_tasks
from generator.iam.statements_resources import managed_resource_tasks
from generator.iam.statements_s3 import (
    s3_condition_tasks,
    s3_copy_tasks,
    s3_create_bucket_tasks,
    s3_delete_tasks,
    s3_keys_unchanged_tasks,
    s3_list_tasks,
    s3_wait_tasks,
)
from generator.iam.statements_sns import sns_publish_tasks
from generator.iam.statements_step_functions import step_function_tasks
from generator.iam.statements_waits import WAIT_SENSORS


def _declared_permissions(builder: PolicyBuilder, settings: dict[str, Any]) -> None:
    """What a spec says its own code (an `operator` or `python` task) calls; dagen cannot know it."""
    for permission in settings.get("iam", []):
        builder.allow(
            "DeclaredByTasks", permission["actions"], [widen(resource) for resource in permission["resources"]]
        )


# Operators of the task types whose permissions follow from their arguments alone, by class name.
_BY_CLASS = {
    "AthenaOperator": athena_tasks,
    "S3KeySensor": s3_wait_tasks,
    "S3ObjectChecksSensor": s3_wait_tasks,
    "S3CopyObjectOperator": s3_copy_tasks,
    "S3DeleteObjectsOperator": s3_delete_tasks,
    "S3CreateBucketOperator": s3_create_bucket_tasks,
    "S3ListOperator": s3_list_tasks,
    "S3KeysUnchangedSensor": s3_keys_unchanged_tasks,
    "RetrySafeEmrServerlessStartJobOperator": emr_serverless_tasks,
    "RetrySafeEmrContainerOperator": emr_eks_tasks,
    "LambdaInvokeFunctionOperator": lambda_tasks,
    "CreateLambdaFunctionIfMissingOperator": lambda_create_tasks,
    "SnsPublishOperator": sns_publish_tasks,
    **WAIT_SENSORS,  # the wait_until sensors
    "RedshiftDataOperator": redshift_data_tasks,
}
# Task types that run code dagen does not see: they get what their `iam` entries declare.
_DECLARING_TYPES = ("operator", "python")
# Operators that call no AWS API: the http_wait sensor, branches (their conditions: see _conditions), the
# tasks that make a mapped task's items.
_NO_AWS = ("HttpSensor", "BranchPythonOperator")


def _conditions(builder: PolicyBuilder, spec: Any) -> None:
    """What ``s3_exists`` conditions read, in ``run_if`` and in branches (a python condition's function uses the
    role like a ``python`` task's, and declares nothing: give the role what it calls)."""
    found = [task.run_if for task in spec.tasks if task.run_if is not None]
    found += [c for task in spec.tasks if task.type == "branch" for c in task.settings["paths"].values()]
    for condition in found:
        if isinstance(condition, dict) and "s3_exists" in condition:
            s3_condition_tasks(builder, condition["s3_exists"])


def pipeline_policy(pipelines: Iterable[LoweredPipeline], arns: Arns) -> dict[str, Any]:
    """One policy document covering every pipeline."""
    builder = PolicyBuilder(arns)
    for pipeline in pipelines:
        for targets in pipeline.spec.notifications.values():
            topics = [widen(target["sns"]) for target in targets if "sns" in target]
            if topics:  # the notifier publishes through the pipeline's connection, i.e. this role
                topics = [t if t.startswith("arn:") else arns.make("sns", "*") for t in topics]
                builder.allow("SnsPublishNotifications", ["sns:Publish"], topics)
        state_machines: dict[str, str] = {}
        declaring = {t.task_id: t for t in pipeline.spec.tasks if t.type in _DECLARING_TYPES}
        generated = {run_if_task_id(t.task_id) for t in pipeline.spec.tasks if t.run_if is not None}
        generated |= {map_items_task_id(t.task_id) for t in pipeline.spec.tasks if t.map_over is not None}
        _conditions(builder, pipeline.spec)
        for task in pipeline.tasks:
            module = task.operator.rsplit(".", 2)[-2]
            class_name = task.operator.rsplit(".", 1)[-1]
            if task.task_id in generated:
                continue  # a run_if check (its S3 reads: _conditions) or a mapped task's items: no AWS call
            if task.task_id in declaring:
                _declared_permissions(builder, declaring[task.task_id].settings)
            elif class_name in _BY_CLASS:
                _BY_CLASS[class_name](builder, task)
            elif class_name in _NO_AWS:
                continue
            elif module == "managed_resources":
                managed_resource_tasks(builder, task, pipeline.spec.dag_id)
            elif module == "emr_notebook":
                notebook_tasks(builder, task, pipeline.spec.dag_id)
            elif module in ("emr", "emr_cluster"):
                emr_cluster_tasks(builder, task, pipeline.spec.dag_id)
            elif module == "step_function":
                step_function_tasks(builder, task, state_machines)
            elif module in ("glue", "glue_crawler", "glue_catalog_partition", "glue_data_quality"):
                glue_tasks(builder, task)
            else:  # a new task type must say what it needs before its pipelines get a policy
                raise ValueError(f"no IAM mapping for {task.operator}")
    return builder.document()


def cloudformation_template(document: dict[str, Any]) -> dict[str, Any]:
    """A stack that attaches the policy to an existing role (the MWAA execution role)."""
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "Least-privilege permissions of the dagen pipelines (generated by `dagen iam`).",
        "Parameters": {
            "ExecutionRoleName": {
                "Type": "String",
                "AllowedPattern": r"^[\w+=,.@-]{1,64}$",
                "ConstraintDescription": "an IAM role name (the ExecutionRoleName output of mwaa-execution-role.yaml)",
                "Description": "Name of the MWAA execution role to attach the pipelines' permissions to.",
            }
        },
        "Resources": {
            "PipelinesPolicy": {
                "Type": "AWS::IAM::ManagedPolicy",
                "Properties": {
                    "Description": "What the dagen pipelines call: EMR, Step Functions, Glue and PassRole.",
                    "Roles": [{"Ref": "ExecutionRoleName"}],
                    "PolicyDocument": sub_pseudo_parameters(document),
                },
            }
        },
        "Outputs": {
            "PipelinesPolicyArn": {
                "Description": "ARN of the managed policy attached to the execution role.",
                "Value": {"Ref": "PipelinesPolicy"},
            }
        },
    }


def sub_pseudo_parameters(value: Any) -> Any:
    """Strings naming ``${AWS::...}`` pseudo parameters become ``Fn::Sub`` of themselves."""
    if isinstance(value, dict):
        return {key: sub_pseudo_parameters(sub) for key, sub in value.items()}
    if isinstance(value, list):
        return [sub_pseudo_parameters(sub) for sub in value]
    if isinstance(value, str) and "${AWS::" in value:
        return {"Fn::Sub": value}
    return value


CLOUDFORMATION_ARNS = Arns(partition="${AWS::Partition}", region="${AWS::Region}", account="${AWS::AccountId}")
