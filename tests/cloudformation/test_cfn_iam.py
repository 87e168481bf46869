"""Least privilege of every IAM policy in the templates.

Policies are checked after rendering (intrinsic functions resolved) for
several parameter sets per template, so that conditional statements are
covered both ways. Action names and their resource types come from cfn-lint's
copy of the AWS Service Authorization Reference (Policies.json).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml
from cfnlint.data import AdditionalSpecs
from cfnlint.helpers import load_resource

from cfn_support import (
    ACCOUNT_ID,
    REGION,
    REPO_ROOT,
    TEMPLATE_NAMES,
    as_list,
    identity_policies,
    render,
    template_text,
)

SERVICE_MAP = load_resource(AdditionalSpecs, "Policies.json")

# Parameter sets: defaults, and every optional branch switched on.
VARIANTS = [
    pytest.param("emr-roles.yaml", {}, id="emr-roles-defaults"),
    pytest.param(
        "emr-roles.yaml",
        {"LogBucketName": "dagen-logs-test", "SourceDataBucketName": "public.data.example", "RoleNameSuffix": "-dev"},
        id="emr-roles-all-options",
    ),
    pytest.param("movielens.yaml", {}, id="movielens-defaults"),
    pytest.param(
        "movielens.yaml",
        {"ScriptsS3Prefix": "s3://dagen-scripts-test/jobs", "EnableDataBucketVersioning": "true"},
        id="movielens-all-options",
    ),
    pytest.param("mwaa-execution-role.yaml", {}, id="execution-role-defaults"),
    pytest.param("mwaa-execution-role.yaml", {"EnableSecretsBackend": "true"}, id="execution-role-all-options"),
    # Generated from the pipeline specs: only invariants are checked, never its exact statements.
    pytest.param("pipelines-policy.yaml", {}, id="pipelines-policy"),
    pytest.param("mwaa-environment.yaml", {}, id="environment-defaults"),
]

# Partial wildcards: only the AWS sample MWAA execution policy's own, on the DAGs bucket / SQS keys.
ALLOWED_WILDCARD_ACTIONS = {
    "ExecutionRole/mwaa-environment": {"s3:GetObject*", "s3:GetBucket*", "s3:List*", "kms:GenerateDataKey*"},
}
# Actions that may use Resource "*": those without a resource type, plus
# PutMetricData, which the AWS samples grant on "*" (scoped by namespace where the caller allows).
STAR_RESOURCE_EXTRA = {"cloudwatch:PutMetricData"}
# Statements whose ARNs may wildcard the account: MWAA's Celery queues live in
# an AWS service account; the KMS statement is a NotResource on this account's keys.
CROSS_ACCOUNT_SIDS = {"CeleryQueues"}

PASSED_TO = {
    "elasticmapreduce": "elasticmapreduce.amazonaws.com",
    "ec2": "ec2.amazonaws.com",
}


def statements(name: str, params: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    resources = render(name, **params).resources()
    return [
        (label, statement)
        for label, document in identity_policies(resources)
        for statement in as_list(document["Statement"])
    ]


def allow_statements(name, params):
    return [(label, s) for label, s in statements(name, params) if s["Effect"] == "Allow"]


def action_spec(action: str) -> dict[str, Any] | None:
    service, _, permission = action.partition(":")
    return SERVICE_MAP.get(service.lower(), {}).get("Actions", {}).get(permission.lower())


def arn_formats(action: str) -> list[str]:
    service = action.split(":", 1)[0].lower()
    spec = action_spec(action) or {}
    formats = []
    for resource_type in spec.get("Resources", []):
        for fmt in SERVICE_MAP[service]["Resources"].get(resource_type, {}).get("ARNFormats", []):
            formats.append(
                re.escape(fmt)
                .replace(re.escape("${Partition}"), "aws")
                .replace(re.escape("${Region}"), REGION)
                .replace(re.escape("${Account}"), ACCOUNT_ID)
                .replace(re.escape(".*"), ".*")
            )
    return formats


# --------------------------------------------------------------- actions
@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_no_template_names_a_service_wide_action(name):
    text = template_text(name)
    for service in ("elasticmapreduce", "states", "glue", "iam", "airflow", "sqs", "kms", "ssm", "logs"):
        # (an ARN such as arn:aws:kms:*:... has the service after a colon)
        assert not re.search(rf"(?<![:\w-]){service}:\*", text), f"{name}: {service}:*"
    assert not re.search(r"^\s*(-\s*)?Action:\s*['\"]?\*['\"]?\s*$", text, re.M), f"{name}: Action *"
    assert not re.search(r"^\s*-\s*['\"]\*['\"]\s*$", text, re.M), f"{name}: * in an action list"


@pytest.mark.parametrize(("name", "params"), VARIANTS)
def test_allow_statements_name_actions_exactly(name, params):
    for label, statement in allow_statements(name, params):
        assert "NotAction" not in statement, label
        for action in as_list(statement["Action"]):
            assert re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9]+\*?", action), f"{label}: {action}"
            if action.endswith("*"):
                assert action in ALLOWED_WILDCARD_ACTIONS.get(label, set()), f"{label}: wildcard {action}"
            else:
                assert action_spec(action) is not None, f"{label}: unknown action {action}"


@pytest.mark.parametrize(("name", "params"), VARIANTS)
def test_resource_star_only_where_the_action_has_no_resource_type(name, params):
    for label, statement in allow_statements(name, params):
        if "*" not in as_list(statement.get("Resource")):
            continue
        assert as_list(statement["Resource"]) == ["*"], label
        for action in as_list(statement["Action"]):
            spec = action_spec(action)
            assert spec is not None and (not spec.get("Resources") or action in STAR_RESOURCE_EXTRA), (
                f"{label}: {action} supports resource-level permissions but is granted on *"
            )


@pytest.mark.parametrize(("name", "params"), VARIANTS)
def test_resources_match_the_actions_resource_types(name, params):
    for label, statement in allow_statements(name, params):
        arns = [a for a in as_list(statement.get("Resource")) if a != "*"]
        cross_account = statement.get("Sid") in CROSS_ACCOUNT_SIDS
        for arn in arns:
            parts = arn.split(":", 5)
            assert len(parts) == 6 and parts[1] == "aws", f"{label}: {arn}"
            assert parts[3] in ("", REGION), f"{label}: {arn} region"
            assert parts[4] in ("", ACCOUNT_ID) or (cross_account and parts[4] == "*"), f"{label}: {arn} account"
            assert parts[5] not in ("*", ""), f"{label}: {arn} names no resource"
        for action in as_list(statement["Action"]):
            if action.endswith("*"):
                continue
            formats = arn_formats(action)
            for arn in arns:
                concrete = arn.replace(":*:", f":{ACCOUNT_ID}:", 1) if cross_account else arn
                assert any(re.fullmatch(f, concrete) for f in formats), f"{label}: {action} cannot apply to {arn}"
                if action.startswith("s3:"):
                    bucket_level = "bucket" in action_spec(action)["Resources"]
                    assert ("/" not in arn) == bucket_level, f"{label}: {action} on {arn}"


# -------------------------------------------------------------- PassRole
# Roles each hand-written template may pass, and to which service. The
# generated pipelines-policy.yaml passes whatever roles the specs name; it is
# held to the invariants only (below and in test_pipelines_policy_passes_*).
EXPECTED_PASSROLE = {
    "emr-roles-defaults": {"EMR_EC2_DefaultRole": "ec2"},
    "emr-roles-all-options": {"EMR_EC2_DefaultRole-dev": "ec2"},
}
GENERATED_VARIANTS = {"pipelines-policy"}


@pytest.mark.parametrize(("name", "params"), VARIANTS)
def test_passrole_only_on_emr_roles_to_their_service(request, name, params):
    variant = request.node.callspec.id
    passed = {}
    for label, statement in allow_statements(name, params):
        actions = as_list(statement["Action"])
        if "iam:PassRole" not in actions:
            continue
        assert actions == ["iam:PassRole"], f"{label}: PassRole must stand alone"
        condition = statement.get("Condition")
        assert condition is not None and list(condition) == ["StringEquals"], label
        assert list(condition["StringEquals"]) == ["iam:PassedToService"], label
        service = condition["StringEquals"]["iam:PassedToService"]
        for arn in as_list(statement["Resource"]):
            match = re.fullmatch(rf"arn:aws:iam::{ACCOUNT_ID}:role/([A-Za-z0-9+=,.@_-]+)", arn)
            assert match, f"{label}: PassRole on {arn}"
            passed[match.group(1)] = service
    if variant in GENERATED_VARIANTS:
        assert set(passed.values()) <= set(PASSED_TO.values()), passed
    else:
        expected = EXPECTED_PASSROLE.get(variant, {})
        assert passed == {role: PASSED_TO[s] for role, s in expected.items()}


# ------------------------------------------- the generated pipelines policy
# cloudformation/pipelines-policy.yaml is written by
# `dagen iam pipelines/ --format cloudformation` and changes with the specs
# (tests/test_iam.py keeps it in sync). These tests check its shape and its
# least-privilege invariants, never its exact statements.
PIPELINES_POLICY = "pipelines-policy.yaml"
TAG_KEY = "dagen:dag-id"
RUN_JOB_FLOW = "elasticmapreduce:RunJobFlow"
# Services the pipelines' operators call, and the only IAM action they need.
PIPELINE_SERVICES = {"elasticmapreduce", "states", "glue"}
# EMR resources that carry no dagen:dag-id tag: Studio editors (named in the
# specs) and notebook executions (ids made by EMR at run time).
UNTAGGED_EMR_RESOURCES = re.compile(
    rf"arn:aws:elasticmapreduce:{REGION}:{ACCOUNT_ID}:(editor|notebook-execution)/[^:]+"
)
EMR_CLUSTERS = f"arn:aws:elasticmapreduce:{REGION}:{ACCOUNT_ID}:cluster/*"
DAG_ID = re.compile(r"[A-Za-z0-9_.-]+")  # Airflow DAG id characters; no IAM wildcard


@pytest.fixture(scope="module")
def pipelines_policy():
    resources = render(PIPELINES_POLICY).resources()
    assert list(resources) == ["PipelinesPolicy"]
    return resources["PipelinesPolicy"]


@pytest.fixture(scope="module")
def pipelines_statements(pipelines_policy):
    document = pipelines_policy["Properties"]["PolicyDocument"]
    assert document["Version"] == "2012-10-17"
    found = as_list(document["Statement"])
    assert found, "the generated policy grants nothing"
    return found


def _tag_values(statement, operator_key):
    """The dag ids of a StringEquals condition on one tag key (and nothing else)."""
    condition = statement.get("Condition")
    assert condition is not None and list(condition) == ["StringEquals"], statement["Sid"]
    assert list(condition["StringEquals"]) == [operator_key], statement["Sid"]
    values = as_list(condition["StringEquals"][operator_key])
    assert values, statement["Sid"]
    for value in values:
        assert DAG_ID.fullmatch(value), f"{statement['Sid']}: {value!r} is not a DAG id"
    return set(values)


def test_pipelines_policy_is_a_managed_policy_on_the_given_role(pipelines_policy):
    template = render(PIPELINES_POLICY).template
    assert set(template["Parameters"]) == {"ExecutionRoleName"}
    assert pipelines_policy["Type"] == "AWS::IAM::ManagedPolicy"
    props = pipelines_policy["Properties"]
    assert props["Roles"] == ["test-stack-ExecutionRole-ABC"]
    assert not {"Users", "Groups", "ManagedPolicyName"} & set(props)


@pytest.mark.parametrize(
    ("role", "valid"),
    [
        ("test-stack-ExecutionRole-ABC", True),
        # what CloudFormation names the role of the suggested execution-role stack
        ("dagen-mwaa-execution-role-ExecutionRole-" + "Ab1" * 7 + "C", True),
        ("EMR_EC2_DefaultRole", True),
        ("a" * 64, True),
        ("a" * 65, False),
        ("", False),
        ("role/name", False),
        (f"arn:aws:iam::{ACCOUNT_ID}:role/name", False),
    ],
)
def test_pipelines_policy_takes_a_role_name(role, valid):
    pattern = render(PIPELINES_POLICY).template["Parameters"]["ExecutionRoleName"]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, role)) is valid


def test_execution_role_stack_outputs_the_role_name_the_policy_stack_takes():
    template = render("mwaa-execution-role.yaml").template
    assert template["Outputs"]["ExecutionRoleName"]["Value"] == {"Ref": "ExecutionRole"}
    assert not any(r["Type"] == "AWS::IAM::ManagedPolicy" for r in template["Resources"].values())


def test_pipelines_policy_statements_are_allow_with_unique_sids(pipelines_statements):
    sids = [s.get("Sid") for s in pipelines_statements]
    assert all(sids) and len(set(sids)) == len(sids), sids
    for statement in pipelines_statements:
        assert statement["Effect"] == "Allow", statement["Sid"]
        assert not {"NotAction", "NotResource", "Principal", "NotPrincipal"} & set(statement), statement["Sid"]


def test_pipelines_policy_names_only_pipeline_actions(pipelines_statements):
    for statement in pipelines_statements:
        for action in as_list(statement["Action"]):
            assert "*" not in action and "?" not in action, f"{statement['Sid']}: wildcard action {action}"
            service = action.split(":", 1)[0]
            assert service in PIPELINE_SERVICES or action == "iam:PassRole", f"{statement['Sid']}: {action}"


def test_pipelines_policy_passes_roles_only_by_name_to_their_service(pipelines_statements):
    for statement in pipelines_statements:
        actions = as_list(statement["Action"])
        if "iam:PassRole" not in actions:
            continue
        assert actions == ["iam:PassRole"], f"{statement['Sid']}: PassRole must stand alone"
        condition = statement.get("Condition") or {}
        assert list(condition) == ["StringEquals"], f"{statement['Sid']}: PassRole without iam:PassedToService"
        assert list(condition["StringEquals"]) == ["iam:PassedToService"], statement["Sid"]
        assert condition["StringEquals"]["iam:PassedToService"] in set(PASSED_TO.values()), statement["Sid"]
        for arn in as_list(statement["Resource"]):
            # a role named in a spec; a templated role name would widen to every role
            assert re.fullmatch(rf"arn:aws:iam::{ACCOUNT_ID}:role/[A-Za-z0-9+=,.@_-]+", arn), (
                f"{statement['Sid']}: PassRole on {arn}"
            )


def _pipeline_dag_ids() -> set[str]:
    """DAG ids of the specs in pipelines/ (a spec's dag_id, else its file name)."""
    ids = set()
    for path in (REPO_ROOT / "pipelines").glob("*.yaml"):
        data = yaml.safe_load(path.read_text()) or {}
        ids.add(data.get("dag_id", path.stem) if isinstance(data, dict) else path.stem)
    return ids


def test_pipelines_policy_creates_only_tagged_clusters(pipelines_statements):
    dag_ids = _pipeline_dag_ids()
    for statement in (s for s in pipelines_statements if RUN_JOB_FLOW in as_list(s["Action"])):
        # RunJobFlow has no resource type: the request tag is all that limits it.
        assert as_list(statement["Action"]) == [RUN_JOB_FLOW], statement["Sid"]
        assert statement["Resource"] == "*", statement["Sid"]
        tagged = _tag_values(statement, f"elasticmapreduce:RequestTag/{TAG_KEY}")
        assert tagged <= dag_ids, f"{statement['Sid']}: not pipelines of pipelines/: {sorted(tagged - dag_ids)}"


# EMR authorises these on no resource and no tag (the service authorization reference): they are granted on "*",
# alone; they list summaries only (a retried create and a teardown find their run's clusters, a retried notebook
# task its executions, then describe them under the tag condition).
EMR_LIST_ACTIONS = {"elasticmapreduce:ListClusters", "elasticmapreduce:ListNotebookExecutions"}


def _emr_list_only(statement) -> bool:
    actions = set(as_list(statement["Action"]))
    if actions and actions <= EMR_LIST_ACTIONS:
        assert as_list(statement["Resource"]) == ["*"] and "Condition" not in statement, statement["Sid"]
        return True
    return False


def test_pipelines_policy_touches_only_the_pipelines_own_clusters(pipelines_statements):
    created: set[str] = set()
    for statement in pipelines_statements:
        if RUN_JOB_FLOW in as_list(statement["Action"]):
            created |= _tag_values(statement, f"elasticmapreduce:RequestTag/{TAG_KEY}")
    checked = 0
    for statement in pipelines_statements:
        actions = as_list(statement["Action"])
        if not any(a.startswith("elasticmapreduce:") for a in actions) or RUN_JOB_FLOW in actions:
            continue
        if _emr_list_only(statement):
            continue
        resources = as_list(statement["Resource"])
        if all(UNTAGGED_EMR_RESOURCES.fullmatch(arn) for arn in resources):
            continue  # editors and notebook executions
        assert resources == [EMR_CLUSTERS], f"{statement['Sid']}: {resources}"
        tagged = _tag_values(statement, f"elasticmapreduce:ResourceTag/{TAG_KEY}")
        # only clusters the pipelines themselves may create, with their own tag
        assert tagged <= created, f"{statement['Sid']}: {sorted(tagged - created)}"
        checked += 1
    assert checked or not created


def test_pipelines_policy_untagged_emr_permissions_do_not_reach_clusters(pipelines_statements):
    for statement in pipelines_statements:
        resources = as_list(statement["Resource"])
        if "Condition" in statement or not any(a.startswith("elasticmapreduce:") for a in as_list(statement["Action"])):
            continue
        if _emr_list_only(statement):
            continue
        for arn in resources:
            assert UNTAGGED_EMR_RESOURCES.fullmatch(arn), f"{statement['Sid']}: {arn} without the {TAG_KEY} tag"


# ---------------------------------------------------- the MWAA base policy
def test_execution_role_has_the_mwaa_requirements():
    resources = render("mwaa-execution-role.yaml", EnvironmentName="env1").resources()
    (policy,) = resources["ExecutionRole"]["Properties"]["Policies"]
    by_sid = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    dags = ["arn:aws:s3:::airflow-dagen-test", "arn:aws:s3:::airflow-dagen-test/*"]
    assert by_sid["PublishEnvironmentMetrics"]["Resource"] == f"arn:aws:airflow:{REGION}:{ACCOUNT_ID}:environment/env1"
    assert by_sid["DenyListAllMyBuckets"] == {
        "Sid": "DenyListAllMyBuckets",
        "Effect": "Deny",
        "Action": "s3:ListAllMyBuckets",
        "Resource": dags,
    }
    assert by_sid["ReadDagsBucket"]["Resource"] == dags
    assert by_sid["WriteEnvironmentLogs"]["Resource"] == (
        f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:airflow-env1-*"
    )
    assert set(by_sid["WriteEnvironmentLogs"]["Action"]) == {
        "logs:CreateLogStream",
        "logs:CreateLogGroup",
        "logs:PutLogEvents",
        "logs:GetLogEvents",
        "logs:GetLogRecord",
        "logs:GetLogGroupFields",
        "logs:GetQueryResults",
    }
    assert by_sid["CeleryQueues"]["Resource"] == f"arn:aws:sqs:{REGION}:*:airflow-celery-*"
    kms = by_sid["CeleryQueueEncryption"]
    assert kms["NotResource"] == f"arn:aws:kms:*:{ACCOUNT_ID}:key/*"
    assert kms["Condition"] == {"StringLike": {"kms:ViaService": [f"sqs.{REGION}.amazonaws.com"]}}
    assert "ReadAirflowSecrets" not in by_sid


def test_secrets_backend_reads_only_the_airflow_prefixes():
    resources = render("mwaa-execution-role.yaml", EnableSecretsBackend="true").resources()
    (policy,) = resources["ExecutionRole"]["Properties"]["Policies"]
    by_sid = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    assert by_sid["ReadAirflowSecrets"]["Action"] == "ssm:GetParameter"
    assert by_sid["ReadAirflowSecrets"]["Resource"] == [
        f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter/airflow/connections/*",
        f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter/airflow/variables/*",
    ]


# ---------------------------------------------------------- trust policies
EXPECTED_TRUST = [
    ("emr-roles.yaml", "EmrServiceRole", ["elasticmapreduce.amazonaws.com"], True),
    ("emr-roles.yaml", "EmrInstanceRole", ["ec2.amazonaws.com"], False),
    ("emr-roles.yaml", "EmrNotebooksRole", ["elasticmapreduce.amazonaws.com"], True),
    # Glue does not document the confused-deputy keys for the roles it assumes.
    ("movielens.yaml", "GlueJobRole", ["glue.amazonaws.com"], False),
    ("movielens.yaml", "CrawlerRole", ["glue.amazonaws.com"], False),
    ("movielens.yaml", "StateMachineRole", ["states.amazonaws.com"], True),
    ("mwaa-execution-role.yaml", "ExecutionRole", ["airflow.amazonaws.com", "airflow-env.amazonaws.com"], True),
]


def test_every_role_has_an_expected_trust_case():
    roles = {
        (name, logical)
        for name in TEMPLATE_NAMES
        for logical, r in render(name).template["Resources"].items()
        if r["Type"] == "AWS::IAM::Role"
    }
    assert roles == {(name, logical) for name, logical, _, _ in EXPECTED_TRUST}


@pytest.mark.parametrize(("name", "logical", "services", "source_account"), EXPECTED_TRUST)
def test_roles_trust_only_their_service(name, logical, services, source_account):
    role = render(name).resources()[logical]["Properties"]
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow" and statement["Action"] == "sts:AssumeRole"
    assert as_list(statement["Principal"]["Service"]) == services
    if source_account:
        assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == ACCOUNT_ID


ALLOWED_MANAGED_POLICIES = {
    "arn:aws:iam::aws:policy/service-role/AmazonEMRServicePolicy_v2",
    "arn:aws:iam::aws:policy/service-role/AmazonElasticMapReduceEditorsRole",
}


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_only_scoped_aws_managed_policies_are_attached(name):
    for logical, resource in render(name).resources().items():
        for arn in resource["Properties"].get("ManagedPolicyArns", []):
            assert arn in ALLOWED_MANAGED_POLICIES, f"{logical}: {arn}"


# ------------------------------------------------------------ bucket policies
@pytest.mark.parametrize(
    ("name", "logical", "bucket"),
    [
        ("mwaa-environment.yaml", "DagsBucketPolicy", "airflow-dagen-test"),
        ("movielens.yaml", "DataBucketPolicy", "dagen-data-test"),
    ],
)
def test_bucket_policies_only_deny_plain_http(name, logical, bucket):
    policy = render(name).resources()[logical]["Properties"]["PolicyDocument"]
    assert policy["Statement"] == [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ]


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_s3_star_appears_only_in_tls_deny_statements(name):
    rendered = render(name).resources()
    for logical, resource in rendered.items():
        text = json.dumps(resource)
        if '"s3:*"' in text:
            assert resource["Type"] == "AWS::S3::BucketPolicy", logical
