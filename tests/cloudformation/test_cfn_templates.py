"""What each template builds, read from the parsed and rendered templates."""

from __future__ import annotations

import re
from typing import Any

import pytest

from cfn_support import (
    REPO_ROOT,
    TEMPLATE_NAMES,
    load_template,
    render,
    template_text,
)


# ------------------------------------------------------------ all templates
# Written by `dagen iam pipelines/ --format cloudformation`; its text follows
# the generator (tests/test_iam.py keeps it current), so only its output
# descriptions are not required here.


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_template_is_documented(name):
    template = load_template(name)
    assert template["AWSTemplateFormatVersion"] == "2010-09-09"
    assert len(template["Description"]) > 40
    assert template["Parameters"], name
    for parameter, spec in template["Parameters"].items():
        assert len(spec.get("Description", "")) > 10, f"{name}: {parameter} has no description"
        if spec["Type"] == "String":
            assert {"AllowedPattern", "AllowedValues"} & set(spec), f"{name}: {parameter} is unconstrained"
    assert template["Outputs"], name
    for output, spec in template["Outputs"].items():
        assert spec.get("Description"), f"{name}: output {output} has no description"


REGION_NAME = re.compile(
    r"\b(us|eu|ap|sa|ca|me|af|il|mx|cn)-(gov-)?(east|west|north|south|central|northeast|southeast|northwest|southwest)-\d\b"
)


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_no_hard_coded_account_region_or_partition(name):
    for number, line in enumerate(template_text(name).splitlines(), 1):
        assert not re.search(r"(?<![\d.])\d{12}(?![\d.])", line), f"{name}:{number}: account id? {line}"
        assert not REGION_NAME.search(line), f"{name}:{number}: region {line}"
        if "AllowedPattern" not in line:
            assert "arn:aws:" not in line, f"{name}:{number}: hard-coded partition {line}"


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_no_lambda_functions(name):
    for logical, resource in load_template(name)["Resources"].items():
        assert not resource["Type"].startswith(("AWS::Lambda::", "AWS::Serverless::")), logical
        assert resource["Type"] != "AWS::CloudFormation::CustomResource", logical
        assert not resource["Type"].startswith("Custom::"), logical


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_renders_with_defaults(name):
    assert render(name).resources()


# ------------------------------------------------------------- DAGs bucket
DAGS_BUCKET_TEMPLATES = ["mwaa-environment.yaml", "mwaa-execution-role.yaml"]


def _dags_bucket_pattern(name: str) -> str:
    return load_template(name)["Parameters"]["DagsBucketName"]["AllowedPattern"]


def test_dags_bucket_pattern_is_the_same_in_both_templates():
    assert len({_dags_bucket_pattern(n) for n in DAGS_BUCKET_TEMPLATES}) == 1


@pytest.mark.parametrize(
    ("bucket", "valid"),
    [
        ("airflow-dagen", True),
        ("airflow-a", True),
        ("airflow-dagen-123456789012-eu-west-1", True),
        ("airflow-" + "a" * 55, True),
        ("airflow-" + "a" * 56, False),
        ("dagen-airflow", False),
        ("airflow-", False),
        ("airflow", False),
        ("Airflow-dags", False),
        ("airflow-Dags", False),
        ("airflow-dags.example", False),
        ("airflow-dags-", False),
        ("airflow_dags", False),
    ],
)
def test_dags_bucket_name_must_start_with_airflow(bucket, valid):
    assert bool(re.fullmatch(_dags_bucket_pattern("mwaa-environment.yaml"), bucket)) is valid


def test_dags_bucket_is_versioned_encrypted_and_private():
    bucket = render("mwaa-environment.yaml").resources()["DagsBucket"]
    props = bucket["Properties"]
    assert props["BucketName"] == "airflow-dagen-test"
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert props["PublicAccessBlockConfiguration"] == dict.fromkeys(
        ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"], True
    )
    assert bucket["DeletionPolicy"] == "Retain"


