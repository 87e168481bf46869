"""``dagen deploy --target mwaa-serverless``: definitions to S3, one workflow per pipeline.

S3 is a real moto server on loopback (the command builds its own client for
``--endpoint-url``; the bucket is versioned, so "uploads nothing" is checked by
counting versions).  moto has no MWAA Serverless backend: the command takes its
client from a factory, and these tests hand it a real
``boto3.client("mwaa-serverless")`` under ``botocore.stub.Stubber``, which
checks every request against botocore's service model and against the exact
parameters expected, in order; a call nobody expected fails the deploy.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto.server import ThreadedMotoServer

from generator.compile.pipelines import process
from generator.compile.serverless_workflow import workflow_yaml
from generator.core.diagnostics import REPORTERS, sorted_unique
from generator.core.provider_profile import MODERN
from generator.deploy.command import main
from generator.deploy.workflows import workflows_client
from tests.test_deploy import aws_env, server, url_of  # noqa: F401 - the moto server and credentials fixtures

BUCKET = "dagen-workflows-test"
ACCOUNT = "123456789012"
ROLE_TEMPLATE = f"arn:aws:iam::{ACCOUNT}:role/dagen-{{dag_id}}"
SEEDS = {
    "emr_notebook_best_sellers": "Top 20 best sellers per category, computed by an EMR Studio notebook.",
    "movielens_emr_step_functions": "MovieLens preprocessing on EMR, then curation with Step Functions and Glue.",
    "salary_batch_etl": "Average salary per company, job type, degree, major and industry.",
}
SUFFIX = {
    "emr_notebook_best_sellers": "a1b2c3d4e5",
    "movielens_emr_step_functions": "f6g7h8i9j0",
    "salary_batch_etl": "k1l2m3n4o5",
}
RETRY_HINT = "rerun the same dagen deploy: it uploads only what changed and creates or updates only what differs"


def arn(dag_id: str) -> str:
    return f"arn:aws:airflow-serverless:us-east-1:{ACCOUNT}:workflow/{dag_id}-{SUFFIX[dag_id]}"


def version(n: int) -> str:
    return f"{n:032x}"


# ------------------------------------------------------------------ fixtures


def _remove_bucket(s3: Any) -> None:
    """Only this file's bucket (moto's state is process-wide: other tests may hold theirs)."""
    try:
        pages = list(s3.get_paginator("list_object_versions").paginate(Bucket=BUCKET))
    except s3.exceptions.NoSuchBucket:
        return
    for page in pages:
        for entry in page.get("Versions", []) + page.get("DeleteMarkers", []):
            s3.delete_object(Bucket=BUCKET, Key=entry["Key"], VersionId=entry["VersionId"])
    s3.delete_bucket(Bucket=BUCKET)


@pytest.fixture
def url(server: ThreadedMotoServer) -> Iterator[str]:  # noqa: F811 - the fixture imported above
    endpoint = url_of(server)
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    _remove_bucket(s3)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    yield endpoint
    _remove_bucket(s3)


@pytest.fixture
def s3(url: str) -> Any:
    return boto3.client("s3", endpoint_url=url, region_name="us-east-1")


@pytest.fixture
def project(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of pipelines/, free to edit, as the current folder."""
    shutil.copytree(repo / "pipelines", tmp_path / "pipelines")
    monkeypatch.chdir(tmp_path)
    return tmp_path


class Api:
    """A real MWAA Serverless client whose answers are queued, each request checked against the model and the
    exact parameters expected."""

    def __init__(self) -> None:
        self.client = boto3.client("mwaa-serverless", region_name="us-east-1")
        self.stubber = Stubber(self.client)
        self.stubber.activate()
        self.made: list[dict[str, Any]] = []

    def factory(self, **options: Any) -> Any:
        self.made.append(options)
        return self.client

    def expect(self, method: str, params: dict[str, Any], response: dict[str, Any]) -> None:
        self.stubber.add_response(method, response, params)

    def listing(self, *pages: list[tuple[str, int]], foreign: bool = True) -> None:
        """ListWorkflows in pages of (dag id, version number); another team's workflow on the first page."""
        for index, page in enumerate(pages):
            summaries = [
                {"WorkflowArn": arn(name), "Name": name, "WorkflowVersion": version(n), "WorkflowStatus": "READY"}
                for name, n in page
            ]
            if foreign and index == 0:
                summaries.insert(
                    0,
                    {
                        "WorkflowArn": f"arn:aws:airflow-serverless:us-east-1:{ACCOUNT}:workflow/other-team-zzzzzzzzzz",
                        "Name": "other-team",
                        "WorkflowStatus": "READY",
                    },
                )
            params = {"NextToken": f"page{index}"} if index else {}
            response: dict[str, Any] = {"Workflows": summaries}
            if index < len(pages) - 1:
                response["NextToken"] = f"page{index + 1}"
            self.expect("list_workflows", params, response)

    def tags(self, dag_id: str, sha256: str) -> None:
        self.expect(
            "list_tags_for_resource",
            {"ResourceArn": arn(dag_id)},
            {"Tags": {"dagen:dag-id": dag_id, "dagen:definition-sha256": sha256}},
        )

    def done(self) -> None:
        self.stubber.assert_no_pending_responses()


