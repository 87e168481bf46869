"""The AWS resources a pipeline refers to, created on the local emulator for ``dagen run --local``.

What a pipeline needs besides its own clusters is found in its compiled
configuration: the Airflow Variables its templates read (``{{ var.value.X }}``),
the S3 buckets its params and literals name, the SNS topics its literal ARNs
name, and the resources its tasks name literally or by one param (an EMR
Serverless application, an EMR on EKS virtual cluster, a Lambda function, an
Athena workgroup, a long-running EMR cluster).  For each Variable the emulator
gets a real local resource and the Variable gets its id (see
:func:`_variable_value`, by the Variable's name); each bucket is created.
Objects an ``s3_wait`` task waits for are put when the task starts, at the key
Airflow rendered for it (:func:`provide_sensor_objects`).

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

import fnmatch
import io
import json
import re
import secrets
import string
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import yaml
from jinja2 import nodes

from generator.local.emulator import ACCOUNT_ID, LocalAws
from generator.task_types import (
    athena_query,
    emr_eks_job,
    emr_notebook,
    emr_serverless_job,
    emr_step,
    glue_crawler,
    glue_job,
    lambda_invoke,
)

TEMPLATES = Path(__file__).resolve().parents[2] / "cloudformation"
DATA_BUCKET = "dagen-local-data"
LOGS_BUCKET = "dagen-local-logs"
ATHENA_BUCKET = "dagen-local-athena-results"
EMR_SERVERLESS_RELEASE = "emr-7.5.0"
_SNS_ARN = re.compile(r"arn:aws:sns:([a-z]{2}(?:-[a-z]+)+-[0-9]):([0-9]{12}):([A-Za-z0-9_-]{1,256})(?![A-Za-z0-9_-])")
_LAMBDA_ARN = re.compile(
    r"^(?:arn:aws[a-z-]*:lambda:[a-z0-9-]+:)?(?:[0-9]{12}:)?(?:function:)?([A-Za-z0-9_-]+)(?::(.+))?$"
)
_WHOLE_PARAM = re.compile(r"\{\{\s*params\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
# A function that returns its event: what moto's Docker-free Lambda answers anyway, so the code is honest.
_ECHO_HANDLER = "def handler(event, context):\n    return event\n"
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

    def topic(self, name: str, region: str | None = None) -> str:
        def make() -> str:
            return str(self.aws.client("sns", region).create_topic(Name=name)["TopicArn"])

        return self.once(f"topic:{region}:{name}", make)

    def role(self, name: str, service: str) -> str:
        def make() -> str:
            trust = {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
            }
            iam = self.aws.client("iam")
            try:
                role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
            except iam.exceptions.EntityAlreadyExistsException:
                role = iam.get_role(RoleName=name)["Role"]
            return str(role["Arn"])

        return self.once(f"role:{name}", make)

    def function(self, name: str, qualifier: str | None = None) -> str:
        """A Lambda function (its ARN), with the version or alias ``qualifier`` when one is named."""

        def make() -> str:
            code = io.BytesIO()
            with zipfile.ZipFile(code, "w") as archive:
                archive.writestr("index.py", _ECHO_HANDLER)
            client = self.aws.client("lambda")
            try:
                arn = client.create_function(
                    FunctionName=name,
                    Runtime="python3.12",
                    Role=self.role("dagen-local-lambda", "lambda.amazonaws.com"),
                    Handler="index.handler",
                    Code={"ZipFile": code.getvalue()},
                    Description="made by dagen run --local; answers with its event",
                )["FunctionArn"]
            except client.exceptions.ResourceConflictException:
                arn = client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
            return str(arn)

        arn = self.once(f"function:{name}", make)
        if qualifier and qualifier != "$LATEST":
            self.once(f"qualifier:{name}:{qualifier}", lambda: self._qualifier(name, qualifier))
        return arn

    def _qualifier(self, name: str, qualifier: str) -> str:
        client = self.aws.client("lambda")
        version = "1"
        wanted = int(qualifier) if qualifier.isdigit() else 1
        for number in range(1, wanted + 1):
            # Lambda (and moto) publish a new version only when something changed.
            client.update_function_configuration(FunctionName=name, Description=f"dagen-local version {number}")
            version = str(client.publish_version(FunctionName=name)["Version"])
        if not qualifier.isdigit():
            client.create_alias(FunctionName=name, Name=qualifier, FunctionVersion=version)
        return version

    def application(self, key: str, wanted_id: str | None = None) -> str:
        """A stopped EMR Serverless Spark application (as an idle one is): the operator starts it."""

        def make() -> str:
            client = self.aws.client("emr-serverless")
            name = f"dagen-local-{key}"[:64]
            app_id = str(
                client.create_application(name=name, releaseLabel=EMR_SERVERLESS_RELEASE, type="SPARK")["applicationId"]
            )
            client.stop_application(applicationId=app_id)
            if wanted_id:
                self.aws.rename("application", app_id, wanted_id)
                return wanted_id
            return app_id

        return self.once(f"application:{wanted_id or key}", make)

    def virtual_cluster(self, key: str, wanted_id: str | None = None) -> str:
        def make() -> str:
            namespace = re.sub(r"[^a-z0-9-]", "-", f"dagen-local-{key}".lower())[:63]
            cluster_id = str(
                self.aws.client("emr-containers").create_virtual_cluster(
                    name=f"dagen-local-{key}"[:64],
                    containerProvider={
                        "id": "dagen-local-eks",
                        "type": "EKS",
                        "info": {"eksInfo": {"namespace": namespace}},
                    },
                )["id"]
            )
            if wanted_id:
                self.aws.rename("virtual_cluster", cluster_id, wanted_id)
                return wanted_id
            return cluster_id

        return self.once(f"virtual_cluster:{wanted_id or key}", make)

    def emr_cluster(self, key: str, wanted_id: str | None = None) -> str:
        """A long-running EMR cluster, WAITING for steps (what ``existing_cluster_id`` names)."""

        def make() -> str:
            cluster_id = str(
                self.aws.client("emr").run_job_flow(
                    Name=f"dagen-local-{key}",
                    ReleaseLabel="emr-7.5.0",
                    Applications=[{"Name": "Spark"}],
                    Instances={
                        "KeepJobFlowAliveWhenNoSteps": True,
                        "InstanceGroups": [{"InstanceRole": "MASTER", "InstanceType": "m5.xlarge", "InstanceCount": 1}],
                    },
                    JobFlowRole="EMR_EC2_DefaultRole",
                    ServiceRole="EMR_DefaultRole",
                )["JobFlowId"]
            )
            if wanted_id:
                self.aws.rename("cluster", cluster_id, wanted_id)
                return wanted_id
            return cluster_id

        return self.once(f"emr_cluster:{wanted_id or key}", make)

    def workgroup(self, name: str) -> str:
        """An Athena workgroup whose settings hold a result location (in a local bucket)."""

        def make() -> str:
            bucket = self.bucket(ATHENA_BUCKET)
            self.aws.client("athena").create_work_group(
                Name=name,
                Configuration={"ResultConfiguration": {"OutputLocation": f"s3://{bucket}/{name}/"}},
            )
            return name

        return self.once(f"workgroup:{name}", make)

    def glue_job(self, name: str) -> str:
        """A Glue job ``name`` unless one exists (a template may have made it); its script is not run."""

        def make() -> str:
            glue = self.aws.client("glue")
            if name not in glue.list_jobs().get("JobNames", []):
                glue.create_job(
                    Name=name,
                    Role=self.role("dagen-local-glue", "glue.amazonaws.com"),
                    Command={"Name": "glueetl", "ScriptLocation": f"s3://{self.bucket(DATA_BUCKET)}/glue/{name}.py"},
                    GlueVersion="4.0",
                )
            return name

        return self.once(f"glue-job:{name}", make)

    def glue_crawler(self, name: str) -> str:
        """A crawler ``name`` of a local folder unless one exists (a template may have made it)."""

        def make() -> str:
            glue = self.aws.client("glue")
            if name not in glue.list_crawlers().get("CrawlerNames", []):
                glue.create_crawler(
                    Name=name,
                    Role=self.role("dagen-local-glue", "glue.amazonaws.com"),
                    DatabaseName="dagen_local",
                    Targets={"S3Targets": [{"Path": f"s3://{self.bucket(DATA_BUCKET)}/crawled/{name}/"}]},
                )
            return name

        return self.once(f"glue-crawler:{name}", make)

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


def _named_resources(provider: _Provider, config: dict[str, Any], params: dict[str, Any]) -> Iterator[str]:
    """Create the resources tasks name literally or by one param; yield what each is (Variables are done)."""
    for task_id, task in (config.get("tasks") or {}).items():
        operator = task.get("operator")
        if operator in emr_serverless_job.OPERATORS:
            app = _fixed(task.get("application_id"), params)
            if app:
                yield f"EMR Serverless application {provider.application(task_id, app)} (for {task_id})"
        elif operator in emr_eks_job.OPERATORS or operator == emr_eks_job.BASE_OPERATOR:
            cluster = _fixed(task.get("virtual_cluster_id"), params)
            if cluster:
                yield f"EMR on EKS virtual cluster {provider.virtual_cluster(task_id, cluster)} (for {task_id})"
        elif operator in lambda_invoke.OPERATORS:
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
            if job:
                yield f"Glue job {provider.glue_job(job)} (for {task_id}; its script is not run)"
        elif operator in glue_crawler.OPERATORS:
            crawler = _fixed(task.get("crawler_name") or (task.get("config") or {}).get("Name"), params)
            if crawler:
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
    out.named.extend(dict.fromkeys(_named_resources(provider, config, params)))
    named = buckets_named(config, params) + buckets_named({}, dict(out.variables))
    for bucket in named:
        provider.bucket(bucket)
    for stack in out.stacks.values():
        stack_bucket = stack.get("DataBucketName")
        if stack_bucket and stack_bucket not in out.buckets:
            out.buckets.append(stack_bucket)
    out.buckets.sort()
    return out


# ----------------------------------------------------------------------------- objects sensors wait for


def key_matching(pattern: str) -> str:
    """A key that the shell-style ``pattern`` (``*``, ``?``, ``[...]``, as S3KeySensor matches) matches."""
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "*":
            out.append("dagen-local")
        elif char == "?":
            out.append("x")
        elif char == "[":
            end = pattern.find("]", index + 2)
            if end == -1:
                out.append(char)
            else:
                body = pattern[index + 1 : end]
                candidates = ("" if body.startswith("!") else body[0]) + string.ascii_lowercase + string.digits + "_-"
                out.append(next(c for c in candidates if fnmatch.fnmatchcase(c, f"[{body}]")))
                index = end
        else:
            out.append(char)
        index += 1
    key = "".join(out)
    if not fnmatch.fnmatch(key, pattern):
        raise ValueError(f"no key made for the pattern {pattern!r}")
    return key


def provide_sensor_objects(aws: LocalAws, task: Any, task_id: str) -> list[str]:
    """Put the object(s) an ``S3KeySensor`` waits for, at the keys Airflow rendered for this run; their URIs.

    Called as the task starts (after its templates are rendered), so ``{{ ds }}`` and params are the
    run's own.  A pattern gets one object that matches it.
    """
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor

    if not isinstance(task, S3KeySensor):
        return []
    keys = [task.bucket_key] if isinstance(task.bucket_key, str) else list(task.bucket_key)
    uris = []
    for key in keys:
        bucket, name = S3Hook.get_s3_bucket_key(task.bucket_name, key, "bucket_name", "bucket_key")
        if task.wildcard_match:
            name = key_matching(name)
        uris.append(aws.provide_object(bucket, name, for_task=task_id))
    return uris