# ------------------------------------------------------------------- network
def test_vpc_layout():
    template = load_template("mwaa-environment.yaml")
    params = template["Parameters"]
    assert {
        k: params[k]["Default"]
        for k in ("VpcCidr", "PublicSubnet1Cidr", "PublicSubnet2Cidr", "PrivateSubnet1Cidr", "PrivateSubnet2Cidr")
    } == {
        "VpcCidr": "10.192.0.0/16",
        "PublicSubnet1Cidr": "10.192.10.0/24",
        "PublicSubnet2Cidr": "10.192.11.0/24",
        "PrivateSubnet1Cidr": "10.192.20.0/24",
        "PrivateSubnet2Cidr": "10.192.21.0/24",
    }
    raw = template["Resources"]
    for subnet, az in [("PublicSubnet1", 0), ("PrivateSubnet1", 0), ("PublicSubnet2", 1), ("PrivateSubnet2", 1)]:
        assert raw[subnet]["Properties"]["AvailabilityZone"] == {"Fn::Select": [az, {"Fn::GetAZs": ""}]}
        assert raw[subnet]["Properties"]["CidrBlock"] == {"Ref": f"{subnet}Cidr"}

    res = render("mwaa-environment.yaml").resources()
    by_type: dict[str, list[str]] = {}
    for logical, resource in res.items():
        by_type.setdefault(resource["Type"], []).append(logical)
    assert len(by_type["AWS::EC2::NatGateway"]) == 2
    assert len(by_type["AWS::EC2::EIP"]) == 2
    assert by_type["AWS::EC2::VPCGatewayAttachment"] == ["InternetGatewayAttachment"]
    public = res["DefaultPublicRoute"]["Properties"]
    assert public == {
        "RouteTableId": "PublicRouteTable-GENERATED",
        "DestinationCidrBlock": "0.0.0.0/0",
        "GatewayId": "InternetGateway-GENERATED",
    }
    for az in ("1", "2"):
        nat = res[f"NatGateway{az}"]["Properties"]
        assert nat["SubnetId"] == f"PublicSubnet{az}-GENERATED"
        assert nat["AllocationId"] == f"NatGateway{az}Eip.AllocationId-GENERATED"
        route = res[f"DefaultPrivateRoute{az}"]["Properties"]
        assert route == {
            "RouteTableId": f"PrivateRouteTable{az}-GENERATED",
            "DestinationCidrBlock": "0.0.0.0/0",
            "NatGatewayId": f"NatGateway{az}-GENERATED",
        }
        assoc = res[f"PrivateSubnet{az}RouteTableAssociation"]["Properties"]
        assert assoc == {"RouteTableId": f"PrivateRouteTable{az}-GENERATED", "SubnetId": f"PrivateSubnet{az}-GENERATED"}


def test_vpc_endpoints():
    res = render("mwaa-environment.yaml").resources()
    s3 = res["S3GatewayEndpoint"]["Properties"]
    assert s3["VpcEndpointType"] == "Gateway"
    assert s3["ServiceName"] == "com.amazonaws.eu-west-1.s3"
    assert s3["RouteTableIds"] == ["PrivateRouteTable1-GENERATED", "PrivateRouteTable2-GENERATED"]
    emr = res["EmrInterfaceEndpoint"]["Properties"]
    assert emr["VpcEndpointType"] == "Interface"
    assert emr["ServiceName"] == "com.amazonaws.eu-west-1.elasticmapreduce"
    assert emr["SubnetIds"] == ["PrivateSubnet1-GENERATED", "PrivateSubnet2-GENERATED"]
    assert emr["PrivateDnsEnabled"] is True


def test_security_group_references_itself():
    res = render("mwaa-environment.yaml").resources()
    group = res["SecurityGroup"]["Properties"]
    assert group["SecurityGroupEgress"] == [
        {"Description": "All outbound traffic", "IpProtocol": "-1", "CidrIp": "0.0.0.0/0"}
    ]
    assert "SecurityGroupIngress" not in group
    ingress = res["SecurityGroupSelfIngress"]["Properties"]
    assert ingress["GroupId"] == ingress["SourceSecurityGroupId"] == "SecurityGroup-GENERATED"
    assert ingress["IpProtocol"] == "-1"


