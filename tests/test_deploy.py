"""``dagen deploy`` against a real S3-compatible server on loopback (moto's server mode).

Nothing is patched: the command builds its own boto3 client for ``--endpoint-url``.
The buckets are versioned like MWAA's, so every PUT leaves a version behind and
"uploads nothing" is checked by counting versions, not by trusting the output.
"""

from __future__ import annotations

import contextlib
import functools
import getpass
import hashlib
import io
import json
import logging
import os
import re
import shutil
import site
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
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
from tests.s3_fault_proxy import FaultProxy
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
MANIFEST_KEY, LOCK_KEY = (uri.removeprefix(f"s3://{BUCKET}/") for uri in RECORDS)
LOADER_URI = f"{DAGS_URI}pipelines_loader.py"
KEPT_LIVE = "a release MWAA may still parse: kept"
OLDER = "an older release dagen uploaded"
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


def deploy_argv(url: str, project: Path, *extra: str, bucket: str = BUCKET, measure_parse: bool = False) -> list[str]:
    return [
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
    ]


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
    code = main(deploy_argv(url, project, *extra, bucket=bucket, measure_parse=measure_parse), on_step=on_step)
    captured = capsys.readouterr()
    return Run(code, captured.out.splitlines(), captured.err.splitlines())


def deploy_interleaved(url: str, project: Path, *extra: str) -> tuple[int, list[str]]:
    """A deploy's stdout and stderr in one stream, in the order they were written (as a terminal shows them)."""
    both = io.StringIO()
    with contextlib.redirect_stdout(both), contextlib.redirect_stderr(both):
        code = main(deploy_argv(url, project, *extra))
    return code, both.getvalue().splitlines()


# ------------------------------------------------------ what the output should be


def release_files(project: Path, version: str = VERSION) -> dict[str, bytes]:
    """What one release holds (path within it -> content), in upload order (see docs/deploying-dags.md)."""
    pipelines = project / "pipelines"
    specs = sorted(p.name for p in pipelines.glob("*.yaml") if p.name != "defaults.yaml")
    code = sorted(p.relative_to(pipelines).as_posix() for p in pipelines.rglob("*") if p.suffix in (".py", ".sql"))
    compiled = shipped_build(project, version)
    return {
        **{f"schemas/{name}": (project / "schemas" / name).read_bytes() for name in SCHEMA_FILES},
        **{f"generator/{module}": (PACKAGE_DIR / module).read_bytes() for module in package_modules()},
        **{f"pipelines/{path}": (pipelines / path).read_bytes() for path in code},  # what the specs call or read
        **{f"compiled/pipelines/{name}.json": compiled[f"compiled/pipelines/{name}.json"] for name in specs},
        "pipelines/defaults.yaml": (project / "pipelines" / "defaults.yaml").read_bytes(),
        **{f"pipelines/{name}": (project / "pipelines" / name).read_bytes() for name in specs},
    }


@functools.cache
def package_modules() -> list[str]:
    """The package's modules in upload order (the package does not change while the tests run)."""
    return [path.relative_to(PACKAGE_DIR).as_posix() for path in package_upload_order(PACKAGE_DIR)]


def release_name(project: Path, version: str = VERSION) -> str:
    return release_id(list(release_files(project, version).items()))


def bundle_uris(project: Path, version: str = VERSION) -> list[str]:
    """Every file of the bundle, in the order it must be uploaded: the release whole, then the loader naming it."""
    return list(expected_objects(project, version))


def expected_objects(project: Path, version: str = VERSION) -> dict[str, bytes]:
    """What the bucket holds after a deploy of ``project`` for ``version``: URI -> content."""
    release = release_files(project, version)
    name = release_id(list(release.items()))
    loader = (project / "dags" / "pipelines_loader.py").read_text(encoding="utf-8")
    return {
        f"{DAGS_URI}.airflowignore": AIRFLOWIGNORE.encode(),
        **{
            f"{SCRIPTS_URI}{path.name}": path.read_bytes()
            for path in sorted((project / "spark_jobs").iterdir())
            if path.suffix in (".py", ".ipynb")
        },
        f"{DAGS_URI}requirements.txt": requirements_txt(version).encode(),
        **{f"{DAGS_URI}releases/{name}/{path}": content for path, content in release.items()},
        f"{DAGS_URI}pipelines_loader.py": loader.replace('RELEASE = ""', f'RELEASE = "releases/{name}"').encode(),
    }


def shipped_build(project: Path, version: str = VERSION) -> dict[str, bytes]:
    """The entries the deploy ships: each spec compiled for the version (the lane's), under the loader's cache key."""
    profile = MODERN if version.startswith("3.") else LEGACY
    results = process([project / "pipelines"], profile=profile, airflow_major=int(version[0]), root=project)
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
    return progress_of([(action, uri) for uri in uris])