@pytest.fixture
def api() -> Api:
    return Api()


def definitions(folder: Path) -> dict[str, bytes]:
    """What each pipeline's workflow definition must be: ``workflow_yaml`` of its configuration."""
    results = process([folder], profile=MODERN, airflow_major=3, root=folder.parent, target="mwaa-serverless")
    assert sorted_unique(d for r in results for d in r.diagnostics) == []
    return {r.dag_id: workflow_yaml(r.dag_id, r.config).encode("utf-8") for r in results if r.config}


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def deploy(capsys: pytest.CaptureFixture[str], url: str, api: Api, *extra: str) -> tuple[int, list[str], list[str]]:
    capsys.readouterr()
    argv = ["--target", "mwaa-serverless", "pipelines", "--bucket", BUCKET, "--endpoint-url", url]
    code = main(
        [*argv, "--region", "us-east-1", "--role-arn", ROLE_TEMPLATE, *extra], make_workflows_client=api.factory
    )
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err.splitlines()


def objects(s3: Any) -> dict[str, list[bytes]]:
    """Every key of the bucket with the bytes of each of its versions, oldest first."""
    found: dict[str, list[bytes]] = {}
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=BUCKET):
        for entry in page.get("Versions", []):  # newest first, as S3 lists a key's versions
            body = s3.get_object(Bucket=BUCKET, Key=entry["Key"], VersionId=entry["VersionId"])["Body"].read()
            found.setdefault(entry["Key"], []).insert(0, body)
    return dict(sorted(found.items()))


def expect_creates(api: Api, defs: dict[str, bytes]) -> None:
    for n, (dag_id, content) in enumerate(sorted(defs.items()), start=1):
        api.expect(
            "create_workflow",
            {
                "Name": dag_id,
                "ClientToken": hashlib.sha256(f"{dag_id}\n{sha(content)}".encode()).hexdigest(),
                "DefinitionS3Location": {"Bucket": BUCKET, "ObjectKey": f"workflows/{dag_id}.yaml"},
                "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/dagen-{dag_id}",
                "Description": SEEDS[dag_id],
                "Tags": {"dagen:dag-id": dag_id, "dagen:definition-sha256": sha(content)},
            },
            {"WorkflowArn": arn(dag_id), "WorkflowVersion": version(n), "WorkflowStatus": "READY"},
        )


def first_deploy(capsys: pytest.CaptureFixture[str], url: str, project: Path) -> dict[str, bytes]:
    """The three seeds deployed to an account without workflows; returns their definitions."""
    defs = definitions(project / "pipelines")
    api = Api()
    api.listing([])
    expect_creates(api, defs)
    code, _, err = deploy(capsys, url, api)
    assert (code, err) == (0, [])
    api.done()
    return defs


# ------------------------------------------------------------------ deploys


