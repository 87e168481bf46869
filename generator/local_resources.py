"""The AWS resources a pipeline refers to, created on the local emulator for ``dagen run --local``.

What a pipeline needs besides its own clusters is found in its compiled
configuration: the Airflow Variables its templates read (``{{ var.value.X }}``)
and the S3 buckets its params and literals name.  For each Variable the
emulator gets a real local resource and the Variable gets its id (see
:data:`VARIABLE_RULES`); each bucket is created.

Resources that a template in ``cloudformation/`` defines are created from that
template (MovieLens: the data bucket, the Glue database, job and crawlers and
the curation state machine, with its ``DefinitionSubstitutions`` applied).
The template is read here and each resource created through the emulator's
API, not deployed with moto's CloudFormation: moto 5.2.5 has no
``AWS::Glue::*`` support, ignores a state machine's ``Definition`` and
``DefinitionSubstitutions`` (it reads only ``DefinitionString``), and would put
the state machine in the Step Functions backend that does not execute.
"""

from __future__ import annotations

import json
import re
import secrets
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import yaml
from jinja2 import nodes

from generator.aws_emulator import ACCOUNT_ID, LocalAws

TEMPLATES = Path(__file__).resolve().parent.parent / "cloudformation"
DATA_BUCKET = "dagen-local-data"
LOGS_BUCKET = "dagen-local-logs"
_S3_URI = re.compile(r"s3a?://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/|$)")
_S3_PARAM = re.compile(r"s3a?://\{\{\s*params\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


@dataclass
class LocalResources:
    """What was created, and the Variables that point at it."""

    variables: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)  # variable -> what it points at
    buckets: list[str] = field(default_factory=list)
    stacks: dict[str, dict[str, str]] = field(default_factory=dict)  # template -> outputs
    skipped: list[str] = field(default_factory=list)  # template resources not created locally


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
            if isinstance(value, str) and _BUCKET_NAME.match(value):
                found.add(value)
    return sorted(found)


# ----------------------------------------------------------------------------- CloudFormation templates


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


def _substitute(definition: Any, substitutions: dict[str, Any]) -> str:
    text = definition if isinstance(definition, str) else json.dumps(definition)
    for key, value in substitutions.items():
        text = text.replace("${" + key + "}", str(value))
    return text


def _create(aws: LocalAws, stack: _Stack, logical_id: str, kind: str, props: dict[str, Any]) -> str | None:
    """Create one template resource on the emulator; return its Ref value (None when skipped)."""
    if kind == "AWS::S3::Bucket":
        name = props.get("BucketName") or f"{stack.name}-{logical_id}".lower()
        _make_bucket(aws, name)
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


# ----------------------------------------------------------------------------- variables


def _make_bucket(aws: LocalAws, name: str) -> None:
    s3 = aws.client("s3")
    kwargs: dict[str, Any] = {"Bucket": name}
    if aws.region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": aws.region}
    try:
        s3.create_bucket(**kwargs)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass


def _editor_id() -> str:
    return "e-" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(25))


class _Provider:
    """Makes local resources on demand, once each."""

    def __init__(self, aws: LocalAws, params: dict[str, Any], out: LocalResources) -> None:
        self.aws = aws
        self.params = params
        self.out = out
        self.cache: dict[str, str] = {}

    def once(self, key: str, make: Callable[[], str]) -> str:
        if key not in self.cache:
            self.cache[key] = make()
        return self.cache[key]

    def subnet(self) -> str:
        def make() -> str:
            ec2 = self.aws.client("ec2")
            vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
            return str(ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"])

        return self.once("subnet", make)

    def bucket(self, name: str) -> str:
        def make() -> str:
            _make_bucket(self.aws, name)
            self.out.buckets.append(name)
            return name

        return self.once(f"bucket:{name}", make)

    def editor(self, variable: str) -> str:
        def make() -> str:
            editor = _editor_id()
            self.aws.register_editor(editor)
            return editor

        return self.once(f"editor:{variable}", make)

    def stack(self, template: str) -> dict[str, str]:
        def make() -> str:
            data_bucket = self.params.get("data_bucket")
            bucket = data_bucket if isinstance(data_bucket, str) and _BUCKET_NAME.match(data_bucket) else DATA_BUCKET
            outputs, skipped = deploy_template(
                self.aws, TEMPLATES / template, {"DataBucketName": bucket}, Path(template).stem
            )
            self.out.stacks[template] = outputs
            self.out.skipped.extend(skipped)
            return json.dumps(outputs)

        return dict(json.loads(self.once(f"stack:{template}", make)))

    def pass_state_machine(self, variable: str) -> str:
        def make() -> str:
            definition = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
            return str(
                self.aws.client("stepfunctions").create_state_machine(
                    name=f"dagen-local-{variable}".replace("_", "-")[:80],
                    definition=json.dumps(definition),
                    roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/dagen-local",
                )["stateMachineArn"]
            )

        return self.once(f"sm:{variable}", make)


def _variable_value(name: str, provider: _Provider) -> tuple[str, str]:
    """(value, what it is) for one Variable the pipeline reads."""
    if name == "movielens_state_machine_arn" and (TEMPLATES / "movielens.yaml").is_file():
        outputs = provider.stack("movielens.yaml")
        return outputs["StateMachineArn"], "state machine of cloudformation/movielens.yaml"
    if name.endswith("state_machine_arn"):
        return provider.pass_state_machine(name), "a one-Pass-state state machine (no template defines it)"
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


def create_local_resources(aws: LocalAws, config: dict[str, Any], params: dict[str, Any]) -> LocalResources:
    """Create what the pipeline refers to on ``aws``; return the Variables that point at it."""
    out = LocalResources()
    provider = _Provider(aws, params, out)
    for name in variables_read(config):
        value, note = _variable_value(name, provider)
        out.variables[name] = value
        out.notes[name] = note
    for editor in _literal_editors(config, params):
        aws.register_editor(editor)
    named = buckets_named(config, params) + buckets_named({}, dict(out.variables))
    for bucket in named:
        provider.bucket(bucket)
    for stack in out.stacks.values():
        stack_bucket = stack.get("DataBucketName")
        if stack_bucket and stack_bucket not in out.buckets:
            out.buckets.append(stack_bucket)
    out.buckets.sort()
    return out