def progress_of(operations: list[tuple[str, str]]) -> list[str]:
    """The progress lines of these operations (action, URI); a copy in S3 shows as add."""
    return [f"[{done}/{len(operations)}] {action} {uri}" for done, (action, uri) in enumerate(operations, start=1)]


def release_folder(name: str) -> str:
    return f"{DAGS_URI}releases/{name}/"


def release_uris(project: Path) -> list[str]:
    """The files of the release of ``project``, in upload order."""
    folder = release_folder(release_name(project))
    return [uri for uri in bundle_uris(project) if uri.startswith(folder)]


def release_line(action: str, name: str, files: int) -> str:
    """The one plan line of a whole release kept or deleted."""
    return line(action, release_folder(name)) + f"  ({files} file(s): {KEPT_LIVE if action == 'keep' else OLDER})"


def within(uri: str) -> str:
    """The path of a release's file within the release."""
    return uri.split("/releases/", 1)[1].split("/", 1)[1]


def deletion_order(uris: list[str]) -> list[str]:
    """A release's files in the order a deploy deletes them: the upload phases reversed (specs, defaults.yaml,
    compiled entries, pipelines/**.py and .sql, package, schemas), by path within each."""

    def rank(uri: str) -> int:
        path = within(uri)
        if path.startswith("schemas/"):
            return 5
        if path.startswith("generator/"):
            return 4
        if path.startswith("pipelines/") and path.endswith((".py", ".sql")):
            return 3
        if path.startswith("compiled/"):
            return 2
        return 1 if path == "pipelines/defaults.yaml" else 0

    return sorted(uris, key=lambda uri: (rank(uri), uri))


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
    """Every key of both buckets but dagen's own records, with its history, oldest first: "put" or "deleted"."""
    return {uri: kinds for uri, kinds in history(s3).items() if uri not in RECORDS}


def record_versions(s3: Any) -> dict[str, list[str]]:
    """The history of dagen's own records (the manifest, the lock), as :func:`versions` gives it."""
    return {uri: kinds for uri, kinds in history(s3).items() if uri in RECORDS}


def history(s3: Any) -> dict[str, list[str]]:
    """Every key of both buckets with its history, oldest first: "put" or "deleted"."""
    found: dict[str, list[tuple[str, str]]] = {}
    for bucket in (BUCKET, DATA_BUCKET):
        try:
            pages = list(s3.get_paginator("list_object_versions").paginate(Bucket=bucket))
        except s3.exceptions.NoSuchBucket:
            continue
        for page in pages:
            for kind, entries in (("put", page.get("Versions", [])), ("deleted", page.get("DeleteMarkers", []))):
                for entry in entries:
                    found.setdefault(f"s3://{bucket}/{entry['Key']}", []).append((entry["LastModified"], kind))
    return {uri: [kind for _, kind in sorted(entries, key=lambda e: e[0])] for uri, entries in found.items()}


def current_objects(s3: Any) -> dict[str, bytes]:
    """The current content of every object of both buckets but dagen's records (the test downloads them all; the
    deploy reads only its records and the loader)."""
    found = {}
    for bucket in (BUCKET, DATA_BUCKET):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                if f"s3://{bucket}/{item['Key']}" not in RECORDS:
                    found[f"s3://{bucket}/{item['Key']}"] = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return found


def record(s3: Any, key: str) -> Any:
    """One of dagen's own records (JSON) as the bucket holds it now, or None."""
    try:
        return json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    except ClientError as error:
        assert error.response["Error"]["Code"] == "NoSuchKey"
        return None


def managed(uris: list[str]) -> dict[str, list[str]]:
    """What a manifest lists for these URIs: folder URI -> the paths below it."""
    folders: dict[str, list[str]] = {}
    for uri in uris:
        folder = DAGS_URI if uri.startswith(DAGS_URI) else SCRIPTS_URI
        folders.setdefault(folder, []).append(uri.removeprefix(folder))
    return {folder: sorted(paths) for folder, paths in folders.items()}


def manifest_of(uris: list[str], releases: list[str]) -> dict[str, Any]:
    """The manifest that lists ``uris`` as dagen's, with the releases the loader was switched to, oldest first."""
    return {"format": 1, "releases": releases, "managed": managed(uris)}


def assert_records_list(s3: Any, uris: list[str], releases: list[str]) -> None:
    """Between deploys: the manifest lists exactly ``uris``, per folder URI, and ``releases``; no lock is left."""
    assert record(s3, MANIFEST_KEY) == manifest_of(uris, releases)
    assert record(s3, LOCK_KEY) is None