def test_first_deploy_uploads_every_definition_and_creates_every_workflow(
    capsys: pytest.CaptureFixture[str], url: str, s3: Any, api: Api, project: Path
) -> None:
    defs = definitions(project / "pipelines")
    assert sorted(defs) == sorted(SEEDS)
    api.listing([])
    expect_creates(api, defs)
    code, out, err = deploy(capsys, url, api)
    assert (code, err) == (0, [])
    api.done()
    assert api.made == [{"region": "us-east-1", "max_attempts": 10}]
    assert objects(s3) == {f"workflows/{dag_id}.yaml": [content] for dag_id, content in defs.items()}
    assert out == [
        "3 file(s) checked, no errors",
        f"deploy 3 workflow(s) to MWAA Serverless, definitions in s3://{BUCKET}/workflows/",
        "plan, in the order it runs:",
        f"  upload    s3://{BUCKET}/workflows/emr_notebook_best_sellers.yaml  "
        "(pipelines/emr_notebook_best_sellers.yaml)",
        f"  create    workflow emr_notebook_best_sellers  "
        f"(role arn:aws:iam::{ACCOUNT}:role/dagen-emr_notebook_best_sellers)",
        f"  upload    s3://{BUCKET}/workflows/movielens_emr_step_functions.yaml  "
        "(pipelines/movielens_emr_step_functions.yaml)",
        f"  create    workflow movielens_emr_step_functions  "
        f"(role arn:aws:iam::{ACCOUNT}:role/dagen-movielens_emr_step_functions)",
        f"  upload    s3://{BUCKET}/workflows/salary_batch_etl.yaml  (pipelines/salary_batch_etl.yaml)",
        f"  create    workflow salary_batch_etl  (role arn:aws:iam::{ACCOUNT}:role/dagen-salary_batch_etl)",
        f"emr_notebook_best_sellers: created, version {version(1)}",
        f"movielens_emr_step_functions: created, version {version(2)}",
        f"salary_batch_etl: created, version {version(3)}",
        "3 definition(s) uploaded; 3 workflow(s) created, 0 updated, 0 unchanged",
    ]


def test_a_second_deploy_without_change_uploads_nothing_and_changes_no_workflow(
    capsys: pytest.CaptureFixture[str], url: str, s3: Any, api: Api, project: Path
) -> None:
    defs = first_deploy(capsys, url, project)
    before = objects(s3)
    # every page of the listing is read; another team's workflow is never looked at
    api.listing([("emr_notebook_best_sellers", 1), ("movielens_emr_step_functions", 2)], [("salary_batch_etl", 3)])
    for dag_id, content in sorted(defs.items()):
        api.tags(dag_id, sha(content))
    code, out, err = deploy(capsys, url, api)
    assert (code, err) == (0, [])
    api.done()  # no CreateWorkflow, UpdateWorkflow or TagResource: the stubber would have refused them
    assert objects(s3) == before
    assert out[3:] == [
        f"  unchanged workflow emr_notebook_best_sellers  (version {version(1)})",
        f"  unchanged workflow movielens_emr_step_functions  (version {version(2)})",
        f"  unchanged workflow salary_batch_etl  (version {version(3)})",
        f"emr_notebook_best_sellers: unchanged, version {version(1)}",
        f"movielens_emr_step_functions: unchanged, version {version(2)}",
        f"salary_batch_etl: unchanged, version {version(3)}",
        "0 definition(s) uploaded; 0 workflow(s) created, 0 updated, 3 unchanged",
    ]


def change_schedule(project: Path) -> None:
    spec = project / "pipelines" / "salary_batch_etl.yaml"
    text = spec.read_text(encoding="utf-8")
    assert 'schedule: "0 0 * * *"' in text
    spec.write_text(text.replace('schedule: "0 0 * * *"', 'schedule: "30 2 * * *"'), encoding="utf-8")


def test_a_changed_spec_uploads_its_definition_and_updates_only_its_workflow(
    capsys: pytest.CaptureFixture[str], url: str, s3: Any, api: Api, project: Path
) -> None:
    old = first_deploy(capsys, url, project)
    change_schedule(project)
    new = definitions(project / "pipelines")
    assert [dag_id for dag_id in new if new[dag_id] != old[dag_id]] == ["salary_batch_etl"]
    api.listing([("emr_notebook_best_sellers", 1), ("movielens_emr_step_functions", 2), ("salary_batch_etl", 3)])
    for dag_id, content in sorted(old.items()):
        api.tags(dag_id, sha(content))
    location = {"Bucket": BUCKET, "ObjectKey": "workflows/salary_batch_etl.yaml"}
    api.expect(
        "update_workflow",
        {
            "WorkflowArn": arn("salary_batch_etl"),
            "DefinitionS3Location": location,
            "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/dagen-salary_batch_etl",
            "Description": SEEDS["salary_batch_etl"],
        },
        {"WorkflowArn": arn("salary_batch_etl"), "WorkflowVersion": version(4)},
    )
    api.expect(
        "tag_resource",
        {"ResourceArn": arn("salary_batch_etl"), "Tags": {"dagen:definition-sha256": sha(new["salary_batch_etl"])}},
        {},
    )
    code, out, err = deploy(capsys, url, api)
    assert (code, err) == (0, [])
    api.done()
    after = objects(s3)
    assert after.pop("workflows/salary_batch_etl.yaml") == [old["salary_batch_etl"], new["salary_batch_etl"]]
    assert after == {
        f"workflows/{d}.yaml": [old[d]] for d in ("emr_notebook_best_sellers", "movielens_emr_step_functions")
    }
    assert out[-4:] == [
        f"emr_notebook_best_sellers: unchanged, version {version(1)}",
        f"movielens_emr_step_functions: unchanged, version {version(2)}",
        f"salary_batch_etl: updated, version {version(4)}",
        "1 definition(s) uploaded; 0 workflow(s) created, 1 updated, 2 unchanged",
    ]
    assert f"  update    workflow salary_batch_etl  (definition sha256 {sha(new['salary_batch_etl'])[:12]})" in out


