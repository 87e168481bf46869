"""Deploys under faults, through a fault-injecting proxy in front of a real S3 server on loopback.

- Killed at 21 points of a deploy that changes package modules (a new module
  and an importer of it), a spec and a .sql file: each kill ends with one clear
  line and exit 1, the bucket then loads with zero import errors and every DAG
  at its old version or every DAG at its new one, and a rerun converges.
- 20% of requests answered 503 SlowDown: the deploy finishes, the bucket equals the bundle.
- Two deploys at once: the second is refused while the first holds the lock.
- A link that leads out of the repository stops the deploy before any upload.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import site
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from generator.compile.build import airflow_major
from generator.deploy import command
from tests.s3_fault_proxy import FaultProxy
from tests.test_input_limits import SPEC as ATHENA_SPEC

BUCKET = "airflow-dagen-faults"
DAGS = f"s3://{BUCKET}/dags/"
VERSION = {3: "3.3.1", 2: "2.10.3"}[airflow_major()]
PROBE = Path(__file__).parent / "deploy_faults_probe.py"
KILLS = 21
REPORT_SPEC = "description: Daily counts.\n" + ATHENA_SPEC


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    """moto's S3 server in a process of its own: the deploy, the proxy and the server do not share one core."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "moto's server did not start"
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture
def proxy(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    fault_proxy = FaultProxy(s3_server)
    yield fault_proxy
    fault_proxy.close()


@pytest.fixture
def s3(s3_server: str, proxy: FaultProxy) -> Iterator[Any]:
    import boto3

    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    yield client
    _empty(client)
    client.delete_bucket(Bucket=BUCKET)


def _empty(s3: Any) -> None:
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=BUCKET):
        entries = [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
        if entries:
            s3.delete_objects(
                Bucket=BUCKET,
                Delete={"Objects": [{"Key": e["Key"], "VersionId": e["VersionId"]} for e in entries], "Quiet": True},
            )


def _project(repo: Path, root: Path, *, version: int) -> Path:
    """The repository's deployable folders plus an Athena spec with a query_file; version 2 edits them."""
    for name in ("dags", "pipelines", "schemas"):
        shutil.copytree(repo / name, root / name)
    (root / "pipelines" / "sql").mkdir()
    (root / "pipelines" / "report.yaml").write_text(REPORT_SPEC, encoding="utf-8")
    (root / "pipelines" / "sql" / "counts.sql").write_text(f"SELECT {version} AS version", encoding="utf-8")
    if version == 2:
        spec = root / "pipelines" / "salary_batch_etl.yaml"
        spec.write_text(spec.read_text().replace("description: ", "description: Version 2. ", 1), encoding="utf-8")
    return root


def _package(root: Path, *, version: int) -> Path:
    """A copy of the generator package; version 2 adds a module and makes an existing one import it."""
    package = root / "generator"
    shutil.copytree(command.PACKAGE_DIR, package, ignore=shutil.ignore_patterns("__pycache__"))
    if version == 2:
        (package / "core" / "release_marker.py").write_text('"""Added by version 2."""\n\nMARK = 2\n')
        diagnostics = package / "core" / "diagnostics.py"
        diagnostics.write_text(
            diagnostics.read_text().replace(
                "from dataclasses import asdict, dataclass\n",
                "from dataclasses import asdict, dataclass\n\n"
                "from generator.core.release_marker import MARK  # noqa: F401\n",
                1,
            )
        )
    return package


def _deploy(
    capsys: pytest.CaptureFixture[str], url: str, project: Path, *extra: str
) -> tuple[int, list[str], list[str]]:
    capsys.readouterr()
    code = command.main(
        [
            "--bucket",
            BUCKET,
            "--endpoint-url",
            url,
            "--region",
            "us-east-1",
            "--project",
            str(project),
            "--airflow-version",
            VERSION,
            "--no-parse-budget",
            *extra,
        ]
    )
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err.splitlines()


def _objects(s3: Any) -> dict[str, tuple[bytes, dict[str, str], str]]:
    """Every object of the bucket: content, metadata, content type (read 8 at a time)."""
    keys = [
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
        for item in page.get("Contents", [])
    ]

    def read(key: str) -> tuple[bytes, dict[str, str], str]:
        got = s3.get_object(Bucket=BUCKET, Key=key)
        return got["Body"].read(), got.get("Metadata", {}), got.get("ContentType", "")

    with ThreadPoolExecutor(8) as pool:
        return dict(zip(keys, pool.map(read, keys), strict=True))


def _listing(s3: Any) -> dict[str, str]:
    """Key -> ETag (the MD5 of a plain upload's content) of every object: one request per thousand keys."""
    return {
        item["Key"]: item["ETag"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
        for item in page.get("Contents", [])
    }


def _contents(listing: dict[str, str], *known: dict[str, tuple[bytes, dict[str, str], str]]) -> dict[str, Any]:
    """The objects of a listing, each read from the states it can only come from (a deploy copies them)."""
    by_etag = {
        f'"{hashlib.md5(body, usedforsecurity=False).hexdigest()}"': body
        for state in known
        for body, *_ in state.values()
    }
    records = ("dags/dagen-deploy.lock", "dags/dagen-manifest.json")  # dagen's own: not read by MWAA
    return {key: (by_etag[etag], {}, "") for key, etag in listing.items() if key not in records}


def _restore(s3: Any, objects: dict[str, tuple[bytes, dict[str, str], str]]) -> None:
    _empty(s3)

    def write(item: tuple[str, tuple[bytes, dict[str, str], str]]) -> None:
        key, (body, metadata, content_type) = item
        s3.put_object(Bucket=BUCKET, Key=key, Body=body, Metadata=metadata, ContentType=content_type)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, objects.items()))