def holder_pattern() -> str:
    """What a lock names: who took it, where, in which process of this test, when."""
    return (
        rf"{re.escape(getpass.getuser())}@{re.escape(socket.gethostname())} \(process {os.getpid()}\), "
        r"started \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00"
    )


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
    during: list[tuple[Any, Any]] = []

    def records_during(done: int, step: Any) -> None:
        if done == 1:
            during.append((record(s3, MANIFEST_KEY), record(s3, LOCK_KEY)))

    run = deploy(capsys, url, project, on_step=records_during)
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
    # The manifest listed the whole bundle before the first upload, while the deploy held the lock.
    [(manifest, lock)] = during
    assert manifest == manifest_of(uris, [])  # no release switched to yet
    assert re.fullmatch(holder_pattern(), lock["holder"]), lock
    assert_records_list(s3, uris, [release_name(project)])
    assert record_versions(s3) == {RECORDS[0]: ["put", "put"], RECORDS[1]: ["put", "deleted"]}


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
    assert_records_list(s3, uris, [release_name(project)])  # the same release: switched to once


def edit(project: Path, spec: str) -> list[str]:
    """Edit a spec's description; returns what changes in the release: the spec's compiled entry and the spec."""
    path = project / "pipelines" / f"{spec}.yaml"
    path.write_text(path.read_text().replace("description: ", "description: Nightly. ", 1))
    folder = release_folder(release_name(project))
    return [f"{folder}compiled/pipelines/{spec}.yaml.json", f"{folder}pipelines/{spec}.yaml"]


def test_an_edited_spec_is_a_new_release_of_copies_and_the_two_releases_before_are_kept(
    capsys, url: str, s3: Any, project: Path
) -> None:
    """Each edit is a new release: its unchanged files copied in S3, the edited spec and its entry added, the
    loader switched to it.  The release MWAA parses and the one before stay (a sync may lag behind a switch);
    an older one is deleted, --prune or not."""
    assert deploy(capsys, url, project).code == 0
    names = [release_name(project)]  # every release deployed, oldest first
    files = {names[0]: release_uris(project)}  # each release's files, in upload order
    objects = expected_objects(project)  # every object any deploy uploaded, with its content
    written = {uri: ["put"] for uri in bundle_uris(project)}  # every key's versions, as versions() lists them
    gone: list[str] = []

    for spec in ("salary_batch_etl", "movielens_emr_step_functions", "emr_notebook_best_sellers"):
        edited = edit(project, spec)
        uris, name, release = bundle_uris(project), release_name(project), release_uris(project)
        assert name not in names
        others = [uri for uri in uris if uri not in release and uri != LOADER_URI]  # outside the release
        kept = sorted(names[-2:])  # the one MWAA parses and the one before; their lines go by name
        deleted = [old for old in names[:-2] if old not in gone]
        removed = deletion_order([uri for old in deleted for uri in files[old]])
        kept_files = [uri for old in kept for uri in files[old]]

        run = deploy(capsys, url, project)

        assert run.code == 0
        assert run.out == [
            *head(),
            # the release whole, its unchanged files copied from the releases there, then the loader switches to it
            *(line("add" if uri in edited else "copy", uri) for uri in release),
            line("change", LOADER_URI),
            *(release_line("delete", old, len(files[old])) for old in deleted),
            *(release_line("keep", old, len(files[old])) for old in kept),
            *(line("unchanged", uri) for uri in others),
            f"summary: {len(release)} added ({len(release) - 2} copied in S3), 1 changed, {len(removed)} deleted, "
            f"{len(others)} unchanged; {len(kept_files)} remote-only file(s) kept",
        ]
        assert run.err == progress_of(
            [*(("add", uri) for uri in release), ("change", LOADER_URI), *(("delete", uri) for uri in removed)]
        )
        written |= {uri: ["put"] for uri in release} | {uri: ["put", "deleted"] for uri in removed}
        written[LOADER_URI].append("put")
        assert versions(s3) == written  # a delete marker: a deleted release stays recoverable
        names.append(name)
        files[name] = release
        objects |= expected_objects(project)
        gone += deleted
        assert_bucket_holds_the_bundle(s3, project, uris, extra={uri: objects[uri] for uri in kept_files})
        assert_records_list(s3, [*uris, *kept_files], names)

    assert gone == names[:1]  # the last deploy deleted the first release


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
    assert record_versions(s3) == {}  # neither a lock taken nor a manifest written

    # Nor does it wait for a deploy that holds the lock: it only reads.
    s3.put_object(Bucket=BUCKET, Key=LOCK_KEY, Body=b'{"holder": "the CI deploy"}\n')
    assert deploy(capsys, url, project, "--dry-run").out == run.out
    assert record_versions(s3) == {RECORDS[1]: ["put"]}
    assert record(s3, LOCK_KEY) == {"holder": "the CI deploy"}


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
BY_HAND = {
    # under the prefixes, but never uploaded by dagen
    f"{DAGS_URI}hand_written_dag.py": b"from airflow import DAG\n",
    f"{DAGS_URI}plugins.zip": b"PK",
    f"{DAGS_URI}README.md": b"# What is in this bucket\n",
    f"{SCRIPTS_URI}hand_copied_job.py": b"print('copied by hand')\n",
}
UNMANAGED = "  (not managed by dagen: left alone)"


