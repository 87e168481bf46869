"""``dagen deploy`` against a real S3-compatible server on loopback (moto's server mode).

Nothing is patched: the command builds its own boto3 client for ``--endpoint-url``.
The buckets are versioned like MWAA's, so every PUT leaves a version behind and
"uploads nothing" is checked by counting versions, not by trusting the output.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import site
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from generator.cli import main as dagen
from generator.compile.build import airflow_major
from generator.compile.pipelines import process
from generator.core.provider_profile import LEGACY, MODERN, installed_profile
from generator.deploy.bundle import (
    AIRFLOW_PYTHON,
    AIRFLOWIGNORE,
    package_upload_order,
    release_id,
    requirements_txt,
    shipped_entries,
)
from generator.deploy.command import PACKAGE_DIR, main
from tests.test_readme import console_block

BUCKET = "airflow-dagen-test"
DATA_BUCKET = "dagen-data-test"
DAGS_URI = f"s3://{BUCKET}/dags/"
SCRIPTS_URI = f"s3://{DATA_BUCKET}/spark_jobs/"
# Deploy for the MWAA version this lane reproduces, so the downloaded bundle is loaded by "its" Airflow.
VERSION = {3: "3.3.1", 2: "2.10.3"}[airflow_major()]
PROBE = Path(__file__).parent / "deploy" / "dagbag_probe.py"
SEEDS = ["emr_notebook_best_sellers", "movielens_emr_step_functions", "salary_batch_etl"]
SCHEMA_FILES = ("defaults.schema.json", "pipeline.schema.json")
RECORDS = (f"{DAGS_URI}dagen-manifest.json", f"{DAGS_URI}dagen-deploy.lock")  # dagen's own, checked on their own
DOCS_BUCKETS = ("airflow-dagen-123456789012-eu-west-1", "dagen-data-123456789012-eu-west-1")
REFUSED_BUCKETS = ("dagen-dags", "airflow-unversioned", "airflow-suspended")
OUR_BUCKETS = (BUCKET, DATA_BUCKET, *REFUSED_BUCKETS, *DOCS_BUCKETS)


# ------------------------------------------------------------------ fixtures


def start_server(port: int = 0) -> ThreadedMotoServer:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server


def url_of(server: ThreadedMotoServer) -> str:
    return f"http://127.0.0.1:{server.get_host_and_port()[1]}"


@pytest.fixture(scope="module")
def server() -> Iterator[ThreadedMotoServer]:
    # The server logs every request at INFO; keep that out of the captured output.
    werkzeug = logging.getLogger("werkzeug")
    level = werkzeug.level
    werkzeug.setLevel(logging.WARNING)
    server = start_server()
    yield server
    server.stop()
    werkzeug.setLevel(level)


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Dummy credentials, and nothing read from the machine's AWS configuration."""
    # Airflow 2, once imported by another test, logs INFO to stdout; `dagen deploy` itself never imports
    # Airflow, so botocore's "Found credentials" would not be printed by the real command.
    caplog.set_level(logging.WARNING, logger="botocore")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def client_for(url: str) -> Any:
    return boto3.client("s3", endpoint_url=url, region_name="us-east-1")


def remove_buckets(url: str) -> None:
    """Delete the buckets these tests create, every version included.

    moto's state is process-wide, and other tests may hold an emulator in it: only
    these buckets are removed, never the whole state reset.
    """
    s3 = client_for(url)
    for bucket in OUR_BUCKETS:
        try:
            pages = list(s3.get_paginator("list_object_versions").paginate(Bucket=bucket))
        except s3.exceptions.NoSuchBucket:
            continue
        for page in pages:
            for entry in page.get("Versions", []) + page.get("DeleteMarkers", []):
                s3.delete_object(Bucket=bucket, Key=entry["Key"], VersionId=entry["VersionId"])
        s3.delete_bucket(Bucket=bucket)


@pytest.fixture
def url(server: ThreadedMotoServer) -> Iterator[str]:
    """The server, without any of the buckets of these tests before and after each test."""
    remove_buckets(url_of(server))
    yield url_of(server)
    remove_buckets(url_of(server))


def make_buckets(url: str, *, dags_bucket: str = BUCKET, versioning: str | None = "Enabled") -> Any:
    s3 = client_for(url)
    s3.create_bucket(Bucket=dags_bucket)
    if versioning:
        s3.put_bucket_versioning(Bucket=dags_bucket, VersioningConfiguration={"Status": versioning})
    s3.create_bucket(Bucket=DATA_BUCKET)  # the scripts' bucket: not an MWAA bucket, no rules
    return s3


@pytest.fixture
def s3(url: str) -> Any:
    return make_buckets(url)


