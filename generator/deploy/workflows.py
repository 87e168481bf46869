"""The MWAA Serverless API side of ``dagen deploy --target mwaa-serverless``: find, create, update workflows.

boto3 is imported only when a deploy runs.  The client is made by one factory,
:func:`workflows_client`, which the command takes as a parameter: moto has no
backend for ``mwaa-serverless``, so the tests hand in a botocore-stubbed client
instead.  Every AWS or network failure becomes a :class:`DeployError` (one line
naming the call and the workflow, and the AWS error code and message).

A workflow is dagen's pipeline when it has the pipeline's DAG id as its Name;
the SHA-256 of the definition it was last created or updated from is its tag
``dagen:definition-sha256``, so an unchanged pipeline costs a listing and one
ListTagsForResource, and never a new workflow version.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from generator.deploy.s3 import DEFAULT_MAX_ATTEMPTS, DeployError, aws_cause

SERVICE = "mwaa-serverless"
DEFINITION_TAG = "dagen:definition-sha256"
DAG_ID_TAG = "dagen:dag-id"
# The service model's patterns for a workflow Name and a RoleArn: checked before anything is uploaded.
NAME = re.compile(r"[a-zA-Z0-9]+[a-zA-Z0-9.\-_]*")
NAME_MAX = 255
ROLE_ARN = re.compile(
    r"arn:aws(?:-(?:cn|us-gov|iso|iso-b|iso-e|iso-f))?:iam::[0-9]{12}:role(/[a-zA-Z0-9+=,.@_\-]{1,512})*?"
    r"/[a-zA-Z0-9+=,.@_\-]{1,64}"
)
DESCRIPTION_MAX = 1024
RETRY_HINT = "rerun the same dagen deploy: it uploads only what changed and creates or updates only what differs"

ClientFactory = Callable[..., Any]  # (region=..., max_attempts=...) -> a boto3 "mwaa-serverless" client


def workflows_client(*, region: str | None, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> Any:
    """A boto3 client of the MWAA Serverless API (standard retries: throttling and 500s are ridden out)."""
    try:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError
    except ImportError:
        raise DeployError(
            "boto3 is not installed (deploy needs it to talk to MWAA Serverless)",
            "pip install boto3 into dagen's environment",
        ) from None
    config = Config(
        user_agent_extra="dagen-deploy",
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        connect_timeout=10,
        read_timeout=60,
    )
    try:
        return boto3.session.Session(region_name=region).client(SERVICE, config=config)
    except BotoCoreError as error:  # no region, or a botocore without the service
        raise DeployError(
            f"cannot make an MWAA Serverless client: {error}",
            "pass --region (or set AWS_DEFAULT_REGION); the service needs botocore 1.41 or later",
        ) from None


@dataclass(frozen=True)
class Workflow:
    """A workflow as the listing and its tags show it."""

    name: str
    arn: str
    version: str | None
    status: str | None
    definition_sha256: str | None  # the DEFINITION_TAG: what it was last deployed from


@dataclass(frozen=True)
class Request:
    """What one pipeline's workflow is to be: the fields CreateWorkflow and UpdateWorkflow share."""

    name: str
    bucket: str
    key: str
    role_arn: str
    description: str | None
    sha256: str

    def common(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "DefinitionS3Location": {"Bucket": self.bucket, "ObjectKey": self.key},
            "RoleArn": self.role_arn,
        }
        if self.description:
            fields["Description"] = self.description
        return fields

    def client_token(self) -> str:
        # The same create (name and definition) sent twice -- a lost response, a rerun -- is one workflow.
        return hashlib.sha256(f"{self.name}\n{self.sha256}".encode()).hexdigest()


def request_problem(request: Request) -> str | None:
    """Why MWAA Serverless would refuse the request's name or role (checked before any upload), or None."""
    if len(request.name) > NAME_MAX or not NAME.fullmatch(request.name):
        return (
            f"DAG id '{request.name}' cannot be an MWAA Serverless workflow name (a letter or digit first, then "
            f"letters, digits and ._-, at most {NAME_MAX})"
        )
    if not ROLE_ARN.fullmatch(request.role_arn):
        return f"role ARN '{request.role_arn}' of {request.name} is not an IAM role ARN"
    return None


def _errors() -> tuple[type[Exception], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError, OSError, ValueError)


def _failure(call: str, subject: str, error: Exception, hint: str) -> DeployError:
    from botocore.exceptions import NoCredentialsError

    if isinstance(error, NoCredentialsError):
        return DeployError(
            "no AWS credentials found", "set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run in CI"
        )
    return DeployError(f"MWAA Serverless {call} {subject}failed: {aws_cause(error)}", hint)


def find_workflows(client: Any, names: set[str]) -> dict[str, Workflow]:
    """The workflows named like the pipelines (every page of ListWorkflows), with their definition tag."""
    summaries: dict[str, dict[str, Any]] = {}
    try:
        for page in client.get_paginator("list_workflows").paginate():
            for summary in page.get("Workflows", []):
                if summary.get("Name") in names:
                    summaries[summary["Name"]] = summary
    except _errors() as error:
        raise _failure("ListWorkflows", "", error, "check --region and the deploy role's permissions") from None
    found = {}
    for name, summary in sorted(summaries.items()):
        try:
            tags = client.list_tags_for_resource(ResourceArn=summary["WorkflowArn"]).get("Tags", {})
        except _errors() as error:
            raise _failure("ListTagsForResource", f"of {name} ", error, "nothing was uploaded or changed") from None
        found[name] = Workflow(
            name=name,
            arn=summary["WorkflowArn"],
            version=summary.get("WorkflowVersion"),
            status=summary.get("WorkflowStatus"),
            definition_sha256=tags.get(DEFINITION_TAG),
        )
    return found


def create_workflow(client: Any, request: Request, hint: str) -> str:
    """CreateWorkflow, tagged with the DAG id and the definition's hash; returns the new WorkflowVersion."""
    try:
        response = client.create_workflow(
            Name=request.name,
            ClientToken=request.client_token(),
            **request.common(),
            Tags={DAG_ID_TAG: request.name, DEFINITION_TAG: request.sha256},
        )
    except _errors() as error:
        raise _failure("CreateWorkflow", f"of {request.name} ", error, hint) from None
    return str(response.get("WorkflowVersion", ""))


def update_workflow(client: Any, workflow: Workflow, request: Request, hint: str) -> str:
    """UpdateWorkflow (a new version from the new definition), then the hash tag; returns the WorkflowVersion."""
    try:
        response = client.update_workflow(WorkflowArn=workflow.arn, **request.common())
    except _errors() as error:
        raise _failure("UpdateWorkflow", f"of {request.name} ", error, hint) from None
    try:
        client.tag_resource(ResourceArn=workflow.arn, Tags={DEFINITION_TAG: request.sha256})
    except _errors() as error:
        raise _failure(
            "TagResource",
            f"of {request.name} (updated to version {response.get('WorkflowVersion')}, its hash tag not recorded) ",
            error,
            hint,
        ) from None
    return str(response.get("WorkflowVersion", ""))
