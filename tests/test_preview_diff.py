"""``dagen preview --diff REF`` on a real git history: a spec and its defaults.yaml changed between commits."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from generator.preview.command import main
from generator.preview.diff import value_changes

NOW = "2024-06-01T00:00:00Z"

DEFAULTS = """\
owner: data-platform
task_defaults:
  retries: 1
"""

SPEC = """\
description: Nightly ETL.
schedule: "0 2 * * *"
start_date: 2024-01-01
params:
  bucket: {default: my-bucket, type: string}
clusters:
  etl:
    release_label: emr-7.5.0
    applications: [Spark]
    instance_groups:
      primary: {instance_type: m5.xlarge}
tasks:
  transform:
    type: emr_step
    cluster: etl
    spark:
      script: s3://my-bucket/jobs/transform.py
      args: [--input, "s3://{{ params.bucket }}/raw/"]
"""

EDITED_SPEC = """\
description: Nightly ETL.
schedule: "0 6 * * *"
start_date: 2024-01-01
params:
  bucket: {default: my-other-bucket, type: string}
clusters:
  etl:
    release_label: emr-7.5.0
    applications: [Spark]
    instance_groups:
      primary: {instance_type: m5.xlarge}
tasks:
  transform:
    type: emr_step
    cluster: etl
    spark:
      script: s3://my-bucket/jobs/transform.py
      args: [--input, "s3://{{ params.bucket }}/raw/", --date, "{{ ds }}"]
  publish:
    type: glue_job
    depends_on: [transform]
    job_name: publish-etl
"""


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=dagen", "-c", "user.email=dagen@example.com", "-c", "commit.gpgsign=false", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two commits: the spec, then the spec edited and the team's default retries raised."""
    repo = tmp_path / "repo"
    (repo / "pipelines").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    (repo / "pipelines" / "defaults.yaml").write_text(DEFAULTS)
    (repo / "pipelines" / "etl.yaml").write_text(SPEC)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "etl")
    (repo / "pipelines" / "defaults.yaml").write_text(DEFAULTS.replace("retries: 1", "retries: 3"))
    (repo / "pipelines" / "etl.yaml").write_text(EDITED_SPEC)
    git(repo, "commit", "-q", "-am", "publish")
    monkeypatch.chdir(repo)
    return repo


# publish does not run on the cluster, so the cluster is still terminated right after transform;
# the old defaults.yaml (retries: 1) was read from the old commit, not from the working tree.
EXPECTED = """\
etl (pipelines/etl.yaml): 8 change(s) since HEAD~1
  settings
    ~ schedule.expression: "0 2 * * *" -> "0 6 * * *"  (every day at 02:00 -> every day at 06:00)
  params
    ~ bucket.default: "my-bucket" -> "my-other-bucket"
  tasks
    + publish  (glue_job, GlueJobOperator)
  dependencies
    + transform -> publish
  arguments
    ~ create_etl: retries: 1 -> 3
    ~ transform: retries: 1 -> 3
    + transform: steps[0].HadoopJarStep.Args[6]: "--date"
    + transform: steps[0].HadoopJarStep.Args[7]: "{{ ds }}"
"""