def test_prune_deletes_what_dagen_uploaded_and_retired_and_never_what_it_did_not_upload(
    capsys, url: str, s3: Any, project: Path
) -> None:
    retired = project / "spark_jobs" / "retired_job.py"
    retired.write_text("print('retired')\n")
    assert deploy(capsys, url, project).code == 0  # the retired job is uploaded, so dagen's to delete
    for uri, body in {**OUTSIDE, **BY_HAND}.items():
        s3.put_object(Bucket=split(uri)[0], Key=split(uri)[1], Body=body)
    retired.unlink()
    retired_job = f"{SCRIPTS_URI}retired_job.py"
    uris = bundle_uris(project)
    unchanged = [line("unchanged", uri) for uri in uris]
    # unknown files under the DAGs prefix, then the scripts, each by path
    not_managed = [line("keep", uri) + UNMANAGED for uri in sorted(BY_HAND) if uri.startswith(DAGS_URI)]
    not_managed.append(line("keep", f"{SCRIPTS_URI}hand_copied_job.py") + UNMANAGED)

    kept = deploy(capsys, url, project)
    assert (kept.code, kept.err) == (0, [])
    assert kept.out == [
        *head(),
        *not_managed,
        line("keep", retired_job) + "  (not in the bundle; --prune deletes it)",
        *unchanged,
        f"summary: 0 added, 0 changed, 0 deleted, {len(uris)} unchanged; 5 remote-only file(s) kept",
    ]
    assert_records_list(s3, [*uris, retired_job], [release_name(project)])

    code, printed = deploy_interleaved(url, project, "--prune")
    assert code == 0
    assert printed == [  # the plan first, then the deletion done
        *head(),
        line("delete", retired_job),
        *not_managed,
        *unchanged,
        f"[1/1] delete {retired_job}",
        f"summary: 0 added, 0 changed, 1 deleted, {len(uris)} unchanged; 4 remote-only file(s) kept",
    ]
    assert_bucket_holds_the_bundle(s3, project, uris, extra={**OUTSIDE, **BY_HAND})
    history = versions(s3)
    assert retired_job not in history  # the scripts' bucket is not versioned: nothing of it is left
    assert {uri: history[uri] for uri in {**OUTSIDE, **BY_HAND}} == {uri: ["put"] for uri in {**OUTSIDE, **BY_HAND}}
    assert_records_list(s3, uris, [release_name(project)])


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
    before, records_before = versions(s3), record_versions(s3)

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
    assert record_versions(s3) == records_before  # nor a lock taken


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
    assert record_versions(s3) == {}  # nor a lock or a manifest


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
    uris = [uri for uri in bundle_uris(project, version="3.3.1") if uri.startswith(DAGS_URI)]
    assert history == {uri: ["put"] for uri in uris}
    assert_records_list(s3, uris, [release_name(project, version="3.3.1")])  # the manifest lists no scripts folder