def _sync(objects: dict[str, tuple[bytes, dict[str, str], str]], folder: Path) -> Path:
    """The DAGs prefix as MWAA syncs it into its DAGs folder."""
    for key, (body, _, _) in objects.items():
        if key.startswith("dags/"):
            target = folder / key.removeprefix("dags/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(body)
    return folder


def _probe(folders: list[Path], tmp_path: Path) -> dict[str, Any]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["AIRFLOW_HOME"] = str(tmp_path / "airflow-home")
    env["DAGEN_CACHE_DIR"] = str(tmp_path / "probe-cache")
    done = subprocess.run(
        [sys.executable, "-I", "-S", str(PROBE), *site.getsitepackages(), "--", *map(str, folders)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


def _one_clear_line(err: list[str]) -> str:
    """A failed deploy's stderr: progress lines, then exactly one `dagen deploy:` line and its hint."""
    assert not any("Traceback" in line for line in err), err
    failures = [line for line in err if line.startswith("dagen deploy: ")]
    assert len(failures) == 1, err
    assert all(re.match(r"^\[\d+/\d+\] ", line) for line in err[: err.index(failures[0])]), err
    assert all(line.startswith("    hint: ") for line in err[err.index(failures[0]) + 1 :]), err
    return failures[0]


def test_a_deploy_killed_at_any_point_leaves_old_or_new_dags_and_a_rerun_converges(
    capsys, repo: Path, tmp_path: Path, s3: Any, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = _project(repo, tmp_path / "v1", version=1), _project(repo, tmp_path / "v2", version=2)
    old_package, new_package = _package(tmp_path / "p1", version=1), _package(tmp_path / "p2", version=2)
    monkeypatch.setattr(command, "PACKAGE_DIR", old_package)
    assert _deploy(capsys, proxy.url, old)[0] == 0
    before = _objects(s3)
    monkeypatch.setattr(command, "PACKAGE_DIR", new_package)
    proxy.reset()
    assert _deploy(capsys, proxy.url, new)[0] == 0
    requests, after, expected = proxy.count, _objects(s3), _listing(s3)

    folders = [_sync(before, tmp_path / "synced" / "old"), _sync(after, tmp_path / "synced" / "new")]
    # spread over the whole deploy, and right after its first request (where a dropped connection once ended in
    # an AttributeError traceback)
    kill_points = sorted({2} | {round(1 + index * (requests - 1) / (KILLS - 1)) for index in range(KILLS)})
    assert len(kill_points) >= KILLS
    messages = set()
    for point in kill_points:
        _restore(s3, before)
        proxy.reset(lambda number, point=point: "drop" if number >= point else None)
        code, _, err = _deploy(capsys, proxy.url, new, "--max-attempts", "1")
        assert code == 1, (point, err)
        messages.add(re.sub(r"s3://\S+|\d+", "N", _one_clear_line(err)))
        folders.append(_sync(_contents(_listing(s3), before, after), tmp_path / "synced" / f"killed-at-{point:03d}"))

        proxy.reset()
        code, _, err = _deploy(capsys, proxy.url, new)
        if code == 1:  # the killed deploy could not remove its lock
            assert "is in progress" in _one_clear_line(err) and "--break-lock" in err[-1]
            code, _, err = _deploy(capsys, proxy.url, new, "--break-lock")
        assert code == 0, err
        converged = _listing(s3)
        manifest = s3.get_object(Bucket=BUCKET, Key="dags/dagen-manifest.json")["Body"].read()
        assert {key: etag for key, etag in converged.items() if key != "dags/dagen-manifest.json"} == {
            key: etag for key, etag in expected.items() if key != "dags/dagen-manifest.json"
        }
        assert json.loads(manifest) == json.loads(after["dags/dagen-manifest.json"][0])

    report = _probe(folders, tmp_path)
    old_dags, new_dags = (report[str(folder)]["dags"] for folder in folders[:2])
    assert old_dags != new_dags and set(old_dags) == set(new_dags) and len(old_dags) == 4
    seen = []
    for folder in folders[2:]:
        state = report[str(folder)]
        assert state["import_errors"] == {}, folder.name
        assert state["dags"] in (old_dags, new_dags), folder.name
        seen.append("new" if state["dags"] == new_dags else "old")
    assert {"old", "new"} <= set(seen)  # kills before the switch and after it
    assert len(messages) >= 1


def test_a_throttling_bucket_is_ridden_out(capsys, repo: Path, tmp_path: Path, s3: Any, proxy: FaultProxy) -> None:
    project = _project(repo, tmp_path / "project", version=1)
    throttle = random.Random(17)
    proxy.reset(lambda number: "slowdown" if throttle.random() < 0.2 else None)

    code, out, err = _deploy(capsys, proxy.url, project)

    assert code == 0, err
    slowdowns = len(proxy.faults)
    assert slowdowns >= 0.15 * proxy.count
    reported = re.search(r"\((\d+) retries so far\)$", err[-1])  # the last progress line
    assert reported is not None and 0 < int(reported.group(1)) <= slowdowns
    objects = _objects(s3)
    uploaded = {line.split()[1].removeprefix(DAGS) for line in out if line.startswith("  add ")}
    assert set(objects) - {"dags/dagen-manifest.json"} == {f"dags/{path}" for path in uploaded}
    assert "dags/dagen-deploy.lock" not in objects


def test_a_second_deploy_is_refused_while_the_first_holds_the_lock(
    capsys, repo: Path, tmp_path: Path, s3: Any, proxy: FaultProxy
) -> None:
    first, second = _project(repo, tmp_path / "first", version=1), _project(repo, tmp_path / "second", version=2)
    proxy.reset(delay=0.1)  # the first deploy takes over ten seconds
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    arguments = ["--bucket", BUCKET, "--endpoint-url", proxy.url, "--region", "us-east-1"]
    arguments += ["--airflow-version", VERSION, "--no-parse-budget", "--project"]
    running = subprocess.Popen(
        [sys.executable, "-m", "generator", "deploy", *arguments, str(first)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 120
        while "dags/dagen-deploy.lock" not in _objects(s3):
            assert running.poll() is None and time.monotonic() < deadline, running.communicate()
            time.sleep(0.2)
        code, _, err = _deploy(capsys, proxy.url, second)
        first_out, first_err = running.communicate(timeout=300)
    finally:
        running.kill()
    assert running.returncode == 0, first_err
    assert code == 1
    assert _one_clear_line(err).startswith(f"dagen deploy: another deploy to {DAGS} is in progress: ")
    assert err[-1] == (
        f"    hint: wait for it to finish; if it died, rerun with --break-lock (the lock is {DAGS}dagen-deploy.lock)"
    )
    loader = _objects(s3)["dags/pipelines_loader.py"][0].decode()
    release = re.search(r'RELEASE = "(releases/[0-9a-f]+)"', loader)
    assert release is not None and release.group(1) in first_out  # the bucket holds the first deploy's bundle
    assert "Version 2." not in _objects(s3)[f"dags/{release.group(1)}/pipelines/salary_batch_etl.yaml"][0].decode()


@pytest.mark.parametrize(
    "link",
    [
        "pipelines/outside.yaml",
        "pipelines/sql/outside.sql",
        "pipelines/lib/outside.py",
        "schemas/outside.json",
        "pipelines/linked",
    ],
)
def test_a_link_out_of_the_repository_stops_the_deploy(
    capsys, repo: Path, tmp_path: Path, s3: Any, proxy: FaultProxy, link: str
) -> None:
    project = _project(repo, tmp_path / "project", version=1)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("not for the bucket\n")
    path = project / link
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(outside if link == "pipelines/linked" else outside / "secret.txt")

    code, _, err = _deploy(capsys, proxy.url, project)

    assert code == 1
    target = (outside if link == "pipelines/linked" else outside / "secret.txt").resolve().as_posix()
    assert err == [
        f"dagen deploy: {link}:1:1: a symbolic link to {target}, outside {project.as_posix()}; nothing was uploaded",
        "    hint: copy the file into the repository: a deploy uploads only files of the repository",
    ]
    assert _objects(s3) == {}