@pytest.fixture
def project(repo: Path, tmp_path: Path) -> Path:
    """A copy of the repository's deployable folders, free to edit."""
    root = tmp_path / "project"
    for name in ("dags", "pipelines", "schemas", "spark_jobs"):
        shutil.copytree(repo / name, root / name)
    return root


@dataclass
class Run:
    code: int
    out: list[str]
    err: list[str]


def deploy(
    capsys: pytest.CaptureFixture[str],
    url: str,
    project: Path,
    *extra: str,
    bucket: str = BUCKET,
    on_step: Callable[[int, Any], None] | None = None,
    measure_parse: bool = False,
) -> Run:
    capsys.readouterr()
    code = main(
        [
            "--bucket",
            bucket,
            "--endpoint-url",
            url,
            "--region",
            "us-east-1",
            "--project",
            str(project),
            "--scripts-uri",
            SCRIPTS_URI,
            "--airflow-version",
            VERSION,
            *extra,
            *(() if measure_parse else ("--no-parse-budget",)),  # measured in its own tests: it parses twice
        ],
        on_step=on_step,
    )
    captured = capsys.readouterr()
    return Run(code, captured.out.splitlines(), captured.err.splitlines())


# ------------------------------------------------------ what the output should be


def release_files(project: Path) -> dict[str, bytes]:
    """What one release holds (path within it -> content), in upload order (see docs/deploying-dags.md)."""
    specs = sorted(p.name for p in (project / "pipelines").glob("*.yaml") if p.name != "defaults.yaml")
    modules = [p.relative_to(PACKAGE_DIR).as_posix() for p in package_upload_order(PACKAGE_DIR)]
    compiled = shipped_build(project)
    return {
        **{f"schemas/{name}": (project / "schemas" / name).read_bytes() for name in SCHEMA_FILES},
        **{f"generator/{module}": (PACKAGE_DIR / module).read_bytes() for module in modules},
        **{f"compiled/pipelines/{name}.json": compiled[f"compiled/pipelines/{name}.json"] for name in specs},
        "pipelines/defaults.yaml": (project / "pipelines" / "defaults.yaml").read_bytes(),
        **{f"pipelines/{name}": (project / "pipelines" / name).read_bytes() for name in specs},
    }


def release_name(project: Path) -> str:
    return release_id(list(release_files(project).items()))


def bundle_uris(project: Path) -> list[str]:
    """Every file of the bundle, in the order it must be uploaded: the release whole, then the loader naming it."""
    return list(expected_objects(project))


def expected_objects(project: Path) -> dict[str, bytes]:
    """What the bucket holds after a deploy of ``project``: URI -> content."""
    release, name = release_files(project), release_name(project)
    loader = (project / "dags" / "pipelines_loader.py").read_text(encoding="utf-8")
    return {
        f"{DAGS_URI}.airflowignore": AIRFLOWIGNORE.encode(),
        **{
            f"{SCRIPTS_URI}{path.name}": path.read_bytes()
            for path in sorted((project / "spark_jobs").iterdir())
            if path.suffix in (".py", ".ipynb")
        },
        f"{DAGS_URI}requirements.txt": requirements_txt(VERSION).encode(),
        **{f"{DAGS_URI}releases/{name}/{path}": content for path, content in release.items()},
        f"{DAGS_URI}pipelines_loader.py": loader.replace('RELEASE = ""', f'RELEASE = "releases/{name}"').encode(),
    }


def shipped_build(project: Path) -> dict[str, bytes]:
    """The entries the deploy ships: each spec compiled for the lane, under the loader's cache key."""
    profile = MODERN if VERSION.startswith("3.") else LEGACY
    results = process([project / "pipelines"], profile=profile, airflow_major=int(VERSION[0]), root=project)
    return shipped_entries(results)


def head(specs: int = 3) -> list[str]:
    return [
        f"{specs} file(s) checked, no errors",
        "parse budget: not measured (--no-parse-budget)",
        f"deploy to {DAGS_URI} for MWAA Airflow {VERSION} (Python {AIRFLOW_PYTHON[VERSION]})",
        f"scripts: spark_jobs/*.py and *.ipynb to {SCRIPTS_URI}",
        "plan, in the order it runs:",
    ]


def line(action: str, uri: str) -> str:
    return f"  {action:<10}{uri}"


def progress_lines(action: str, uris: list[str]) -> list[str]:
    return [f"[{done}/{len(uris)}] {action} {uri}" for done, uri in enumerate(uris, start=1)]


def requirements_note(s3: Any) -> str:
    version = s3.head_object(Bucket=BUCKET, Key="dags/requirements.txt")["VersionId"]
    return (
        f"note: requirements.txt is now version {version}; MWAA installs it only when the environment is updated "
        f"with RequirementsS3ObjectVersion={version} (docs/deploying-stacks.md, step 4)"
    )


# ----------------------------------------------------------- what the bucket holds