def test_killing_the_server_mid_deploy_fails_clearly_and_a_rerun_converges(
    capsys, url: str, s3: Any, project: Path
) -> None:
    """The server goes away mid-release: from the 20th operation on, every request finds its connection closed
    (a proxy in front of the server drops them, at once, where stopping the server would take half a second
    while the uploads into the release, 8 at a time, went on)."""
    proxy = FaultProxy(url)
    uris = bundle_uris(project)
    release = release_folder(release_name(project))
    survived = 20

    def kill_after(done: int, step: Any) -> None:
        if done == survived:
            proxy.reset(lambda number: "drop")

    try:
        # One attempt per request: a dropped connection fails at once instead of after botocore's back-off.
        broken = deploy(capsys, proxy.url, project, "--max-attempts", "1", on_step=kill_after)
    finally:
        proxy.close()

    done = len(broken.err) - 2
    failed = uris[done]
    assert done >= survived
    assert failed.startswith(f"{release}generator/")  # mid-release, mid-package
    assert broken.code == 1
    assert broken.err == [
        *progress_lines("add", uris)[:done],
        f"dagen deploy: uploading {within(failed)} to {failed} failed: "
        f"Connection was closed before we received a valid response from endpoint URL: "
        f'"{proxy.url}/{BUCKET}/{split(failed)[1]}".',
        f"    hint: {done} of {len(uris)} operation(s) done; "
        "rerun dagen deploy to finish (it uploads only what still differs)",
    ]
    assert broken.out[-1] == line("add", uris[-1])  # the plan, then no summary

    # The server is back (the proxy is gone): the bucket is as the killed deploy left it.
    there = [uri for uri in uris if uri in versions(s3)]
    assert there[:done] == uris[:done] and LOADER_URI not in there  # the loader never went up
    assert versions(s3) == {uri: ["put"] for uri in there}
    # The manifest had listed the whole bundle before the first upload; the lock stayed (S3 was gone).
    assert record(s3, MANIFEST_KEY) == manifest_of(uris, [])
    holder = record(s3, LOCK_KEY)["holder"]
    assert re.fullmatch(holder_pattern(), holder), holder

    refused = deploy(capsys, url, project)
    assert (refused.code, refused.out) == (1, head()[:2])
    assert refused.err == [
        f"dagen deploy: another deploy to {DAGS_URI} is in progress: {holder}; nothing was uploaded",
        f"    hint: wait for it to finish; if it died, rerun with --break-lock (the lock is {RECORDS[1]})",
    ]
    assert versions(s3) == {uri: ["put"] for uri in there}
    assert record_versions(s3)[RECORDS[1]] == ["put"]

    expected = expected_objects(project)
    missing = [uri for uri in uris if uri not in there]
    held = {expected[uri] for uri in there if uri.startswith(DAGS_URI)}
    copied = [uri for uri in missing if expected[uri] in held]  # content the prefix holds: copied in S3
    rerun = deploy(capsys, url, project, "--break-lock")
    assert rerun.code == 0
    assert rerun.out == [
        *head(),
        *(line("copy" if uri in copied else "add", uri) for uri in missing),
        *(line("unchanged", uri) for uri in there),
        f"summary: {len(missing)} added{f' ({len(copied)} copied in S3)' if copied else ''}, "
        f"0 changed, 0 deleted, {len(there)} unchanged",
    ]
    assert rerun.err == progress_lines("add", missing)
    converged = deploy(capsys, url, project)
    assert converged.out[-1] == f"summary: 0 added, 0 changed, 0 deleted, {len(uris)} unchanged"
    assert versions(s3) == {uri: ["put"] for uri in uris}
    assert_bucket_holds_the_bundle(s3, project, uris)
    assert_records_list(s3, uris, [release_name(project)])


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
        f"    hint: 1 of {len(uris)} operation(s) done; "
        "rerun dagen deploy to finish (it uploads only what still differs)",
    ]
    assert versions(s3) == {uris[0]: ["put"]}
    # S3 still answered: the lock is released; the manifest lists what the deploy set out to upload.
    assert_records_list(s3, uris, [])


def test_the_listing_decides_and_metadata_settles_what_it_cannot(capsys, url: str, s3: Any, project: Path) -> None:
    """A multipart upload's ETag is not an MD5: the SHA-256 metadata (a HEAD, not a download) decides."""
    assert deploy(capsys, url, project).code == 0
    release = release_folder(release_name(project)).removeprefix(f"s3://{BUCKET}/")

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
    multipart(f"{release}pipelines/defaults.yaml", defaults.read_bytes(), {"dagen-sha256": _sha256(defaults)})
    schema = project / "schemas" / "pipeline.schema.json"
    multipart(f"{release}schemas/pipeline.schema.json", schema.read_bytes(), {})  # same bytes, but nothing proves it

    run = deploy(capsys, url, project)
    changed = f"s3://{BUCKET}/{release}schemas/pipeline.schema.json"
    assert run.out[5:7] == [line("change", changed), line("unchanged", f"{DAGS_URI}.airflowignore")]
    assert line("unchanged", f"s3://{BUCKET}/{release}pipelines/defaults.yaml") in run.out
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
    name = release_name(project)
    assert sorted(path.name for path in folder.iterdir()) == [
        ".airflowignore",
        "dagen-manifest.json",
        "pipelines_loader.py",
        "releases",
        "requirements.txt",
    ]
    assert [path.name for path in (folder / "releases").iterdir()] == [name]
    assert (folder / "releases" / name / "generator" / "loader" / "airflow_loader.py").is_file()

    report = probe(folder, tmp_path)
    assert report["installed_generator"] is None  # nothing but the bundle can provide the package
    assert report["release"] == f"releases/{name}"
    assert report["generator"] == str(folder / "releases" / name / "generator" / "__init__.py")
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
    """Change a spec's shipped entry in a synced DAGs folder (the release its loader names)."""
    release = re.search(r'^RELEASE = "([^"]+)"', (folder / "pipelines_loader.py").read_text(), re.MULTILINE).group(1)
    entry = folder / release / "compiled" / "pipelines" / f"{spec}.yaml.json"
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