def test_dry_run_writes_nothing(capsys: pytest.CaptureFixture[str], url: str, s3: Any, api: Api, project: Path) -> None:
    old = first_deploy(capsys, url, project)
    before = objects(s3)
    change_schedule(project)
    api.listing([("emr_notebook_best_sellers", 1), ("movielens_emr_step_functions", 2), ("salary_batch_etl", 3)])
    for dag_id, content in sorted(old.items()):
        api.tags(dag_id, sha(content))
    code, out, err = deploy(capsys, url, api, "--dry-run")
    assert (code, err) == (0, [])
    api.done()  # only the reads: no UpdateWorkflow, no TagResource
    assert objects(s3) == before
    new = sha(definitions(project / "pipelines")["salary_batch_etl"])
    assert out[3:] == [
        f"  unchanged workflow emr_notebook_best_sellers  (version {version(1)})",
        f"  unchanged workflow movielens_emr_step_functions  (version {version(2)})",
        f"  upload    s3://{BUCKET}/workflows/salary_batch_etl.yaml  (pipelines/salary_batch_etl.yaml)",
        f"  update    workflow salary_batch_etl  (definition sha256 {new[:12]})",
        "dry run: 1 definition(s) to upload, 0 workflow(s) to create, 1 to update, 2 unchanged; nothing was written",
    ]


def test_a_first_dry_run_plans_every_create(
    capsys: pytest.CaptureFixture[str], url: str, s3: Any, api: Api, project: Path
) -> None:
    api.listing([], foreign=False)
    code, out, err = deploy(capsys, url, api, "--dry-run")
    assert (code, err) == (0, [])
    api.done()
    assert objects(s3) == {}
    assert (
        out[-1]
        == "dry run: 3 definition(s) to upload, 3 workflow(s) to create, 0 to update, 0 unchanged; nothing was written"
    )


# ------------------------------------------------------------------ refusals and failures


def test_a_spec_the_target_refuses_stops_the_deploy_before_any_upload_or_call(
    capsys: pytest.CaptureFixture[str], url: str, s3: Any, api: Api, project: Path
) -> None:
    (project / "pipelines" / "once.yaml").write_text(
        'description: Runs once.\nschedule: "@once"\nstart_date: 2024-01-01\n'
        "tasks:\n  wait:\n    type: s3_wait\n    key: s3://landing/in/done\n",
        encoding="utf-8",
    )
    results = process([project / "pipelines"], profile=MODERN, airflow_major=3, root=project, target="mwaa-serverless")
    diagnostics = sorted_unique(d for r in results for d in r.diagnostics)
    assert [(d.code, d.file, d.line) for d in diagnostics] == [("DG805", "pipelines/once.yaml", 2)]
    # the same spec is fine for MWAA: the refusal is the target's
    assert all(not r.diagnostics for r in process([project / "pipelines"], profile=MODERN, airflow_major=3))
    code, out, err = deploy(capsys, url, api)
    assert code == 1
    assert out == [*REPORTERS["text"](diagnostics, len(results)).splitlines()]
    assert err == [
        "dagen deploy: the specs have errors for mwaa-serverless (above); nothing was uploaded and no workflow "
        "was changed",
        "    hint: fix them and deploy again",
    ]
    assert api.made == [] and objects(s3) == {}  # no client made, nothing uploaded