def test_emr_subnets_carry_the_v2_managed_policy_tag():
    res = render("mwaa-environment.yaml").resources()
    tag = {"Key": "for-use-with-amazon-emr-managed-policies", "Value": "true"}
    for logical in ("Vpc", "PrivateSubnet1", "PrivateSubnet2"):
        assert tag in res[logical]["Properties"]["Tags"], logical
    for logical in ("PublicSubnet1", "PublicSubnet2"):
        assert tag not in res[logical]["Properties"]["Tags"], logical


# -------------------------------------------------------------- environment
def test_environment_parameters():
    params = load_template("mwaa-environment.yaml")["Parameters"]
    assert params["AirflowVersion"]["Default"] == "3.3.1"
    assert params["AirflowVersion"]["AllowedValues"] == ["3.3.1", "2.10.3"]
    assert params["EnvironmentClass"]["Default"] == "mw1.small"
    assert params["EnvironmentClass"]["AllowedValues"] == [
        "mw1.micro",
        "mw1.small",
        "mw1.medium",
        "mw1.large",
        "mw1.xlarge",
        "mw1.2xlarge",
    ]
    assert params["MaxWorkers"]["Default"] == 2
    assert params["MinWorkers"]["Default"] == 1
    assert params["WebserverAccessMode"]["Default"] == "PRIVATE_ONLY"
    assert params["WebserverAccessMode"]["AllowedValues"] == ["PRIVATE_ONLY", "PUBLIC_ONLY"]
    assert params["DagS3Path"]["Default"] == "dags"
    assert params["RequirementsS3Path"]["Default"] == "dags/requirements.txt"


def _environment(**params: Any) -> dict[str, Any]:
    return render("mwaa-environment.yaml", **params).resources()["Environment"]["Properties"]


TELEMETRY_OFF = {"dag_factory.enable_telemetry": "False"}
SSM_BACKEND = {
    "secrets.backend": "airflow.providers.amazon.aws.secrets.systems_manager.SystemsManagerParameterStoreBackend",
    "secrets.backend_kwargs": '{"connections_prefix": "airflow/connections", "variables_prefix": "airflow/variables"}',
}


@pytest.mark.parametrize(
    ("enabled", "expected"),
    [("false", TELEMETRY_OFF), ("true", {**TELEMETRY_OFF, **SSM_BACKEND})],
    ids=["no-secrets-backend", "ssm-secrets-backend"],
)
def test_airflow_configuration_options(enabled, expected):
    options = _environment(EnableSecretsBackend=enabled)["AirflowConfigurationOptions"]
    assert options == expected
    assert "core.dagbag_import_timeout" not in options


@pytest.mark.parametrize("version", ["3.3.1", "2.10.3"])
def test_environment_properties(version):
    env = _environment(AirflowVersion=version, EnvironmentName="env1")
    assert env["Name"] == "env1"
    assert env["AirflowVersion"] == version
    assert env["SourceBucketArn"] == "arn:aws:s3:::airflow-dagen-test"
    assert env["DagS3Path"] == "dags"
    assert env["ExecutionRoleArn"].endswith(":role/test-stack-ExecutionRole-ABC")
    assert env["WebserverAccessMode"] == "PRIVATE_ONLY"
    assert env["NetworkConfiguration"] == {
        "SecurityGroupIds": ["SecurityGroup-GENERATED"],
        "SubnetIds": ["PrivateSubnet1-GENERATED", "PrivateSubnet2-GENERATED"],
    }
    logging = env["LoggingConfiguration"]
    assert logging["TaskLogs"] == {"Enabled": True, "LogLevel": "INFO"}
    for kind in ("DagProcessingLogs", "SchedulerLogs", "WebserverLogs", "WorkerLogs"):
        assert logging[kind] == {"Enabled": True, "LogLevel": "WARNING"}, kind


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("", {}),
        (
            "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
            {
                "RequirementsS3Path": "dags/requirements.txt",
                "RequirementsS3ObjectVersion": "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
            },
        ),
    ],
    ids=["first-deployment", "with-requirements"],
)
def test_requirements_come_with_their_object_version(version, expected):
    env = _environment(RequirementsS3ObjectVersion=version)
    found = {k: env[k] for k in ("RequirementsS3Path", "RequirementsS3ObjectVersion") if k in env}
    assert found == expected