def as_in_the_docs(lines: list[str]) -> list[str]:
    """Lines with what depends on the day and the machine made neutral: the release names (ID1, ID2 in the order
    they first appear), the counts that grow with the package (progress counters, file counts of a whole release,
    the summary's added, copied and kept), the parse budget's seconds."""
    names: dict[str, str] = {}
    total = max((int(found.group(1)) for text in lines if (found := re.match(r"\[\d+/(\d+)\] ", text))), default=0)

    def counter(found: re.Match[str]) -> str:
        done = int(found.group(1))
        return f"[{done}/N]" if done <= total // 2 else f"[N-{total - done}/N]" if done < total else "[N/N]"

    out = []
    for text in lines:
        text = re.sub(
            r"releases/([0-9a-f]{16})/", lambda m: f"releases/ID{names.setdefault(m[1], len(names) + 1)}/", text
        )
        text = re.sub(r"^\[(\d+)/\d+\]", counter, text)
        text = re.sub(r"\(\d+ file\(s\): ", "(R file(s): ", text)
        text = re.sub(r"^summary: \d+ added \(\d+ copied in S3\)", "summary: A added (C copied in S3)", text)
        text = re.sub(r"; \d+ remote-only file\(s\) kept$", "; K remote-only file(s) kept", text)
        out.append(re.sub(r"\d+\.\d\d s\b", "N s", text))
    return out


def test_the_docs_example_is_what_the_command_prints(capsys, url: str, project: Path, repo: Path) -> None:
    """docs/deploying-dags.md's example, whose "..." lines stand for lines left out.

    The release names and the counts that grow with the package are those of the day the docs were written:
    both sides are compared through :func:`as_in_the_docs`, and the real figures are checked on their own.
    """
    bucket, data = DOCS_BUCKETS
    argv = ["--bucket", bucket, "--scripts-uri", f"s3://{data}/spark_jobs/", "--prune"]
    s3 = client_for(url)
    for name in (bucket, data):
        s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    retired = project / "spark_jobs" / "weekly_report.py"
    retired.write_text("print('weekly')\n")
    assert main([*argv, "--endpoint-url", url, "--project", str(project), "--no-parse-budget"]) == 0
    version = "3.3.1"  # the default: the example names none
    before, before_name = release_files(project, version), release_name(project, version)
    spec = project / "pipelines" / "salary_batch_etl.yaml"
    spec.write_text(spec.read_text().replace("description: ", "description: Nightly. "))
    (project / "pipelines" / "emr_notebook_best_sellers.yaml").unlink()
    script = project / "spark_jobs" / "salary_averages.py"
    script.write_text(script.read_text() + "\n")
    retired.unlink()
    after = release_files(project, version)
    capsys.readouterr()

    both = io.StringIO()  # as a terminal shows them: the progress (stderr) between the plan and the summary
    with contextlib.redirect_stdout(both), contextlib.redirect_stderr(both):
        assert main([*argv, "--endpoint-url", url, "--project", str(project)]) == 0
    printed = both.getvalue().splitlines()

    dags, scripts = f"s3://{bucket}/dags/", f"s3://{data}/spark_jobs/"
    operations = 1 + len(after) + 1 + 1  # the changed script, the new release, the loader, the retired script
    assert printed[-operations - 1 :] == [
        f"[1/{operations}] change {scripts}salary_averages.py",
        *(
            f"[{done}/{operations}] add {dags}releases/{release_name(project, version)}/{path}"
            for done, path in enumerate(after, start=2)
        ),
        f"[{operations - 1}/{operations}] change {dags}pipelines_loader.py",
        f"[{operations}/{operations}] delete {scripts}weekly_report.py",
        f"summary: {len(after)} added ({len(after) - 2} copied in S3), 2 changed, 1 deleted, 8 unchanged; "
        f"{len(before)} remote-only file(s) kept",
    ]
    kept = f"  keep      {dags}releases/{before_name}/  ({len(before)} file(s): {KEPT_LIVE})"
    assert printed.index(kept) == printed.index(f"  delete    {scripts}weekly_report.py") + 1

    example = console_block((repo / "docs" / "deploying-dags.md").read_text(), f"dagen deploy {' '.join(argv)}")
    segments: list[list[str]] = [[]]
    for text in as_in_the_docs(example):
        if text.strip() == "...":
            segments.append([])
        else:
            segments[-1].append(text)
    printed = as_in_the_docs(printed)
    assert printed[: len(segments[0])] == segments[0]  # the example starts where the command does
    position = len(segments[0])
    for segment in segments[1:]:  # each run of lines between "..." is printed as is, in this order
        starts = [i for i in range(position, len(printed)) if printed[i : i + len(segment)] == segment]
        assert starts, segment
        position = starts[0] + len(segment)
    assert position == len(printed)  # and it ends where the command does


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
QUERY_V1 = "SELECT count(*) FROM events WHERE day = DATE '{{ ds }}'\n"
QUERY_V2 = "SELECT count(*) FROM orders WHERE day = DATE '{{ ds }}'\n"


