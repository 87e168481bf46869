"""Local resources made on the emulator on demand, once each (what :mod:`generator.local.resources` uses).

Each method of :class:`ResourceProvider` makes one kind of resource (a bucket, a
topic, a role, a Lambda function and its versions, an EMR Serverless
application, a virtual cluster, a long-running EMR cluster, an Athena
workgroup, a Glue job or crawler, a state machine, a subnet, an EMR Studio
editor, a template's stack) and returns its id; asked again for the same one,
it returns the same id.  The buckets it made and the stacks it deployed (their
outputs and skipped resources) are kept on the provider for the report.
"""

from __future__ import annotations

import io
import json
import re
import secrets
import string
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from generator.local.cloudformation import TEMPLATES, deploy_template, make_bucket
from generator.local.emulator import ACCOUNT_ID, LocalAws

DATA_BUCKET = "dagen-local-data"
LOGS_BUCKET = "dagen-local-logs"
ATHENA_BUCKET = "dagen-local-athena-results"
EMR_SERVERLESS_RELEASE = "emr-7.5.0"
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# A function that returns its event: what moto's Docker-free Lambda answers anyway, so the code is honest.
_ECHO_HANDLER = "def handler(event, context):\n    return event\n"


def _editor_id() -> str:
    return "e-" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(25))


class ResourceProvider:
    """Makes local resources on demand, once each."""

    def __init__(self, aws: LocalAws, params: dict[str, Any], cache: dict[str, str] | None = None) -> None:
        self.aws = aws
        self.params = params
        self.cache: dict[str, str] = {} if cache is None else cache
        self.buckets: list[str] = []  # in the order they were made
        self.stacks: dict[str, dict[str, str]] = {}  # template -> outputs
        self.skipped: list[str] = []  # template resources not created locally

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
            make_bucket(self.aws, name)
            self.buckets.append(name)
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
            bucket = data_bucket if isinstance(data_bucket, str) and BUCKET_NAME.match(data_bucket) else DATA_BUCKET
            outputs, skipped = deploy_template(
                self.aws, TEMPLATES / template, {"DataBucketName": bucket}, Path(template).stem
            )
            self.stacks[template] = outputs
            self.skipped.extend(skipped)
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

    def lambda_package(self, bucket: str, key: str, role_arn: str) -> str:
        """What a ``create_if_missing`` function is made from: its .zip at ``s3://bucket/key`` and its role.

        The function itself is not made: the pipeline's ``<task>_create_function`` creates it.
        """

        def make() -> str:
            code = io.BytesIO()
            with zipfile.ZipFile(code, "w") as archive:
                archive.writestr("index.py", _ECHO_HANDLER)
            self.aws.client("s3").put_object(Bucket=self.bucket(bucket), Key=key, Body=code.getvalue())
            return f"s3://{bucket}/{key}"

        role = role_arn.rsplit("/", 1)[-1]
        if role_arn.startswith(f"arn:aws:iam::{ACCOUNT_ID}:role/") and role:
            self.role(role, "lambda.amazonaws.com")
        return self.once(f"lambda-package:{bucket}/{key}", make)

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