def split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def versions(s3: Any) -> dict[str, list[str]]:
    """Every key of both buckets with its history, oldest first: "put" or "deleted"."""
    history: dict[str, list[tuple[str, str]]] = {}
    for bucket in (BUCKET, DATA_BUCKET):
        try:
            pages = list(s3.get_paginator("list_object_versions").paginate(Bucket=bucket))
        except s3.exceptions.NoSuchBucket:
            continue
        for page in pages:
            for kind, entries in (("put", page.get("Versions", [])), ("deleted", page.get("DeleteMarkers", []))):
                for entry in entries:
                    history.setdefault(f"s3://{bucket}/{entry['Key']}", []).append((entry["LastModified"], kind))
    return {
        uri: [kind for _, kind in sorted(entries, key=lambda e: e[0])]
        for uri, entries in history.items()
        if uri not in RECORDS
    }


def current_objects(s3: Any) -> dict[str, bytes]:
    """The current content of every object of both buckets (the test downloads; the deploy never does)."""
    found = {}
    for bucket in (BUCKET, DATA_BUCKET):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                if f"s3://{bucket}/{item['Key']}" not in RECORDS:
                    found[f"s3://{bucket}/{item['Key']}"] = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return found


def assert_bucket_holds_the_bundle(s3: Any, project: Path, uris: list[str], extra: dict[str, bytes] | None = None):
    expected = expected_objects(project)
    assert list(expected) == uris
    assert current_objects(s3) == expected | (extra or {})
    for uri in uris:
        metadata = s3.head_object(Bucket=split(uri)[0], Key=split(uri)[1])["Metadata"]
        assert metadata == {"dagen-sha256": hashlib.sha256(expected[uri]).hexdigest()}


# ---------------------------------------------------------------------- tests


def test_first_deploy_uploads_everything_in_order(capsys, url: str, s3: Any, project: Path) -> None:
    uris = bundle_uris(project)
    run = deploy(capsys, url, project)
    assert run.code == 0
    assert run.out == [
        *head(),
        *(line("add", uri) for uri in uris),
        f"summary: {len(uris)} added, 0 changed, 0 deleted, 0 unchanged",
        requirements_note(s3),
    ]
    assert run.err == progress_lines("add", uris)
    assert versions(s3) == {uri: ["put"] for uri in uris}
    assert_bucket_holds_the_bundle(s3, project, uris)


def test_second_deploy_uploads_nothing(capsys, url: str, s3: Any, project: Path) -> None:
    uris = bundle_uris(project)
    assert deploy(capsys, url, project).code == 0
    run = deploy(capsys, url, project)
    assert (run.code, run.err) == (0, [])
    assert run.out == [
        *head(),
        *(line("unchanged", uri) for uri in uris),
        f"summary: 0 added, 0 changed, 0 deleted, {len(uris)} unchanged",
    ]
    assert versions(s3) == {uri: ["put"] for uri in uris}  # a PUT would have added a version


def test_editing_one_spec_uploads_exactly_that_file_and_its_entry(capsys, url: str, s3: Any, project: Path) -> None:
    uris = bundle_uris(project)
    assert deploy(capsys, url, project).code == 0
    spec = project / "pipelines" / "salary_batch_etl.yaml"
    spec.write_text(spec.read_text().replace("description: ", "description: Nightly. "))
    edited = [f"{DAGS_URI}compiled/pipelines/salary_batch_etl.yaml.json", f"{DAGS_URI}pipelines/salary_batch_etl.yaml"]

    run = deploy(capsys, url, project)

    assert run.code == 0
    assert run.out == [
        *head(),
        *(line("change", uri) for uri in edited),  # the spec's compiled entry goes up before the spec
        *(line("unchanged", uri) for uri in uris if uri not in edited),
        f"summary: 0 added, 2 changed, 0 deleted, {len(uris) - 2} unchanged",
    ]
    assert run.err == progress_lines("change", edited)
    assert versions(s3) == {uri: ["put", "put"] if uri in edited else ["put"] for uri in uris}
    assert_bucket_holds_the_bundle(s3, project, uris)


def test_dry_run_prints_the_plan_and_uploads_nothing(capsys, url: str, s3: Any, project: Path) -> None:
    uris = bundle_uris(project)
    run = deploy(capsys, url, project, "--dry-run")
    assert (run.code, run.err) == (0, [])
    assert run.out == [
        *head(),
        *(line("add", uri) for uri in uris),
        f"dry run: {len(uris)} to add, 0 to change, 0 to delete, 0 unchanged; nothing uploaded",
    ]
    assert versions(s3) == {}


