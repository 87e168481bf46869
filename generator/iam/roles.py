"""One least-privilege execution role per pipeline, for MWAA Serverless (``dagen iam --per-pipeline``).

MWAA Serverless runs each workflow under its own IAM role, which the service
assumes (trust principal ``airflow-serverless.amazonaws.com``).  A pipeline's
role gets exactly what :func:`generator.iam.policy.pipeline_policy` derives for
that pipeline alone, so one workflow can never touch another's clusters, state
machines or jobs.

What the role does *not* get: ``s3:GetObject`` on the workflow definition.  The
service reads the definition once, when CreateWorkflow or UpdateWorkflow is
called ("takes a snapshot of the definition at creation time", API reference of
DefinitionS3Location), on the request of the principal that deploys; the user
guide's execution-role page lists what a workflow's role needs from the service
itself as CloudWatch Logs (only with a LoggingConfiguration, which dagen does not
send) and KMS (only with a customer managed key, which dagen does not send).
So reading the definition is the deploying principal's permission (see
docs/deploying-dags.md), never the running workflow's: granting it here would let
every task read its pipeline's definition for nothing.

Two forms: a JSON map (dag id -> RoleName, AssumeRolePolicyDocument, Policy) and
a CloudFormation template with one ``AWS::IAM::Role`` per pipeline.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Any

from generator.core.model import LoweredPipeline
from generator.iam.builder import TAG_KEY, Arns
from generator.iam.policy import CLOUDFORMATION_ARNS, pipeline_policy, sub_pseudo_parameters

TRUSTED_SERVICE = "airflow-serverless.amazonaws.com"
DEFAULT_ROLE_NAME = "dagen-{dag_id}"
ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")  # IAM's rule for a role name
POLICY_NAME = "dagen-pipeline"


class RoleNameError(ValueError):
    """A role name template that gives a name IAM refuses for one pipeline."""


def role_name(template: str, dag_id: str) -> str:
    """The role of one pipeline: ``template`` with ``{dag_id}`` replaced; raises RoleNameError if IAM refuses it."""
    name = template.replace("{dag_id}", dag_id)
    if not ROLE_NAME.match(name):
        raise RoleNameError(
            f"role name '{name}' of pipeline '{dag_id}' is not one IAM accepts (at most 64 letters, digits and +=,.@_-)"
        )
    return name


def assume_role_policy() -> dict[str, Any]:
    """Only MWAA Serverless may assume a pipeline's role."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": TRUSTED_SERVICE},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def per_pipeline_roles(
    pipelines: Iterable[LoweredPipeline], arns: Arns, *, name_template: str = DEFAULT_ROLE_NAME
) -> dict[str, dict[str, Any]]:
    """``{dag_id: {"RoleName", "AssumeRolePolicyDocument", "Policy"}}``, sorted by DAG id.

    ``Policy`` is None for a pipeline that calls no AWS API (IAM refuses a policy without statements).
    """
    roles: dict[str, dict[str, Any]] = {}
    for pipeline in sorted(pipelines, key=lambda p: p.spec.dag_id):
        dag_id = pipeline.spec.dag_id
        document = pipeline_policy([pipeline], arns)
        roles[dag_id] = {
            "RoleName": role_name(name_template, dag_id),
            "AssumeRolePolicyDocument": assume_role_policy(),
            "Policy": document if document["Statement"] else None,
        }
    return roles


def logical_id(dag_id: str, taken: set[str]) -> str:
    """A CloudFormation logical id for a pipeline's role: alphanumeric, from the DAG id, unique in ``taken``."""
    words = re.split(r"[^A-Za-z0-9]+", dag_id)
    base = "".join(word[:1].upper() + word[1:] for word in words) or "Pipeline"
    candidate = f"{base}Role"
    if candidate in taken:  # `a-b` and `a_b` sanitise alike: the DAG id's hash tells them apart
        candidate = f"{base}{hashlib.sha256(dag_id.encode()).hexdigest()[:8].upper()}Role"
    taken.add(candidate)
    return candidate


def per_pipeline_template(pipelines: Iterable[LoweredPipeline], *, name_template: str = DEFAULT_ROLE_NAME) -> dict:
    """A stack of one execution role per pipeline, and their ARNs as outputs."""
    roles = per_pipeline_roles(pipelines, CLOUDFORMATION_ARNS, name_template=name_template)
    resources: dict[str, Any] = {}
    outputs: dict[str, Any] = {}
    taken: set[str] = set()
    for dag_id, role in roles.items():
        logical = logical_id(dag_id, taken)
        properties: dict[str, Any] = {
            "RoleName": role["RoleName"],
            "Description": f"MWAA Serverless execution role of the dagen pipeline {dag_id}"[:1000],
            "AssumeRolePolicyDocument": role["AssumeRolePolicyDocument"],
            "Tags": [{"Key": TAG_KEY, "Value": dag_id}],
        }
        if role["Policy"] is not None:
            properties["Policies"] = [
                {"PolicyName": POLICY_NAME, "PolicyDocument": sub_pseudo_parameters(role["Policy"])}
            ]
        resources[logical] = {"Type": "AWS::IAM::Role", "Properties": properties}
        outputs[f"{logical}Arn"] = {
            "Description": f"ARN of the execution role of {dag_id} (dagen deploy --target mwaa-serverless --role-arn)",
            "Value": {"Fn::GetAtt": [logical, "Arn"]},
        }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "One MWAA Serverless execution role per dagen pipeline (generated by dagen iam --per-pipeline).",
        "Resources": resources,
        "Outputs": outputs,
    }