def test_diff_against_the_previous_commit(history: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview", "pipelines/etl.yaml", "--diff", "HEAD~1", "--now", NOW]) == 0
    assert capsys.readouterr().out == EXPECTED


def test_diff_of_a_folder_and_of_the_working_tree(history: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (history / "pipelines" / "etl.yaml").write_text(EDITED_SPEC.replace("job_name: publish-etl", "job_name: publish"))
    (history / "pipelines" / "extra.yaml").write_text(SPEC.replace("etl", "extra"))
    assert main(["preview", "pipelines", "--diff", "HEAD", "--now", NOW]) == 0
    assert capsys.readouterr().out == (
        "etl (pipelines/etl.yaml): 1 change(s) since HEAD\n"
        "  arguments\n"
        '    ~ publish: job_name: "publish-etl" -> "publish"\n'
        "\n"
        "extra (pipelines/extra.yaml): new pipeline, not in HEAD\n"
        "  params\n"
        '    + bucket: "my-bucket"\n'
        "  tasks\n"
        "    + create_extra  (cluster create, RetrySafeEmrCreateJobFlowOperator, setup)\n"
        "    + transform  (emr_step, EmrAddStepsOperator)\n"
        "    + terminate_extra  (cluster terminate, RetrySafeEmrTerminateJobFlowOperator, teardown)\n"
        "  dependencies\n"
        "    + create_extra -> transform\n"
        "    + create_extra -> terminate_extra\n"
        "    + transform -> terminate_extra\n"
    )


def test_diff_as_json(history: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview", "pipelines/etl.yaml", "--diff", "HEAD~1", "--format", "json", "--now", NOW]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["format"], report["version"], report["base"]) == ("dagen-preview-diff", 1, "HEAD~1")
    (dag,) = report["dags"]
    assert (dag["dag_id"], dag["status"], len(dag["changes"])) == ("etl", "changed", 8)
    assert dag["changes"][0] == {
        "section": "settings",
        "op": "changed",
        "subject": "schedule.expression",
        "path": "",
        "old": "0 2 * * *",
        "new": "0 6 * * *",
    }


def test_unchanged(history: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview", "pipelines/etl.yaml", "--diff", "HEAD", "--now", NOW]) == 0
    assert capsys.readouterr().out == "etl (pipelines/etl.yaml): no change to the generated DAG since HEAD\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--diff", "nope"], "dagen preview: error: --diff: 'nope' is not a commit of "),
        (["--diff", "HEAD", "--show-args", "transform"], "dagen preview: error: --diff and --show-args cannot be"),
        (["--diff", "HEAD", "--format", "svg"], "dagen preview: error: --diff prints text or json, not svg"),
    ],
)
def test_diff_usage_errors(history: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    assert main(["preview", "pipelines/etl.yaml", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(message)


def test_outside_a_repository(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    (tmp_path / "etl.yaml").write_text(SPEC)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    assert main(["preview", "etl.yaml", "--diff", "HEAD"]) == 2
    assert capsys.readouterr().err == "dagen preview: error: --diff: etl.yaml is not inside a git repository\n"


def test_value_changes_treat_an_inserted_list_item_as_one_change() -> None:
    assert value_changes({"a": [1, 2, 3], "b": {"c": "x"}}, {"a": [1, 9, 2, 3], "b": {"d": "x"}}) == [
        ("added", "a[1]", None, 9),
        ("removed", "b.c", "x", None),
        ("added", "b.d", None, "x"),
    ]
    assert value_changes({"k.v": True}, {"k.v": 1}) == [("changed", '["k.v"]', True, 1)]


def test_a_spec_that_did_not_build_at_ref(history: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (history / "pipelines" / "etl.yaml").write_text(SPEC.replace('"0 2 * * *"', '"0 0 0 * *"'))
    git(history, "commit", "-q", "-am", "broken schedule")
    (history / "pipelines" / "etl.yaml").write_text(SPEC)
    assert main(["preview", "pipelines/etl.yaml", "--diff", "HEAD", "--now", NOW]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == [
        "etl (pipelines/etl.yaml): did not build at HEAD",
        "  note: the spec at HEAD (pipelines/etl.yaml) did not build; everything is shown as added",
        "  params",
    ]
    assert "    + transform  (emr_step, EmrAddStepsOperator)" in lines


ATHENA_SPEC = """\
schedule: "@daily"
start_date: 2024-01-01
tasks:
  counts:
    type: athena_query
    query_file: sql/counts.sql
    database: analytics
    workgroup: analytics
"""


@pytest.mark.parametrize(
    ("target", "others"),
    [
        ("pipelines/counts.yaml", ""),
        ("pipelines", "\netl (pipelines/etl.yaml): no change to the generated DAG since HEAD\n"),
    ],
    ids=["file", "folder"],
)
def test_diff_reads_the_sql_files_at_ref(
    history: Path, capsys: pytest.CaptureFixture[str], target: str, others: str
) -> None:
    (history / "pipelines" / "sql").mkdir()
    (history / "pipelines" / "sql" / "counts.sql").write_text("SELECT count(*) FROM events\n")
    (history / "pipelines" / "counts.yaml").write_text(ATHENA_SPEC)
    git(history, "add", ".")
    git(history, "commit", "-q", "-m", "athena counts")
    (history / "pipelines" / "sql" / "counts.sql").write_text("SELECT count(*) FROM orders\n")  # only the SQL
    assert main(["preview", target, "--diff", "HEAD", "--now", NOW]) == 0
    assert capsys.readouterr().out == (
        "counts (pipelines/counts.yaml): 1 change(s) since HEAD\n"
        "  arguments\n"
        '    ~ counts: query: "SELECT count(*) FROM events\\n" -> "SELECT count(*) FROM orders\\n"\n' + others
    )