OUTSIDE = {
    # same buckets, outside the prefixes, including look-alike prefixes
    f"s3://{BUCKET}/dags-backup/pipelines/salary_batch_etl.yaml": b"backup",
    f"s3://{BUCKET}/dags": b"an object named like the prefix",
    f"s3://{BUCKET}/plugins.zip": b"PK",
    f"s3://{BUCKET}/other/dags/pipelines/salary_batch_etl.yaml": b"elsewhere",
    f"s3://{DATA_BUCKET}/spark_jobs_v1/salary_averages.py": b"old job",
    f"s3://{DATA_BUCKET}/raw/data.csv": b"a,b\n",
    # the console's "Create folder" marker is the prefix itself, not a file
    f"s3://{BUCKET}/dags/": b"",
}


def test_prune_removes_the_deleted_spec_and_nothing_else(capsys, url: str, s3: Any, project: Path) -> None:
    assert deploy(capsys, url, project).code == 0
    for uri, body in OUTSIDE.items():
        s3.put_object(Bucket=split(uri)[0], Key=split(uri)[1], Body=body)
    retired_job = f"{SCRIPTS_URI}retired_job.py"
    s3.put_object(Bucket=DATA_BUCKET, Key="spark_jobs/retired_job.py", Body=b"print('retired')\n")
    (project / "pipelines" / "salary_batch_etl.yaml").unlink()
    deleted_spec = f"{DAGS_URI}pipelines/salary_batch_etl.yaml"
    deleted_entry = f"{DAGS_URI}compiled/pipelines/salary_batch_etl.yaml.json"
    uris = bundle_uris(project)
    unchanged = [line("unchanged", uri) for uri in uris]

    kept = deploy(capsys, url, project)
    assert (kept.code, kept.err) == (0, [])
    assert kept.out == [
        *head(specs=2),
        line("keep", deleted_spec) + "  (not in the bundle; --prune deletes it)",
        line("keep", deleted_entry) + "  (not in the bundle; --prune deletes it)",
        line("keep", retired_job) + "  (not in the bundle; --prune deletes it)",
        *unchanged,
        f"summary: 0 added, 0 changed, 0 deleted, {len(uris)} unchanged; 3 remote-only file(s) kept",
    ]

    pruned = deploy(capsys, url, project, "--prune")
    assert pruned.code == 0
    assert pruned.out == [
        *head(specs=2),
        line("delete", deleted_spec),  # specs, then their entries, then the scripts a running task may still need
        line("delete", deleted_entry),
        line("delete", retired_job),
        *unchanged,
        f"summary: 0 added, 0 changed, 3 deleted, {len(uris)} unchanged",
    ]
    assert pruned.err == progress_lines("delete", [deleted_spec, deleted_entry, retired_job])
    assert_bucket_holds_the_bundle(s3, project, uris, extra=OUTSIDE)
    history = versions(s3)
    # A delete marker: the spec's last version stays recoverable in the versioned bucket.
    assert history[deleted_spec] == ["put", "deleted"]
    assert {uri: history[uri] for uri in OUTSIDE} == {uri: ["put"] for uri in OUTSIDE}


def break_spec(project: Path) -> None:
    """The README's broken spec: an invalid cron expression and a typo."""
    spec = project / "pipelines" / "salary_batch_etl.yaml"
    text = spec.read_text().replace('schedule: "0 0 * * *"', 'schedule: "0 0 0 * *"')
    spec.write_text(text.replace("      deploy_mode: client", "      deploymode: client"))