# ---------------------------------------------------------------- movielens
def test_glue_job():
    res = render("movielens.yaml").resources()
    job = res["GlueJob"]["Properties"]
    assert float(job["GlueVersion"]) >= 4.0
    assert job["WorkerType"] == "G.1X" and job["NumberOfWorkers"] == 2
    assert "MaxCapacity" not in job
    assert job["Command"] == {
        "Name": "glueetl",
        "PythonVersion": "3",
        "ScriptLocation": "s3://dagen-data-test/spark_jobs/movielens_curate.py",
    }
    assert job["DefaultArguments"]["--extra-py-files"] == "s3://dagen-data-test/spark_jobs/spark_job_common.py"
    assert job["DefaultArguments"]["--input"] == "s3://dagen-data-test/output/"
    assert job["DefaultArguments"]["--output"] == "s3://dagen-data-test/curated/"
    assert "--enable-metrics" in job["DefaultArguments"]
    assert job["Role"] == "arn:aws:iam::123456789012:role/GlueJobRole-GENERATED"


def test_glue_job_script_location_is_a_parameter():
    res = render("movielens.yaml", ScriptsS3Prefix="s3://other-bucket/jobs").resources()
    assert res["GlueJob"]["Properties"]["Command"]["ScriptLocation"] == "s3://other-bucket/jobs/movielens_curate.py"
    assert res["GlueJob"]["Properties"]["DefaultArguments"]["--extra-py-files"] == (
        "s3://other-bucket/jobs/spark_job_common.py"
    )
    (policy,) = res["GlueJobRole"]["Properties"]["Policies"]
    by_sid = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    assert by_sid["ReadJobScript"]["Resource"] == [
        "arn:aws:s3:::other-bucket/jobs/movielens_curate.py",
        "arn:aws:s3:::other-bucket/jobs/spark_job_common.py",
    ]


def test_glue_database_and_crawlers():
    res = render("movielens.yaml").resources()
    assert res["GlueDatabase"]["Properties"]["DatabaseInput"]["Name"] == "mwaa-movielens-demo-db"
    paths = {}
    for logical in ("MostPopularCrawler", "TopRatedCrawler"):
        crawler = res[logical]["Properties"]
        assert crawler["DatabaseName"] == "mwaa-movielens-demo-db"
        assert crawler["Role"] == "arn:aws:iam::123456789012:role/CrawlerRole-GENERATED"
        (target,) = crawler["Targets"]["S3Targets"]
        paths[logical] = target["Path"]
    assert paths == {
        "MostPopularCrawler": "s3://dagen-data-test/curated/most_popular_movies/",
        "TopRatedCrawler": "s3://dagen-data-test/curated/top_rated_movies/",
    }


@pytest.mark.parametrize(("versioning", "expected"), [("false", None), ("true", {"Status": "Enabled"})])
def test_data_bucket(versioning, expected):
    bucket = render("movielens.yaml", EnableDataBucketVersioning=versioning).resources()["DataBucket"]["Properties"]
    assert bucket.get("VersioningConfiguration") == expected
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4


def test_movielens_outputs():
    assert {
        "StateMachineArn",
        "DataBucketName",
        "GlueJobName",
        "MostPopularCrawlerName",
        "TopRatedCrawlerName",
        "MostPopularCrawlerArn",
        "TopRatedCrawlerArn",
    } <= set(load_template("movielens.yaml")["Outputs"])


# ---------------------------------------------------------------- emr roles
@pytest.mark.parametrize(("suffix", "expected"), [("", ""), ("-dev", "-dev")])
def test_emr_role_names(suffix, expected):
    res = render("emr-roles.yaml", RoleNameSuffix=suffix).resources()
    assert res["EmrServiceRole"]["Properties"]["RoleName"] == f"EMR_DefaultRole{expected}"
    assert res["EmrInstanceRole"]["Properties"]["RoleName"] == f"EMR_EC2_DefaultRole{expected}"
    assert res["EmrNotebooksRole"]["Properties"]["RoleName"] == f"EMR_Notebooks_DefaultRole{expected}"
    profile = res["EmrInstanceProfile"]["Properties"]
    assert profile["InstanceProfileName"] == profile["Roles"][0] == f"EMR_EC2_DefaultRole{expected}"