class DagsPrefix:
    """The DAGs prefix after each operation of a deploy, as MWAA would sync it: listed once, then followed
    operation by operation, each checked with a HEAD (a listing per state costs moto about a second), and listed
    again at the end (:meth:`check`)."""

    def __init__(self, s3: Any) -> None:
        self.s3 = s3
        self.etags = self.listing()
        self.loader: tuple[str, str | None] = ("", None)  # the ETag of the loader last read, and its release

    def listing(self) -> dict[str, str]:
        """Path below the prefix -> ETag, dagen's own records left out (the loader never reads them)."""
        found = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="dags/"):
            for item in page.get("Contents", []):
                if f"s3://{BUCKET}/{item['Key']}" not in RECORDS:
                    found[item["Key"].removeprefix("dags/")] = item["ETag"].strip('"')
        return found

    def follow(self, step: Any) -> None:
        """The operation the deploy reports done, as the bucket shows it."""
        if step.area != "dags":
            return
        try:
            etag = self.s3.head_object(Bucket=BUCKET, Key=f"dags/{step.path}")["ETag"].strip('"')
        except ClientError:
            etag = None
        assert (etag is None) == (step.action == "delete"), step
        if etag is None:
            del self.etags[step.path]
        else:
            self.etags[step.path] = etag

    def live(self) -> tuple[str | None, dict[str, str]]:
        """The release the loader names, with the files of that release (path within it -> ETag); (None, {})
        without a loader."""
        etag = self.etags.get("pipelines_loader.py")
        if etag is None:
            return None, {}
        if self.loader[0] != etag:
            text = self.s3.get_object(Bucket=BUCKET, Key="dags/pipelines_loader.py")["Body"].read().decode()
            self.loader = (etag, re.search(r'^RELEASE = "releases/([0-9a-f]+)"', text, re.MULTILINE).group(1))
        name = self.loader[1]
        folder = f"releases/{name}/"
        return name, {path.removeprefix(folder): tag for path, tag in self.etags.items() if path.startswith(folder)}

    def check(self) -> None:
        """Nothing changed but what the operations said."""
        assert self.etags == self.listing()


def md5s(files: dict[str, bytes]) -> dict[str, str]:
    return {path: hashlib.md5(content, usedforsecurity=False).hexdigest() for path, content in files.items()}


