"""The AWS resources a pipeline refers to, created on the local emulator for ``dagen run --local``.

What a pipeline needs besides its own clusters is found in its compiled
configuration: the Airflow Variables its templates read (``{{ var.value.X }}``),
the S3 buckets its params and literals name, the SNS topics its literal ARNs
name, and the resources its tasks name literally or by one param (an EMR
Serverless application, an EMR on EKS virtual cluster, a Lambda function, an
Athena workgroup, a long-running EMR cluster).  For each Variable the emulator
gets a real local resource and the Variable gets its id (see
:func:`_variable_value`, by the Variable's name); each bucket is created.  The
resources themselves are made by :mod:`generator.local.resource_provider`.

Resources that a template in ``cloudformation/`` defines are created from that
template (MovieLens: the data bucket, the Glue database, job and crawlers and
the curation state machine, with its ``DefinitionSubstitutions`` applied), by
:mod:`generator.local.cloudformation`.  Objects an ``s3_wait`` task waits for
are put when the task starts (:mod:`generator.local.sensor_objects`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import jinja2
from jinja2 import nodes

from generator.local.cloudformation import TEMPLATES
from generator.local.emulator import ACCOUNT_ID, LocalAws
from generator.local.resource_provider import BUCKET_NAME, DATA_BUCKET, LOGS_BUCKET, ResourceProvider
from generator.task_types import (
    athena_query,
    emr_eks_job,
    emr_notebook,
    emr_serverless_job,
    emr_step,
    glue_crawler,
    glue_job,
    lambda_invoke,
    s3_create_bucket,
)

_SNS_ARN = re.compile(r"arn:aws:sns:([a-z]{2}(?:-[a-z]+)+-[0-9]):([0-9]{12}):([A-Za-z0-9_-]{1,256})(?![A-Za-z0-9_-])")
_LAMBDA_ARN = re.compile(
    r"^(?:arn:aws[a-z-]*:lambda:[a-z0-9-]+:)?(?:[0-9]{12}:)?(?:function:)?([A-Za-z0-9_-]+)(?::(.+))?$"
)
_WHOLE_PARAM = re.compile(r"\{\{\s*params\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_S3_URI = re.compile(r"s3a?://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/|$)")
_S3_PARAM = re.compile(r"s3a?://\{\{\s*params\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


@dataclass
class LocalResources:
    """What was created, and the Variables that point at it."""

    variables: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)  # variable -> what it points at
    buckets: list[str] = field(default_factory=list)
    stacks: dict[str, dict[str, str]] = field(default_factory=dict)  # template -> outputs
    skipped: list[str] = field(default_factory=list)  # template resources not created locally
    named: list[str] = field(default_factory=list)  # resources tasks name literally (or by one param)


# ----------------------------------------------------------------------------- what a pipeline reads


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for sub in value.values():
            yield from _strings(sub)
    elif isinstance(value, (list, tuple)):
        for sub in value:
            yield from _strings(sub)
    elif isinstance(value, str):
        yield value


def variables_read(config: dict[str, Any]) -> list[str]:
    """Names X of every ``var.value.X`` (and ``var.json.X``) the configuration's templates read."""
    env = jinja2.Environment()  # noqa: S701 - parses only; Airflow renders
    found: set[str] = set()
    for text in _strings(config):
        if "var." not in text:
            continue
        try:
            tree = env.parse(text)
        except jinja2.TemplateSyntaxError:
            continue
        for node in tree.find_all(nodes.Getattr):
            inner = node.node
            if (
                isinstance(inner, nodes.Getattr)
                and inner.attr in ("value", "json")
                and isinstance(inner.node, nodes.Name)
                and inner.node.name == "var"
            ):
                found.add(node.attr)
    return sorted(found)


def buckets_named(config: dict[str, Any], params: dict[str, Any]) -> list[str]:
    """Buckets in s3:// literals and param values, and params used as ``s3://{{ params.X }}``."""
    found: set[str] = set()
    for text in [*_strings(config), *_strings(params)]:
        found.update(match.group(1) for match in _S3_URI.finditer(text) if "{" not in match.group(1))
        for name in _S3_PARAM.findall(text):
            value = params.get(name)
            if isinstance(value, str) and BUCKET_NAME.match(value):
                found.add(value)
    return sorted(found)