def test_emr_service_role_uses_the_v2_managed_policy():
    res = render("emr-roles.yaml").resources()
    assert res["EmrServiceRole"]["Properties"]["ManagedPolicyArns"] == [
        "arn:aws:iam::aws:policy/service-role/AmazonEMRServicePolicy_v2"
    ]


def test_emr_roles_outputs():
    assert {
        "ServiceRoleName",
        "ServiceRoleArn",
        "InstanceRoleName",
        "InstanceRoleArn",
        "InstanceProfileName",
        "InstanceProfileArn",
        "NotebooksRoleName",
        "NotebooksRoleArn",
    } <= set(load_template("emr-roles.yaml")["Outputs"])


# ------------------------------------------------------------------- docs
DOC = REPO_ROOT / "docs" / "deploying-stacks.md"
DEPLOY_ORDER = [
    "emr-roles.yaml",
    "movielens.yaml",
    "mwaa-execution-role.yaml",
    "pipelines-policy.yaml",
    "mwaa-environment.yaml",
]


def _deploy_commands() -> list[tuple[str, dict[str, str], list[str]]]:
    text = DOC.read_text().replace("\\\n", " ")
    commands = []
    for line in text.splitlines():
        if "aws cloudformation deploy" not in line:
            continue
        template = re.search(r"--template-file cloudformation/(\S+)", line).group(1)
        capabilities = re.findall(r"--capabilities (\S+)", line)
        overrides = {}
        if "--parameter-overrides" in line:
            rest = line.split("--parameter-overrides", 1)[1].split(" --", 1)[0]
            # Values may be command substitutions with spaces: $(out stack Output).
            pairs = re.findall(r"(\S+?)=(\$\([^)]*\)|\S*)", rest)
            assert "".join(f"{k}={v}" for k, v in pairs).replace(" ", "") == "".join(rest.split()), rest
            overrides = dict(pairs)
        commands.append((template, overrides, capabilities))
    return commands


def test_docs_deploy_every_template_in_order():
    templates = [t for t, _, _ in _deploy_commands()]
    assert sorted(set(templates)) == TEMPLATE_NAMES
    first_seen = sorted(set(templates), key=templates.index)
    assert first_seen == DEPLOY_ORDER


def test_docs_pass_existing_parameters_and_every_required_one():
    for template_name, overrides, _ in _deploy_commands():
        parameters = load_template(template_name)["Parameters"]
        assert set(overrides) <= set(parameters), template_name
        required = {k for k, v in parameters.items() if "Default" not in v}
        assert required <= set(overrides), f"{template_name}: {required - set(overrides)}"


def test_docs_request_the_iam_capabilities_the_templates_need():
    for template_name, _, capabilities in _deploy_commands():
        resources = load_template(template_name)["Resources"].values()
        named_iam = any(
            r["Type"].startswith("AWS::IAM::")
            and ("RoleName" in r.get("Properties", {}) or "InstanceProfileName" in r.get("Properties", {}))
            for r in resources
        )
        any_iam = any(r["Type"].startswith("AWS::IAM::") for r in resources)
        expected = ["CAPABILITY_NAMED_IAM"] if named_iam else ["CAPABILITY_IAM"] if any_iam else []
        assert capabilities == expected, template_name


def test_docs_show_how_to_generate_the_pipelines_policy():
    text = DOC.read_text()
    assert "dagen iam pipelines/ --format cloudformation -o cloudformation/pipelines-policy.yaml" in text
    assert re.search(r"dagen iam pipelines/ --region \S+ --account-id \S+", text)
    # the committed template says where it comes from
    assert template_text("pipelines-policy.yaml").startswith("# Generated by `dagen iam")
    (deploy,) = [c for c in _deploy_commands() if c[0] == "pipelines-policy.yaml"]
    assert deploy[1] == {"ExecutionRoleName": "$(out dagen-mwaa-execution-role ExecutionRoleName)"}