def test_an_aws_error_is_one_line_and_nothing_is_written(
    capsys: pytest.CaptureFixture[str], url: str, s3: Any, api: Api, project: Path
) -> None:
    api.stubber.add_client_error(
        "list_workflows",
        service_error_code="AccessDeniedException",
        service_message="User is not authorized to perform airflow-serverless:ListWorkflows",
        http_status_code=403,
    )
    code, out, err = deploy(capsys, url, api)
    api.done()
    assert code == 1
    assert out == ["3 file(s) checked, no errors"]
    assert err == [
        "dagen deploy: MWAA Serverless ListWorkflows failed: AccessDeniedException: User is not authorized to "
        "perform airflow-serverless:ListWorkflows",
        "    hint: check --region and the deploy role's permissions",
    ]
    assert objects(s3) == {}


def test_a_create_that_fails_after_its_upload_says_what_was_done(
    capsys: pytest.CaptureFixture[str], url: str, s3: Any, api: Api, project: Path
) -> None:
    defs = definitions(project / "pipelines")
    api.listing([], foreign=False)
    expect_creates(api, {"emr_notebook_best_sellers": defs["emr_notebook_best_sellers"]})
    api.stubber.add_client_error(
        "create_workflow",
        service_error_code="ValidationException",
        service_message="Role arn:aws:iam::123456789012:role/dagen-movielens_emr_step_functions cannot be assumed",
        http_status_code=400,
    )
    code, out, err = deploy(capsys, url, api)
    api.done()  # salary_batch_etl was neither uploaded nor created
    assert code == 1
    assert out[-1] == f"emr_notebook_best_sellers: created, version {version(1)}"
    assert err == [
        "dagen deploy: MWAA Serverless CreateWorkflow of movielens_emr_step_functions failed: ValidationException: "
        "Role arn:aws:iam::123456789012:role/dagen-movielens_emr_step_functions cannot be assumed",
        "    hint: so far: 2 definition(s) uploaded; emr_notebook_best_sellers created. " + RETRY_HINT,
    ]
    assert sorted(objects(s3)) == [
        "workflows/emr_notebook_best_sellers.yaml",
        "workflows/movielens_emr_step_functions.yaml",
    ]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--role-arn", "dagen-{dag_id}"],
            "role ARN 'dagen-emr_notebook_best_sellers' of emr_notebook_best_sellers is not an IAM role ARN",
        ),
    ],
)
def test_a_role_arn_the_service_refuses_stops_before_any_upload(
    capsys: pytest.CaptureFixture[str], url: str, s3: Any, api: Api, project: Path, extra: list[str], message: str
) -> None:
    code, _, err = deploy(capsys, url, api, *extra)
    assert code == 1
    assert err == [
        f"dagen deploy: pipelines/emr_notebook_best_sellers.yaml: {message}; nothing was uploaded",
        "    hint: --role-arn is an IAM role ARN in which {dag_id} is replaced by each pipeline's DAG id",
    ]
    assert api.made == [] and objects(s3) == {}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--target", "mwaa-serverless", "pipelines", "--bucket", BUCKET], "--target mwaa-serverless needs --role-arn"),
        (
            ["--target", "mwaa-serverless", "--bucket", BUCKET, "--role-arn", ROLE_TEMPLATE, "--prune"],
            "--prune is not used by --target mwaa-serverless",
        ),
        (
            ["pipelines", "--bucket", "airflow-x"],
            "PATHS are for --target mwaa-serverless; the MWAA bundle deploys pipelines/ of --project",
        ),
        (["--bucket", "airflow-x", "--role-arn", ROLE_TEMPLATE], "--role-arn is for --target mwaa-serverless"),
    ],
)
def test_options_of_the_other_target_are_a_usage_error(
    capsys: pytest.CaptureFixture[str], api: Api, project: Path, argv: list[str], message: str
) -> None:
    assert main(argv, make_workflows_client=api.factory) == 2
    assert capsys.readouterr().err.splitlines() == [f"dagen deploy: {message}", "    hint: see dagen deploy --help"]
    assert api.made == []


def test_help_names_the_target_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    for option in ("--target {mwaa,mwaa-serverless}", "--role-arn TEMPLATE", "PATHS"):
        assert option in text
    assert "'{dag_id}' replaced by the pipeline's DAG id" in text


def test_the_default_factory_makes_a_retrying_client_of_the_service() -> None:
    client = workflows_client(region="eu-west-1", max_attempts=3)
    assert (client.meta.service_model.service_name, client.meta.region_name) == ("mwaa-serverless", "eu-west-1")
    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 3}
    assert client.meta.endpoint_url == "https://airflow-serverless.eu-west-1.amazonaws.com"