def buckets_created(config: dict[str, Any]) -> set[str]:
    """Buckets an ``s3_create_bucket`` task names literally: the pipeline creates them, not the local run."""
    return {
        task["bucket_name"]
        for task in (config.get("tasks") or {}).values()
        if task.get("operator") == s3_create_bucket.OPERATORS[0] and "{" not in str(task.get("bucket_name", "{"))
    }


# ----------------------------------------------------------------------------- what it gets


def _variable_value(name: str, provider: ResourceProvider) -> tuple[str, str]:
    """(value, what it is) for one Variable the pipeline reads."""
    if name == "movielens_state_machine_arn" and (TEMPLATES / "movielens.yaml").is_file():
        outputs = provider.stack("movielens.yaml")
        return outputs["StateMachineArn"], "state machine of cloudformation/movielens.yaml"
    if name.endswith("state_machine_arn"):
        return provider.pass_state_machine(name), "a one-Pass-state state machine (no template defines it)"
    if name.endswith("topic_arn"):
        return provider.topic(f"dagen-local-{name}".replace("_", "-")), "an SNS topic"
    if name.endswith("function_arn"):
        return provider.function(f"dagen-local-{name}".replace("_", "-")), "a Lambda function (answers with its event)"
    if name.endswith(("function_name", "function")):
        function = f"dagen-local-{name}".replace("_", "-")
        provider.function(function)
        return function, "a Lambda function (answers with its event)"
    if name.endswith("role_arn"):
        return provider.role(f"dagen-local-{name}".replace("_", "-")[:64], "ec2.amazonaws.com"), "an IAM role"
    if name.endswith("virtual_cluster_id"):
        return provider.virtual_cluster(name), "an EMR on EKS virtual cluster"
    if name.endswith("application_id"):
        return provider.application(name), "a stopped EMR Serverless Spark application"
    if name.endswith("cluster_id"):
        return provider.emr_cluster(name), "a long-running EMR cluster, WAITING"
    if name.endswith("workgroup"):
        return provider.workgroup(f"dagen-local-{name}".replace("_", "-")), "an Athena workgroup with a result location"
    if name.endswith("subnet_id"):
        return provider.subnet(), "a subnet of a local VPC"
    if name.endswith("editor_id"):
        return provider.editor(name), "a registered EMR Studio workspace (editor)"
    if name.endswith("log_uri"):
        return f"s3://{provider.bucket(LOGS_BUCKET)}/emr-logs/", "a folder of a local bucket"
    if name.endswith(("_location", "_uri", "_path", "_prefix")):
        return f"s3://{provider.bucket(DATA_BUCKET)}/{name}/", "a folder of a local bucket"
    if name.endswith("bucket"):
        return provider.bucket(DATA_BUCKET), "a local bucket"
    return f"local-{name}", "a placeholder (no local resource matches the name)"


def _literal_editors(config: dict[str, Any], params: dict[str, Any]) -> Iterator[str]:
    """Editor ids notebook tasks name literally or as one param (Variables are provided above)."""
    for task in (config.get("tasks") or {}).values():
        editor = task.get("editor_id")
        if not isinstance(editor, str):
            continue
        whole_param = re.fullmatch(r"\{\{\s*params\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}", editor.strip())
        if whole_param and isinstance(params.get(whole_param.group(1)), str):
            yield params[whole_param.group(1)]
        elif "{" not in editor:
            yield editor


def _fixed(value: Any, params: dict[str, Any]) -> str | None:
    """The value itself when it holds no template, the param's value when it is exactly one param, else None."""
    if not isinstance(value, str):
        return None
    whole = _WHOLE_PARAM.fullmatch(value.strip())
    if whole:
        param = params.get(whole.group(1))
        return param if isinstance(param, str) else None
    return None if "{" in value else value


