"""CloudFormation templates of ``cloudformation/`` created on the local emulator, resource by resource.

The template is read here and each resource created through the emulator's
API, not deployed with moto's CloudFormation: moto 5.2.5 has no
``AWS::Glue::*`` support, ignores a state machine's ``Definition`` and
``DefinitionSubstitutions`` (it reads only ``DefinitionString``), and would put
the state machine in the Step Functions backend that does not execute.  The
intrinsic functions the project's templates use are resolved by :class:`_Stack`;
resources of other types are skipped (and reported).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from generator.local.emulator import ACCOUNT_ID, LocalAws

TEMPLATES = Path(__file__).resolve().parents[2] / "cloudformation"


class _TemplateLoader(yaml.SafeLoader):
    """Reads CloudFormation YAML: ``!Ref X`` -> ``{"Ref": X}``, ``!Sub ...`` -> ``{"Fn::Sub": ...}``."""


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    if suffix == "Condition":
        return {"Condition": value}
    return {f"Fn::{suffix}": value}


_TemplateLoader.add_multi_constructor("!", _construct_tag)

_NO_VALUE = object()


class _Stack:
    """A minimal resolver of the intrinsic functions the project's templates use."""

    def __init__(self, name: str, template: dict[str, Any], parameters: dict[str, str], region: str) -> None:
        self.name = name
        self.template = template
        self.region = region
        self.values: dict[str, Any] = {
            key: parameters.get(key, spec.get("Default", ""))
            for key, spec in (template.get("Parameters") or {}).items()
        }
        self.values.update(
            {
                "AWS::Region": region,
                "AWS::AccountId": ACCOUNT_ID,
                "AWS::Partition": "aws",
                "AWS::StackName": name,
                "AWS::URLSuffix": "amazonaws.com",
            }
        )
        self.attributes: dict[str, dict[str, str]] = {}

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template["Conditions"][name]))

    def attribute(self, resource: str, attribute: str) -> Any:
        try:
            return self.attributes[resource][attribute]
        except KeyError:
            raise LookupError(f"{resource}.{attribute} is not known locally") from None

    def _sub(self, text: str, extra: dict[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in extra:
                return str(self.resolve(extra[name]))
            if "." in name and not name.startswith("AWS::"):
                return str(self.attribute(*name.split(".", 1)))
            return str(self.values[name])

        return re.sub(r"\$\{([^!}][^}]*)\}", replace, text)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in (self.resolve(sub) for sub in value) if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return _NO_VALUE if arg == "AWS::NoValue" else self.values[arg]
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::Sub":
                text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                return self._sub(text, extra)
            if key == "Fn::GetAtt":
                return self.attribute(arg[0], arg[1])
            if key == "Fn::If":
                return self.resolve(arg[1] if self.condition(arg[0]) else arg[2])
            if key == "Fn::Equals":
                return self.resolve(arg[0]) == self.resolve(arg[1])
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::And":
                return all(self.resolve(sub) for sub in arg)
            if key == "Fn::Or":
                return any(self.resolve(sub) for sub in arg)
            if key == "Fn::Join":
                return str(arg[0]).join(str(sub) for sub in self.resolve(arg[1]))
            if key == "Fn::Select":
                return self.resolve(arg[1])[int(self.resolve(arg[0]))]
            if key == "Fn::Split":
                return str(self.resolve(arg[1])).split(arg[0])
        return {key: sub for key, sub in ((k, self.resolve(v)) for k, v in value.items()) if sub is not _NO_VALUE}


def make_bucket(aws: LocalAws, name: str) -> None:
    """Create the bucket ``name`` in the emulator's region, unless it is there already."""
    s3 = aws.client("s3")
    kwargs: dict[str, Any] = {"Bucket": name}
    if aws.region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": aws.region}
    try:
        s3.create_bucket(**kwargs)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass


def _substitute(definition: Any, substitutions: dict[str, Any]) -> str:
    text = definition if isinstance(definition, str) else json.dumps(definition)
    for key, value in substitutions.items():
        text = text.replace("${" + key + "}", str(value))
    return text


def _create(aws: LocalAws, stack: _Stack, logical_id: str, kind: str, props: dict[str, Any]) -> str | None:
    """Create one template resource on the emulator; return its Ref value (None when skipped)."""
    if kind == "AWS::S3::Bucket":
        name = props.get("BucketName") or f"{stack.name}-{logical_id}".lower()
        make_bucket(aws, name)
        stack.attributes[logical_id] = {"Arn": f"arn:aws:s3:::{name}"}
        return str(name)
    if kind == "AWS::IAM::Role":
        name = props.get("RoleName") or f"{stack.name}-{logical_id}"
        role = aws.client("iam").create_role(
            RoleName=name, AssumeRolePolicyDocument=json.dumps(props.get("AssumeRolePolicyDocument", {}))
        )["Role"]
        stack.attributes[logical_id] = {"Arn": role["Arn"], "RoleId": role["RoleId"]}
        return str(name)
    if kind == "AWS::Glue::Database":
        database = props["DatabaseInput"]
        aws.client("glue").create_database(DatabaseInput=database)
        return str(database["Name"])
    if kind == "AWS::Glue::Job":
        keys = ("Name", "Description", "Role", "GlueVersion", "WorkerType", "NumberOfWorkers", "Timeout")
        request = {key: props[key] for key in keys if key in props}
        for key in ("MaxRetries", "ExecutionProperty", "Command", "DefaultArguments"):
            if key in props:
                request[key] = props[key]
        aws.client("glue").create_job(**request)
        return str(props["Name"])
    if kind == "AWS::Glue::Crawler":
        keys = ("Name", "Role", "DatabaseName", "Description", "Targets", "SchemaChangePolicy", "RecrawlPolicy")
        aws.client("glue").create_crawler(**{key: props[key] for key in keys if key in props})
        return str(props["Name"])
    if kind == "AWS::StepFunctions::StateMachine":
        definition = props.get("DefinitionString") or props.get("Definition") or {}
        name = props.get("StateMachineName") or f"{stack.name}-{logical_id}"
        arn = aws.client("stepfunctions").create_state_machine(
            name=name,
            definition=_substitute(definition, props.get("DefinitionSubstitutions") or {}),
            roleArn=props.get("RoleArn") or f"arn:aws:iam::{ACCOUNT_ID}:role/dagen-local",
            type=props.get("StateMachineType", "STANDARD"),
        )["stateMachineArn"]
        stack.attributes[logical_id] = {"Name": name, "Arn": arn}
        return str(arn)
    return None


def deploy_template(aws: LocalAws, path: Path, parameters: dict[str, str], stack_name: str) -> tuple[dict, list]:
    """Create every resource of a template the emulator can hold, in order; return (outputs, skipped)."""
    template = yaml.load(path.read_text(encoding="utf-8"), Loader=_TemplateLoader)  # noqa: S506 - safe subclass
    stack = _Stack(stack_name, template, parameters, aws.region)
    pending = dict(template.get("Resources") or {})
    skipped: list[str] = []
    # Resources refer to each other; create whatever can be resolved until nothing moves.
    while pending:
        progressed = False
        for logical_id, resource in list(pending.items()):
            if "Condition" in resource and not stack.condition(resource["Condition"]):
                del pending[logical_id]
                continue
            try:
                props = stack.resolve(resource.get("Properties") or {})
            except (KeyError, LookupError):
                continue
            ref = _create(aws, stack, logical_id, resource["Type"], props)
            if ref is None:
                skipped.append(f"{path.name}:{logical_id} ({resource['Type']})")
                ref = logical_id
            stack.values[logical_id] = ref
            del pending[logical_id]
            progressed = True
        if not progressed:
            skipped.extend(f"{path.name}:{logical_id} (unresolved)" for logical_id in pending)
            break
    outputs = {}
    for key, output in (template.get("Outputs") or {}).items():
        try:
            outputs[key] = str(stack.resolve(output["Value"]))
        except (KeyError, LookupError):
            continue
    return outputs, skipped