def test_sql_files_ship_in_the_release_and_every_state_of_the_bucket_loads_the_old_or_the_new_dags(
    capsys, url: str, s3: Any, project: Path, tmp_path: Path
) -> None:
    """After every operation of four deploys (the first; a spec moved to a new .sql file; two edits, the second of
    which deletes the first release), the loader in the bucket names a release that is all there and whose specs
    compile; Airflow loads the old DAGs just before a switch and the new ones while an old release is deleted."""
    pipelines = project / "pipelines"
    (pipelines / "sql").mkdir()
    (pipelines / "sql" / "counts_v1.sql").write_text(QUERY_V1)
    (pipelines / "athena_counts.yaml").write_text(ATHENA_SPEC.format(name="counts_v1"))
    releases: dict[str | None, dict[str, str]] = {None: {}}  # what a state may load: release -> its files' MD5s
    seen: list[str | None] = []  # the release each state loads
    problems: list[tuple[str, Any]] = []
    compiled: set[str] = set()
    probes: dict[str, dict[str, Any]] = {}
    prefixes: list[DagsPrefix] = []

    def every_state_loads_a_whole_release(done: int, step: Any) -> None:
        prefixes[-1].follow(step)
        name, files = prefixes[-1].live()
        seen.append(name)
        if name not in releases or files != releases[name]:
            problems.append((step.path, name))
        elif name is not None and name not in compiled:  # the specs of each release the bucket may load compile
            compiled.add(name)
            synced = sync(s3, tmp_path / "synced" / name / "pipelines", prefix=f"dags/releases/{name}/pipelines/")
            for result in process([synced], profile=installed_profile(), airflow_major=airflow_major()):
                if result.diagnostics:
                    problems.append((step.path, [d.text() for d in result.diagnostics]))

    def deploy_followed(on_step: Callable[[int, Any], None] = every_state_loads_a_whole_release) -> Run:
        """A deploy (with --prune: it changes nothing here) of a new release, every state of it checked."""
        releases[release_name(project)] = md5s(release_files(project))
        seen.clear()
        prefixes.append(DagsPrefix(s3))
        run = deploy(capsys, url, project, "--prune", on_step=on_step)
        prefixes[-1].check()  # the bucket holds what the operations did, and nothing else changed
        assert (run.code, problems) == (0, [])
        return run

    first = deploy_followed()
    names, files = [release_name(project)], {release_name(project): release_uris(project)}
    objects = expected_objects(project)  # every object a deploy uploaded, with its content
    assert seen == [None] * (len(bundle_uris(project)) - 1) + names  # nothing to load until the loader, the last
    assert line("add", f"{release_folder(names[0])}pipelines/sql/counts_v1.sql") in first.out

    # The spec moves to a new .sql file: a new release; the old one, and its .sql file, stay for MWAA meanwhile.
    (pipelines / "sql" / "counts_v1.sql").unlink()
    (pipelines / "sql" / "counts_v2.sql").write_text(QUERY_V2)
    (pipelines / "athena_counts.yaml").write_text(ATHENA_SPEC.format(name="counts_v2"))
    names.append(release_name(project))
    files[names[1]] = release_uris(project)
    objects |= expected_objects(project)

    def and_probe_before_the_switch(done: int, step: Any) -> None:
        every_state_loads_a_whole_release(done, step)
        if f"{DAGS_URI}{step.path}" == files[names[1]][-1]:  # the new release is all there; the loader is next
            probes["before"] = probe(sync(s3, tmp_path / "before-switch" / "dags"), tmp_path)

    second = deploy_followed(and_probe_before_the_switch)
    assert seen == [names[0]] * len(files[names[1]]) + [names[1]]
    folder = release_folder(names[1])
    others = len(bundle_uris(project)) - len(files[names[1]]) - 1
    assert [text for text in second.out[len(head()) :] if not text.startswith(("  copy ", "  unchanged "))] == [
        line("add", f"{folder}pipelines/sql/counts_v2.sql"),
        line("add", f"{folder}compiled/pipelines/athena_counts.yaml.json"),
        line("add", f"{folder}pipelines/athena_counts.yaml"),
        line("change", LOADER_URI),
        release_line("keep", names[0], len(files[names[0]])),  # counts_v1.sql with it: the old spec reads it
        f"summary: {len(files[names[1]])} added ({len(files[names[1]]) - 3} copied in S3), 1 changed, 0 deleted, "
        f"{others} unchanged; {len(files[names[0]])} remote-only file(s) kept",
    ]
    before = probes["before"]
    assert before["release"] == f"releases/{names[0]}"
    assert before["import_errors"] == {}
    assert before["dag_ids"] == sorted([*SEEDS, "athena_counts"])
    assert before["athena_queries"] == {"athena_counts.counts": QUERY_V1}

    # Two more releases: the second of them deletes the first release, counts_v1.sql with it.
    edit(project, "athena_counts")
    names.append(release_name(project))
    files[names[2]] = release_uris(project)
    objects |= expected_objects(project)
    deploy_followed()
    assert seen == [names[1]] * len(files[names[2]]) + [names[2]]
    edit(project, "salary_batch_etl")
    names.append(release_name(project))
    files[names[3]] = release_uris(project)
    removed = deletion_order(files[names[0]])
    assert f"{release_folder(names[0])}pipelines/sql/counts_v1.sql" in removed

    def and_probe_mid_deletion(done: int, step: Any) -> None:
        every_state_loads_a_whole_release(done, step)
        if f"{DAGS_URI}{step.path}" == removed[len(removed) // 2]:
            probes["during"] = probe(sync(s3, tmp_path / "mid-deletion" / "dags"), tmp_path)

    fourth = deploy_followed(and_probe_mid_deletion)
    assert seen == [names[2]] * len(files[names[3]]) + [names[3]] * (1 + len(removed))
    assert fourth.err[-len(removed) :] == [
        f"[{done}/{len(fourth.err)}] delete {uri}"
        for done, uri in enumerate(removed, start=len(fourth.err) - len(removed) + 1)
    ]
    during = probes["during"]
    assert during["release"] == f"releases/{names[3]}"
    assert during["import_errors"] == {}
    assert during["dag_ids"] == sorted([*SEEDS, "athena_counts"])
    assert "dagen:invalid-spec" not in during["tags"]["athena_counts"]
    assert during["athena_queries"] == {"athena_counts.counts": QUERY_V2}  # the Athena task runs the file's SQL
    # each object written once (twice for the loader), the first release's deleted: no state but those followed
    assert versions(s3) == {
        **{uri: ["put"] for name in names[1:] for uri in files[name]},
        **{uri: ["put"] for uri in bundle_uris(project)},
        **{uri: ["put", "deleted"] for uri in removed},
        LOADER_URI: ["put"] * 4,
    }
    kept = [uri for name in names[1:3] for uri in files[name]]
    assert_bucket_holds_the_bundle(s3, project, bundle_uris(project), extra={uri: objects[uri] for uri in kept})
    assert_records_list(s3, [*bundle_uris(project), *kept], names)
