"""Bounded input: only regular files of at most 1 MiB are read (specs, defaults.yaml, query_file), never a hang.

The inputs are made here (a FIFO, a device, a 1 MiB file) rather than committed; each gets one located
diagnostic from ``dagen validate``, in a few seconds at most, and the loader keeps every other DAG.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.airflow_compat import dagbag
from tests.test_cli import run

SPEC = """\
start_date: 2024-01-01
schedule: "@daily"
tasks:
  counts:
    type: athena_query
    query_file: sql/counts.sql
    database: analytics
    output_location: s3://results/athena/
"""
BIG = 1024 * 1024 + 1


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _big(path: Path) -> None:
    path.write_text("# padding\n" + "#" * (BIG - 10), encoding="utf-8")


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (_fifo, "spec.yaml:1:1: DG106 cannot read file: not a regular file"),
        (
            _big,
            "spec.yaml:1:1: DG108 the file is 1,048,577 bytes, over the limit of 1,048,576\n"
            "    hint: a spec this large is not hand-written: split the pipeline, or move data to S3 and pass its URI",
        ),
    ],
    ids=["fifo", "over_1_MiB"],
)
def test_a_spec_that_is_no_regular_file_or_too_large(tmp_path: Path, make, expected: str) -> None:
    make(tmp_path / "spec.yaml")
    done = run("validate", "spec.yaml", cwd=tmp_path)
    assert (done.returncode, done.stdout) == (1, f"{expected}\n1 error(s) in 1 of 1 file(s)\n")


def test_a_device_given_as_a_spec() -> None:
    done = run("validate", "/dev/zero")
    assert done.stdout == "/dev/zero:1:1: DG106 cannot read file: not a regular file\n1 error(s) in 1 of 1 file(s)\n"


@pytest.mark.parametrize(
    ("make", "reason"),
    [(_fifo, "cannot be read (not a regular file)"), (_big, "is 1,048,577 bytes, over the limit of 1,048,576")],
    ids=["fifo", "over_1_MiB"],
)
def test_a_query_file_that_is_no_regular_file_or_too_large(tmp_path: Path, make, reason: str) -> None:
    (tmp_path / "sql").mkdir()
    (tmp_path / "spec.yaml").write_text(SPEC, encoding="utf-8")
    make(tmp_path / "sql" / "counts.sql")
    done = run("validate", "spec.yaml", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout.splitlines()[0] == f"spec.yaml:6:17: DG107 query_file 'sql/counts.sql' {reason}"


HEAD = 'start_date: 2024-01-01\nschedule: "@daily"\n'
ONE_TASK = "tasks:\n  run:\n    type: lambda_invoke\n    function_name: nightly\n"


def _tasks(count: int) -> str:
    return "tasks:\n" + "".join(f"  t{n}:\n    type: lambda_invoke\n    function_name: f{n}\n" for n in range(count))


# Specs over each documented limit, made here (too large to commit); each gets one located diagnostic.
OVER_A_LIMIT = {
    "string_over_100k_characters": (
        HEAD + "description: " + "x" * 100_001 + "\n" + ONE_TASK,
        "spec.yaml:3:14: DG109 this value has 100,001 characters, over the limit of 100,000\n"
        "    hint: put long SQL in a query_file beside the spec, and data in S3",
    ),
    "a_megabyte_of_nesting": (
        HEAD + "description: " + "[" * (BIG - 100),
        "spec.yaml:3:63: DG109 mappings and lists are nested more than 50 deep here\n"
        "    hint: flatten the structure; a pipeline spec needs fewer than 10 levels",
    ),
    "a_megabyte_of_nested_block_lists": (
        HEAD + "description:\n" + "- " * ((BIG - 100) // 2),
        "spec.yaml:4:99: DG109 mappings and lists are nested more than 50 deep here\n"
        "    hint: flatten the structure; a pipeline spec needs fewer than 10 levels",
    ),
    "over_100k_values": (
        HEAD + "description: [" + "1," * 100_001 + "]\n" + ONE_TASK,
        "spec.yaml:3:14: DG109 this value stands for more than 100,000 keys, values and items (an alias repeats "
        "all it names)\n    hint: a spec this large is not hand-written: check the aliases (*name) it uses",
    ),
    "over_1000_tasks": (HEAD + _tasks(1001), "spec.yaml:4:3: DG207 tasks must have at most 1000 entry(ies)"),
}


@pytest.mark.parametrize("name", OVER_A_LIMIT)
def test_a_spec_over_a_limit(tmp_path: Path, name: str) -> None:
    text, expected = OVER_A_LIMIT[name]
    (tmp_path / "spec.yaml").write_text(text, encoding="utf-8")
    done = run("validate", "spec.yaml", cwd=tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (1, f"{expected}\n1 error(s) in 1 of 1 file(s)\n", "")


def test_a_chain_of_1000_tasks_is_within_the_limits(tmp_path: Path) -> None:
    """Written last task first, so that any recursion over the graph would go 1000 deep."""
    chain = "tasks:\n" + "".join(
        f"  t{n}:\n    type: lambda_invoke\n    function_name: f\n" + (f"    depends_on: [t{n - 1}]\n" if n else "")
        for n in reversed(range(1000))
    )
    (tmp_path / "spec.yaml").write_text(HEAD + chain, encoding="utf-8")
    done = run("validate", "spec.yaml", cwd=tmp_path)
    assert (done.returncode, done.stdout) == (0, "1 file(s) checked, no errors\n")
    preview = run("preview", "spec.yaml", "--format", "json", cwd=tmp_path)  # builds the DAG
    assert (preview.returncode, preview.stderr) == (0, "")
    tasks = {task["task_id"]: task for task in json.loads(preview.stdout)["dags"][0]["tasks"]}
    assert len(tasks) == 1000 and tasks["t999"]["upstream"] == ["t998"]


def test_the_loader_keeps_every_other_dag(tmp_path: Path, repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGEN_CACHE_DIR", str(tmp_path / "cache"))
    dags = tmp_path / "dags"
    shutil.copytree(repo / "pipelines", dags / "pipelines")
    shutil.copy(repo / "dags" / "pipelines_loader.py", dags)
    _big(dags / "pipelines" / "huge.yaml")
    bag = dagbag(dags / "pipelines_loader.py")
    assert bag.import_errors == {}
    assert sorted(bag.dag_ids) == [
        "emr_notebook_best_sellers",
        "huge",
        "movielens_emr_step_functions",
        "salary_batch_etl",
    ]
    assert "DG108 the file is 1,048,577 bytes" in bag.dags["huge"].doc_md