def _named_resources(provider: ResourceProvider, config: dict[str, Any], params: dict[str, Any]) -> Iterator[str]:
    """Create the resources tasks name literally or by one param; yield what each is (Variables are done)."""
    tasks = config.get("tasks") or {}
    for task_id, task in tasks.items():
        operator = task.get("operator")
        if operator in (*emr_serverless_job.OPERATORS, emr_serverless_job.BASE_OPERATOR):
            app = _fixed(task.get("application_id"), params)
            if app:
                yield f"EMR Serverless application {provider.application(task_id, app)} (for {task_id})"
        elif operator in emr_eks_job.OPERATORS or operator == emr_eks_job.BASE_OPERATOR:
            cluster = _fixed(task.get("virtual_cluster_id"), params)
            if cluster:
                yield f"EMR on EKS virtual cluster {provider.virtual_cluster(task_id, cluster)} (for {task_id})"
        elif operator == lambda_invoke.CREATE_OPERATOR:  # create_if_missing: the code and role, not the function
            code = task.get("code") or {}
            bucket, key = _fixed(code.get("S3Bucket"), params), _fixed(code.get("S3Key"), params)
            role = _fixed(task.get("role"), params)
            if bucket and key and role:
                package = provider.lambda_package(bucket, key, role)
                yield f"Lambda code {package} (for {task_id}, which creates the function)"
        elif operator in lambda_invoke.OPERATORS and f"{task_id}{lambda_invoke.CREATE_SUFFIX}" not in tasks:
            reference = _fixed(task.get("function_name"), params)
            match = _LAMBDA_ARN.match(reference or "")
            if match:
                qualifier = match.group(2) or _fixed(task.get("qualifier"), params)
                provider.function(match.group(1), qualifier)
                shown = f"{match.group(1)}:{qualifier}" if qualifier else match.group(1)
                yield f"Lambda function {shown} (for {task_id}; answers with its event)"
        elif operator in athena_query.OPERATORS:
            group = _fixed(task.get("workgroup"), params)
            if group and group != "primary":
                yield f"Athena workgroup {provider.workgroup(group)} (for {task_id})"
        elif operator in glue_job.OPERATORS:
            job = _fixed(task.get("job_name"), params)
            if job and "create_job_kwargs" not in task:  # with create_if_missing the task creates its job
                yield f"Glue job {provider.glue_job(job)} (for {task_id}; its script is not run)"
        elif operator in glue_crawler.OPERATORS:
            crawler = _fixed(task.get("crawler_name") or (task.get("config") or {}).get("Name"), params)
            if crawler and "Role" not in (task.get("config") or {}):  # create_if_missing: the task creates it
                yield f"Glue crawler {provider.glue_crawler(crawler)} (for {task_id})"
        elif operator in (*emr_step.OPERATORS, *emr_notebook.OPERATORS):
            # An existing cluster written as an id (a cluster the pipeline creates arrives by XCom template).
            cluster = _fixed(task.get("job_flow_id") or task.get("cluster_id"), params)
            if cluster:
                yield f"EMR cluster {provider.emr_cluster(task_id, cluster)}, WAITING (for {task_id})"
    for region, account, name in sorted(
        {match.groups() for text in _strings(config) for match in _SNS_ARN.finditer(text)}
    ):
        if account == ACCOUNT_ID:
            provider.topic(name, region)
            yield f"SNS topic {name} ({region})"
        else:
            yield f"SNS topic {name} of account {account} not made: the emulator is account {ACCOUNT_ID}"


def create_local_resources(
    aws: LocalAws, config: dict[str, Any], params: dict[str, Any], cache: dict[str, str] | None = None
) -> LocalResources:
    """Create what the pipeline refers to on ``aws``; return the Variables that point at it.

    ``cache`` (what was made, by key) is shared by the pipelines of one emulator: each resource is made once.
    """
    out = LocalResources()
    provider = ResourceProvider(aws, params, cache)
    for name in variables_read(config):
        value, note = _variable_value(name, provider)
        out.variables[name] = value
        out.notes[name] = note
    for editor in _literal_editors(config, params):
        aws.register_editor(editor)
    out.named.extend(dict.fromkeys(_named_resources(provider, config, params)))
    named = buckets_named(config, params) + buckets_named({}, dict(out.variables))
    named = [bucket for bucket in named if bucket not in buckets_created(config)]  # the run makes them
    for bucket in named:
        provider.bucket(bucket)
    out.buckets, out.stacks, out.skipped = provider.buckets, provider.stacks, provider.skipped
    for stack in out.stacks.values():
        stack_bucket = stack.get("DataBucketName")
        if stack_bucket and stack_bucket not in out.buckets:
            out.buckets.append(stack_bucket)
    out.buckets.sort()
    return out
