"""Helpers for the CloudFormation tests (tools venv only; see conftest.py).

Templates are parsed with cfn-lint's own YAML loader (which understands the
short intrinsic-function tags) and can be *rendered*: intrinsic functions are
resolved for one set of parameter values, so that the tests can look at the
concrete IAM policies and state machine definition a deployment would get.
Nothing here is imported by other test folders.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
CFN_DIR = REPO_ROOT / "cloudformation"
TEMPLATE_NAMES = sorted(p.name for p in CFN_DIR.glob("*.yaml"))

ACCOUNT_ID = "123456789012"
REGION = "eu-west-1"
PSEUDO = {
    "AWS::AccountId": ACCOUNT_ID,
    "AWS::Region": REGION,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "test-stack",
    "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/test-stack/id",
}

# Values for parameters that have no default, per template.
REQUIRED_PARAMS: dict[str, dict[str, Any]] = {
    "emr-roles.yaml": {"DataBucketName": "dagen-data-test"},
    "movielens.yaml": {"DataBucketName": "dagen-data-test"},
    "mwaa-execution-role.yaml": {
        "DagsBucketName": "airflow-dagen-test",
        "StateMachineArn": f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:mwaa-movielens-curation",
    },
    "mwaa-environment.yaml": {
        "DagsBucketName": "airflow-dagen-test",
        "ExecutionRoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/test-stack-ExecutionRole-ABC",
    },
}


class _NoValue:
    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return "AWS::NoValue"


NO_VALUE = _NoValue()


def load_template(name: str) -> dict[str, Any]:
    """Parse a template with cfn-lint's loader (short tags become Fn:: maps)."""
    return cfn_yaml.load(str(CFN_DIR / name))


def template_text(name: str) -> str:
    return (CFN_DIR / name).read_text()


class Renderer:
    """Resolve intrinsic functions of one template for given parameter values."""

    def __init__(self, template: dict[str, Any], params: dict[str, Any]):
        self.template = template
        self.params: dict[str, Any] = {}
        for name, spec in template.get("Parameters", {}).items():
            if name in params:
                value = params[name]
            elif "Default" in spec:
                value = spec["Default"]
            else:
                raise KeyError(f"parameter {name} has no default and no value")
            if spec["Type"] == "CommaDelimitedList" and isinstance(value, str):
                value = value.split(",")
            self.params[name] = value
        unknown = set(params) - set(self.params)
        if unknown:
            raise KeyError(f"unknown parameters {sorted(unknown)}")
        self.conditions: dict[str, bool] = {}
        for name in template.get("Conditions", {}):
            self.condition(name)

    # -- conditions -----------------------------------------------------
    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            self.conditions[name] = bool(self._cond(self.template["Conditions"][name]))
        return self.conditions[name]

    def _cond(self, node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            (key, value), = node.items()
            if key == "Condition":
                return self.condition(value)
            if key == "Fn::Equals":
                left, right = (self.value(v) for v in value)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self._cond(value[0])
            if key == "Fn::And":
                return all(self._cond(v) for v in value)
            if key == "Fn::Or":
                return any(self._cond(v) for v in value)
        return self.value(node)

    # -- references -----------------------------------------------------
    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in PSEUDO:
            return PSEUDO[name]
        if name in self.params:
            return self.params[name]
        resource = self.template["Resources"][name]
        rtype, props = resource["Type"], resource.get("Properties", {})
        physical = {
            "AWS::S3::Bucket": "BucketName",
            "AWS::IAM::Role": "RoleName",
            "AWS::IAM::InstanceProfile": "InstanceProfileName",
            "AWS::Glue::Job": "Name",
            "AWS::Glue::Crawler": "Name",
            "AWS::MWAA::Environment": "Name",
            "AWS::StepFunctions::StateMachine": "StateMachineName",
        }.get(rtype)
        if physical and physical in props:
            value = self.value(props[physical])
            if rtype == "AWS::StepFunctions::StateMachine":
                return f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{value}"
            return value
        if rtype == "AWS::Glue::Database":
            return self.value(props["DatabaseInput"]["Name"])
        if rtype == "AWS::IAM::ManagedPolicy":
            return f"arn:aws:iam::{ACCOUNT_ID}:policy/{name}-GENERATED"
        return f"{name}-GENERATED"

    def get_att(self, name: str, attribute: str) -> Any:
        rtype = self.template["Resources"][name]["Type"]
        if rtype == "AWS::S3::Bucket" and attribute == "Arn":
            return f"arn:aws:s3:::{self.ref(name)}"
        if rtype == "AWS::IAM::Role" and attribute == "Arn":
            return f"arn:aws:iam::{ACCOUNT_ID}:role/{self.ref(name)}"
        if rtype == "AWS::IAM::InstanceProfile" and attribute == "Arn":
            return f"arn:aws:iam::{ACCOUNT_ID}:instance-profile/{self.ref(name)}"
        return f"{name}.{attribute}-GENERATED"

    def _sub(self, text: str, variables: dict[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            token = match.group(1)
            if token.startswith("!"):
                return "${" + token[1:] + "}"
            if token in variables:
                return str(variables[token])
            if "." in token and token.split(".", 1)[0] in self.template["Resources"]:
                return str(self.get_att(*token.split(".", 1)))
            return str(self.ref(token))

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    # -- values ---------------------------------------------------------
    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            items = [self.value(v) for v in node]
            return [v for v in items if v is not NO_VALUE]
        if isinstance(node, dict):
            if len(node) == 1:
                (key, arg), = node.items()
                if key == "Ref":
                    return self.ref(arg)
                if key == "Fn::GetAtt":
                    name, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                    return self.get_att(name, attribute)
                if key == "Fn::Sub":
                    if isinstance(arg, list):
                        text, variables = arg
                        variables = {k: self.value(v) for k, v in variables.items()}
                    else:
                        text, variables = arg, {}
                    return self._sub(text, variables)
                if key == "Fn::Join":
                    delimiter, items = arg
                    return str(delimiter).join(str(v) for v in self.value(items))
                if key == "Fn::Split":
                    delimiter, source = arg
                    return str(self.value(source)).split(delimiter)
                if key == "Fn::Select":
                    index, items = arg
                    return self.value(items)[int(self.value(index))]
                if key == "Fn::If":
                    condition, when_true, when_false = arg
                    return self.value(when_true if self.condition(condition) else when_false)
                if key == "Fn::GetAZs":
                    return [f"{REGION}a", f"{REGION}b", f"{REGION}c"]
                if key in ("Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Condition"):
                    return self._cond(node)
            rendered = {k: self.value(v) for k, v in node.items()}
            return {k: v for k, v in rendered.items() if v is not NO_VALUE}
        return node

    def resources(self) -> dict[str, dict[str, Any]]:
        out = {}
        for name, resource in self.template["Resources"].items():
            if "Condition" in resource and not self.condition(resource["Condition"]):
                continue
            rendered = copy.copy(resource)
            rendered["Properties"] = self.value(resource.get("Properties", {}))
            out[name] = rendered
        return out


def render(name: str, **params: Any) -> Renderer:
    values = dict(REQUIRED_PARAMS.get(name, {}))
    values.update(params)
    return Renderer(load_template(name), values)


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def identity_policies(resources: dict[str, dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(label, policy document) of every identity policy of rendered resources."""
    found = []
    for name, resource in resources.items():
        props = resource["Properties"]
        if resource["Type"] == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                found.append((f"{name}/{policy['PolicyName']}", policy["PolicyDocument"]))
        elif resource["Type"] in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
            found.append((name, props["PolicyDocument"]))
    return found