def test_an_invalid_spec_blocks_the_whole_deploy(
    capsys, url: str, s3: Any, project: Path, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert deploy(capsys, url, project).code == 0
    # A valid new spec and a stale script: both would be deployed or pruned, if anything were.
    shutil.copy(project / "pipelines" / "emr_notebook_best_sellers.yaml", project / "pipelines" / "new_pipeline.yaml")
    (project / "spark_jobs" / "salary_averages.py").unlink()
    break_spec(project)
    before = versions(s3)

    run = deploy(capsys, url, project, "--prune")

    monkeypatch.chdir(project)
    assert dagen(["validate", "pipelines/"]) == 1
    assert run.out == capsys.readouterr().out.splitlines()  # what `dagen validate pipelines/` prints
    diagnostics = console_block((repo / "README.md").read_text(), "dagen validate pipelines/")[:-1]
    assert run.out == [*diagnostics, "2 error(s) in 1 of 4 file(s)"]
    assert run.code == 1
    assert run.err == [
        "dagen deploy: the specs have errors (above); nothing was uploaded",
        "    hint: fix them (dagen validate pipelines/) and deploy again",
    ]
    assert versions(s3) == before


@pytest.mark.parametrize(
    ("bucket", "versioning", "error"),
    [
        (
            "dagen-dags",
            "Enabled",
            [
                "dagen deploy: bucket 'dagen-dags' cannot hold MWAA DAGs: its name must start with 'airflow-'",
                "    hint: pass the environment's DAGs bucket (DagsBucketName of cloudformation/mwaa-environment.yaml)",
            ],
        ),
        (
            "airflow-unversioned",
            None,
            [
                "dagen deploy: bucket 'airflow-unversioned' does not have versioning enabled (never enabled); "
                "MWAA requires a versioned DAGs bucket",
                "    hint: aws s3api put-bucket-versioning --bucket airflow-unversioned "
                "--versioning-configuration Status=Enabled",
            ],
        ),
        (
            "airflow-suspended",
            "Suspended",
            [
                "dagen deploy: bucket 'airflow-suspended' does not have versioning enabled (suspended); "
                "MWAA requires a versioned DAGs bucket",
                "    hint: aws s3api put-bucket-versioning --bucket airflow-suspended "
                "--versioning-configuration Status=Enabled",
            ],
        ),
        (
            "airflow-missing",
            "no bucket",
            [
                "dagen deploy: bucket 'airflow-missing' does not exist",
                "    hint: create it with cloudformation/mwaa-environment.yaml (docs/deploying-stacks.md) "
                "or check --bucket",
            ],
        ),
    ],
)
def test_a_bucket_mwaa_cannot_use_is_refused(
    capsys, url: str, project: Path, bucket: str, versioning: str | None, error: list[str]
) -> None:
    s3 = make_buckets(url, dags_bucket="airflow-dagen-test")
    if versioning != "no bucket":
        s3.create_bucket(Bucket=bucket)
        if versioning:
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": versioning})
    run = deploy(capsys, url, project, bucket=bucket)
    assert (run.code, run.out, run.err) == (1, ["3 file(s) checked, no errors"], error)
    if versioning != "no bucket":
        assert s3.list_object_versions(Bucket=bucket).get("Versions", []) == []
    assert versions(s3) == {}  # nor a script


def test_without_scripts_uri_the_scripts_are_left_alone(capsys, url: str, s3: Any, project: Path) -> None:
    s3.put_object(Bucket=DATA_BUCKET, Key="spark_jobs/retired_job.py", Body=b"print('retired')\n")
    capsys.readouterr()
    code = main(["--bucket", BUCKET, "--endpoint-url", url, "--project", str(project), "--prune", "--no-parse-budget"])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[2:4] == [
        f"deploy to {DAGS_URI} for MWAA Airflow 3.3.1 (Python 3.12)",
        "scripts: not deployed (no --scripts-uri): spark_jobs/ is neither uploaded nor pruned",
    ]
    assert not any(SCRIPTS_URI in text for text in out)
    history = versions(s3)
    assert history.pop(f"{SCRIPTS_URI}retired_job.py") == ["put"]
    assert history == {uri: ["put"] for uri in bundle_uris(project) if uri.startswith(DAGS_URI)}


def test_killing_the_server_mid_deploy_fails_clearly_and_a_rerun_converges(
    capsys, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No retries: a refused connection fails at once instead of after botocore's back-off.
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    first = start_server()
    url = url_of(first)
    port = first.get_host_and_port()[1]
    remove_buckets(url)
    make_buckets(url)
    uris = bundle_uris(project)
    survived = 20

    def kill_after(done: int, step: Any) -> None:
        if done == survived:
            first.stop()

    broken = deploy(capsys, url, project, on_step=kill_after)

    failed = uris[survived]
    assert failed.startswith(f"{DAGS_URI}generator/")  # mid-package: the worst place to stop
    source = failed.removeprefix(DAGS_URI)
    assert broken.code == 1
    assert broken.err == [
        *progress_lines("add", uris)[:survived],
        f"dagen deploy: uploading {source} to {failed} failed: "
        f'Could not connect to the endpoint URL: "{url}/{BUCKET}/dags/{source}"',
        f"    hint: {survived} of {len(uris)} operation(s) done, in order; "
        "rerun dagen deploy to finish (it uploads only what still differs)",
    ]
    assert broken.out[-1] == line("add", uris[-1])  # the plan, then no summary

    second = start_server(port)  # moto's state is process-wide: the bucket is as the first server left it
    try:
        s3 = client_for(url)
        assert sorted(versions(s3)) == sorted(uris[:survived])
        rerun = deploy(capsys, url, project)
        assert rerun.code == 0
        assert rerun.out == [
            *head(),
            *(line("add", uri) for uri in uris[survived:]),
            *(line("unchanged", uri) for uri in uris[:survived]),
            f"summary: {len(uris) - survived} added, 0 changed, 0 deleted, {survived} unchanged",
        ]
        assert rerun.err == progress_lines("add", uris[survived:])
        converged = deploy(capsys, url, project)
        assert converged.out[-1] == f"summary: 0 added, 0 changed, 0 deleted, {len(uris)} unchanged"
        assert versions(s3) == {uri: ["put"] for uri in uris}
        assert_bucket_holds_the_bundle(s3, project, uris)
    finally:
        remove_buckets(url)
        second.stop()


def test_an_aws_error_mid_deploy_names_the_file_and_the_cause(capsys, url: str, s3: Any, project: Path) -> None:
    """An error S3 answers (not a network failure): the scripts' bucket vanishes after the first upload."""
    uris = bundle_uris(project)

    def drop_scripts_bucket(done: int, step: Any) -> None:
        if done == 1:
            s3.delete_bucket(Bucket=DATA_BUCKET)

    run = deploy(capsys, url, project, on_step=drop_scripts_bucket)

    assert uris[1] == f"{SCRIPTS_URI}best_sellers.py"
    assert run.code == 1
    assert run.err == [
        f"[1/{len(uris)}] add {uris[0]}",
        f"dagen deploy: uploading spark_jobs/best_sellers.py to {uris[1]} failed: "
        "NoSuchBucket: The specified bucket does not exist",
        f"    hint: 1 of {len(uris)} operation(s) done, in order; "
        "rerun dagen deploy to finish (it uploads only what still differs)",
    ]
    assert versions(s3) == {uris[0]: ["put"]}


def test_the_listing_decides_and_metadata_settles_what_it_cannot(capsys, url: str, s3: Any, project: Path) -> None:
    """A multipart upload's ETag is not an MD5: the SHA-256 metadata (a HEAD, not a download) decides."""
    assert deploy(capsys, url, project).code == 0

    def multipart(key: str, body: bytes, metadata: dict[str, str]) -> None:
        upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key, Metadata=metadata)["UploadId"]
        part = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=1, Body=body)
        s3.complete_multipart_upload(
            Bucket=BUCKET,
            Key=key,
            UploadId=upload,
            MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
        )
        assert s3.head_object(Bucket=BUCKET, Key=key)["ETag"].endswith('-1"')

    defaults = project / "pipelines" / "defaults.yaml"
    multipart("dags/pipelines/defaults.yaml", defaults.read_bytes(), {"dagen-sha256": _sha256(defaults)})
    schema = project / "schemas" / "pipeline.schema.json"
    multipart("dags/schemas/pipeline.schema.json", schema.read_bytes(), {})  # same bytes, but nothing proves it

    run = deploy(capsys, url, project)
    changed = f"{DAGS_URI}schemas/pipeline.schema.json"
    assert run.out[5:7] == [line("change", changed), line("unchanged", f"{DAGS_URI}.airflowignore")]
    assert line("unchanged", f"{DAGS_URI}pipelines/defaults.yaml") in run.out
    assert run.out[-1] == f"summary: 0 added, 1 changed, 0 deleted, {len(bundle_uris(project)) - 1} unchanged"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_missing_credentials_is_one_line(capsys, url: str, s3: Any, project: Path, monkeypatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    run = deploy(capsys, url, project)
    assert (run.code, run.err) == (
        1,
        [
            "dagen deploy: no AWS credentials found",
            "    hint: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run in CI with OIDC",
        ],
    )


def test_missing_boto3_is_one_line(capsys, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # what `import boto3` meets where it is not installed
    run = deploy(capsys, "http://127.0.0.1:9", project)
    assert (run.code, run.err) == (
        1,
        [
            "dagen deploy: boto3 is not installed (deploy needs it to talk to S3)",
            "    hint: pip install boto3 into dagen's environment",
        ],
    )


def sync(s3: Any, folder: Path, prefix: str = "dags/") -> Path:
    """The objects under ``prefix`` copied into an empty ``folder``, as MWAA syncs its DAGs folder."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        for item in page.get("Contents", []):
            target = folder / item["Key"].removeprefix(prefix)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read())
    return folder


def probe(folder: Path, tmp_path: Path, cache: Path | None = None) -> dict[str, Any]:
    """What this lane's Airflow loads from a synced DAGs folder, with only the bundle's own package.

    The compile cache is ``cache``, else an empty folder: the first parse on a new MWAA container.
    """
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["AIRFLOW_HOME"] = str(tmp_path / "airflow-home")
    if cache is None:
        cache = Path(tempfile.mkdtemp(prefix="cache-", dir=tmp_path))
    env["DAGEN_CACHE_DIR"] = str(cache)
    done = subprocess.run(
        [sys.executable, "-I", "-S", str(PROBE), str(folder), *site.getsitepackages()],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_the_downloaded_bundle_loads_every_seed_dag_with_its_own_package(
    capsys, url: str, s3: Any, project: Path, tmp_path: Path
) -> None:
    """The DAGs prefix, synced into an empty folder as MWAA does, is a DAGs folder Airflow loads."""
    assert deploy(capsys, url, project).code == 0
    folder = sync(s3, tmp_path / "mwaa" / "dags")
    assert (folder / "generator" / "loader" / "airflow_loader.py").is_file()

    report = probe(folder, tmp_path)
    assert report["installed_generator"] is None  # nothing but the bundle can provide the package
    assert report["generator"] == str(folder / "generator" / "__init__.py")
    assert report["airflow"] == VERSION
    assert report["import_errors"] == {}
    assert report["dag_ids"] == SEEDS
    assert report["compiled"] == []  # an empty cache: every spec served from the shipped build
    assert all("dagen:invalid-spec" not in tags for tags in report["tags"].values())
    # The DAG processor's view with the lane's default .airflowignore syntax: the loader and nothing else.
    assert report["ignore_syntax"] == {3: "glob", 2: "regexp"}[airflow_major()]
    assert report["listed"] == report["parsed"] == ["pipelines_loader.py"]


BUDGET_HINT = (
    "    hint: raise the environment's core.dagbag_import_timeout (and pass it as --import-timeout), move pipelines "
    "to another environment, or pass --force to deploy anyway (docs/deploying-dags.md, 'The parse budget')"
)


def seconds_out(lines: list[str]) -> list[str]:
    return [re.sub(r"\d+\.\d\d s\b", "N s", text) for text in lines]


def test_a_bundle_that_parses_past_the_import_timeout_is_refused_before_any_upload(
    capsys, url: str, s3: Any, project: Path, repo: Path
) -> None:
    run = deploy(capsys, url, project, "--import-timeout", "0.1", measure_parse=True)
    assert run.code == 1
    assert run.out == ["3 file(s) checked, no errors"]
    assert seconds_out(run.err) == [
        "dagen deploy: pipelines_loader.py: parse budget exceeded: the loader parses 3 spec(s) into 3 DAG(s) in "
        "N s cold (the first parse after this deploy), N s warm; import timeout 0.1 s; nothing was uploaded",
        BUDGET_HINT,
    ]
    assert versions(s3) == {}
    example = console_block(
        (repo / "docs" / "deploying-dags.md").read_text(), f"dagen deploy --bucket {BUCKET} --import-timeout 0.1"
    )
    assert seconds_out(example) == seconds_out([*run.out, *run.err])

    forced = deploy(capsys, url, project, "--import-timeout", "0.1", "--force", measure_parse=True)
    assert forced.code == 0
    assert seconds_out(forced.err[:2]) == [
        "dagen deploy: warning: pipelines_loader.py: parse budget exceeded: the loader parses 3 spec(s) into 3 DAG(s) "
        "in N s cold (the first parse after this deploy), N s warm; import timeout 0.1 s (deploying anyway: --force)",
        BUDGET_HINT,
    ]
    assert set(versions(s3)) == set(bundle_uris(project))


def tamper(folder: Path, spec: str, change: Callable[[dict], None]) -> None:
    entry = folder / "compiled" / "pipelines" / f"{spec}.yaml.json"
    data = json.loads(entry.read_text())
    change(data)
    entry.write_text(json.dumps(data))


def _wrong_key(entry: dict) -> None:
    entry["key"] = "0" * 64


def _unlisted_type(entry: dict) -> None:
    pairs = dict(entry["config"]["d"])
    pairs["dagrun_timeout"] = {"c": "os.system", "a": ["echo pwned"], "k": []}
    entry["config"]["d"] = list(map(list, pairs.items()))


def _bare_type_key(entry: dict) -> None:
    pairs = dict(entry["config"]["d"])
    pairs["dagrun_timeout"] = {"__type__": "os.system", "__args__": ["echo pwned"]}
    entry["config"]["d"] = list(map(list, pairs.items()))


@pytest.mark.parametrize("change", [_wrong_key, _unlisted_type, _bare_type_key], ids=lambda f: f.__name__[1:])
def test_a_tampered_shipped_entry_is_ignored_and_its_spec_compiled(
    capsys, url: str, s3: Any, project: Path, tmp_path: Path, change: Callable[[dict], None]
) -> None:
    assert deploy(capsys, url, project).code == 0
    folder = sync(s3, tmp_path / "mwaa" / "dags")
    tamper(folder, "salary_batch_etl", change)
    report = probe(folder, tmp_path)
    assert report["import_errors"] == {}
    assert report["dag_ids"] == SEEDS
    assert report["compiled"] == ["salary_batch_etl"]  # never trusted: compiled from the spec
    assert all("dagen:invalid-spec" not in tags for tags in report["tags"].values())


def test_the_docs_example_is_what_the_command_prints(capsys, url: str, project: Path, repo: Path) -> None:
    """docs/deploying-dags.md's example, whose "..." lines stand for unchanged files left out."""
    bucket, data = DOCS_BUCKETS
    argv = ["--bucket", bucket, "--scripts-uri", f"s3://{data}/spark_jobs/", "--prune"]
    s3 = client_for(url)
    for name in (bucket, data):
        s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert main([*argv, "--endpoint-url", url, "--project", str(project), "--no-parse-budget"]) == 0
    spec = project / "pipelines" / "salary_batch_etl.yaml"
    spec.write_text(spec.read_text().replace("description: ", "description: Nightly. "))
    (project / "pipelines" / "emr_notebook_best_sellers.yaml").unlink()
    script = project / "spark_jobs" / "salary_averages.py"
    script.write_text(script.read_text() + "\n")
    capsys.readouterr()

    assert main([*argv, "--endpoint-url", url, "--project", str(project)]) == 0

    captured = capsys.readouterr()
    out, err = captured.out.splitlines(), captured.err.splitlines()
    # as a terminal shows them (progress goes to stderr); the parse budget's seconds are this machine's
    printed = [re.sub(r"\d+\.\d\d s\b", "N s", text) for text in [*out[:-1], *err, out[-1]]]
    example = console_block((repo / "docs" / "deploying-dags.md").read_text(), f"dagen deploy {' '.join(argv)}")
    example = [re.sub(r"\d+\.\d\d s\b", "N s", text) for text in example]
    segments: list[list[str]] = [[]]
    for text in example:
        if text.strip() == "...":
            segments.append([])
        else:
            segments[-1].append(text)
    summary = segments[-1].pop()
    position = 0
    for segment in segments:  # each run of lines between "..." is printed as is, in this order
        starts = [i for i in range(position, len(printed)) if printed[i : i + len(segment)] == segment]
        assert starts, segment
        position = starts[0] + len(segment)
    unchanged = len(bundle_uris(project)) - 3  # the script, the spec and its compiled entry changed
    # the docs' count of unchanged files is the one of the day they were written (the package grows)
    assert printed[position:] == [re.sub(r"\d+ unchanged$", f"{unchanged} unchanged", summary)]


ATHENA_SPEC = """\
description: Daily event counts.
schedule: "@daily"
start_date: 2024-01-01
tasks:
  counts:
    type: athena_query
    query_file: sql/{name}.sql
    database: analytics
    workgroup: analytics
"""


def test_sql_files_go_up_before_the_specs_that_read_them_and_every_state_compiles(
    capsys, url: str, s3: Any, project: Path, tmp_path: Path
) -> None:
    pipelines = project / "pipelines"
    (pipelines / "sql").mkdir()
    (pipelines / "sql" / "counts_v1.sql").write_text("SELECT count(*) FROM events WHERE day = DATE '{{ ds }}'\n")
    (pipelines / "athena_counts.yaml").write_text(ATHENA_SPEC.format(name="counts_v1"))
    spec = f"{DAGS_URI}pipelines/athena_counts.yaml"
    v1, v2 = f"{DAGS_URI}pipelines/sql/counts_v1.sql", f"{DAGS_URI}pipelines/sql/counts_v2.sql"
    problems: list[tuple[str, list[str]]] = []

    def every_state_compiles(done: int, step: Any) -> None:
        """After each operation, what a sync would copy of pipelines/ compiles without a diagnostic."""
        synced = sync(s3, tmp_path / "synced", prefix="dags/pipelines/")
        for result in process([synced], profile=installed_profile(), airflow_major=airflow_major()):
            if result.diagnostics:
                problems.append((step.path, [d.text() for d in result.diagnostics]))

    first = deploy(capsys, url, project, on_step=every_state_compiles)
    assert (first.code, problems) == (0, [])
    added = [text.split()[-1] for text in first.out if text.startswith("  add ")]
    assert added.index(v1) < added.index(spec)  # the SQL before the spec that reads it

    # The spec moves to a new file: the new file goes up first, the old one is deleted only after the spec.
    (pipelines / "sql" / "counts_v1.sql").unlink()
    (pipelines / "sql" / "counts_v2.sql").write_text("SELECT count(*) FROM orders WHERE day = DATE '{{ ds }}'\n")
    (pipelines / "athena_counts.yaml").write_text(ATHENA_SPEC.format(name="counts_v2"))
    second = deploy(capsys, url, project, "--prune", on_step=every_state_compiles)
    assert (second.code, problems) == (0, [])
    done = [text.split("] ", 1)[1] for text in second.err if text.startswith("[")]
    assert [operation for operation in done if "/dags/pipelines/" in operation] == [
        f"add {v2}",
        f"change {spec}",
        f"delete {v1}",
    ]

    # Airflow loads the synced bundle, and the Athena task runs the SQL of the file.
    report = probe(sync(s3, tmp_path / "mwaa" / "dags"), tmp_path)
    assert report["import_errors"] == {}
    assert report["dag_ids"] == sorted([*SEEDS, "athena_counts"])
    assert "dagen:invalid-spec" not in report["tags"]["athena_counts"]
    assert report["athena_queries"] == {
        "athena_counts.counts": "SELECT count(*) FROM orders WHERE day = DATE '{{ ds }}'\n"
    }
