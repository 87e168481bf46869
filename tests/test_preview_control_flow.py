"""``dagen preview`` of control flow: run_if checks, branches, static fan-outs, mapped tasks and cleanups.

The JSON summary of ``tests/local_run/control_flow.yaml`` key by key (its
glue tasks' arguments differ between the lanes, so it has no JSON golden),
and a spec of the same constructs inside a task group, drawn as text and
Mermaid.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from generator.preview.command import main

REPO = Path(__file__).resolve().parent.parent
CONTROL_FLOW = "tests/local_run/control_flow.yaml"
NOW = "2024-06-01T00:00:00Z"
FLOW_KEYS = ("condition", "branch", "fan_out", "item", "mapped_over", "max_items", "if_empty", "cleanup")
NONE = dict.fromkeys(("condition", "branch", "fan_out", "item", "mapped_over", "max_items", "if_empty"))

GROUPED = """\
description: Control flow in a task group.
start_date: 2024-01-01
params:
  fast: {default: true, type: boolean}
groups:
  prep: {description: Preparation}
tasks:
  pick:
    type: branch
    paths:
      fast: "{{ params.fast }}"
      slow: "{{ dag_run.conf.get('mode', 'a condition too long for an edge') == 'slow' }}"
    otherwise: [slow]
  fast:
    type: python
    callable: lib.checks.go
    group: prep
    depends_on: [pick]
    run_if: "{{ params.fast }}"
  slow:
    type: python
    callable: lib.checks.go
    group: prep
    depends_on: [pick]
    for_each: [a, b]
    kwargs: {part: "{{ item }}"}
  slow_for_each:
    type: python
    callable: lib.checks.listing
  each:
    type: python
    callable: lib.checks.go
    group: prep
    depends_on: [slow_for_each]
    for_each: {output_of: slow_for_each, max_items: 5, if_empty: fail}
    kwargs: {part: "{{ item }}"}
"""
CHECKS = "def go(**kwargs):\n    return True\n\n\ndef listing():\n    return []\n"


def _json(capsys: pytest.CaptureFixture[str], path: str) -> dict[str, Any]:
    assert main(["preview", path, "--format", "json", "--now", NOW]) == 0
    (dag,) = json.loads(capsys.readouterr().out)["dags"]
    return dag


@pytest.fixture(autouse=True)
def in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)


def test_json_of_every_construct(capsys: pytest.CaptureFixture[str]) -> None:
    dag = _json(capsys, CONTROL_FLOW)
    tasks = {task["task_id"]: task for task in dag["tasks"]}
    origins = {task_id: (task["type"], task["spec_task"], task["cluster"]) for task_id, task in tasks.items()}
    assert origins["run_if_landed"] == ("run_if check", "landed", None)
    assert origins["load_file_items"] == ("map items", "load_file", None)
    assert origins["rank_Books_eu"] == ("emr_step", "rank_Books_eu", "etl")
    flow = {task_id: {key: task[key] for key in FLOW_KEYS} for task_id, task in tasks.items()}
    plain = {**NONE, "cleanup": False}
    expected = {task_id: plain for task_id in tasks}
    expected |= {
        "run_if_landed": {**plain, "condition": "s3_exists s3://dagen-flow-landing/{{ ds }}/_SUCCESS"},
        "run_if_weekday_report": {**plain, "condition": "python lib.flow_checks.is_weekday()"},
        "run_if_summarise": {**plain, "condition": "{{ params.files > 0 }}"},
        "route": {
            **plain,
            "branch": {
                "paths": {"full_reload": "{{ params.full_refresh }}", "incremental": "{{ not params.full_refresh }}"},
                "otherwise": [],
            },
        },
        "load_file": {**plain, "mapped_over": "list_files", "max_items": 10, "if_empty": "skip"},
        "cleanup": {**plain, "cleanup": True},
    }
    for category in ("Books", "Toys"):
        for region in ("eu", "us"):
            item = f"category={category}, region={region}"
            expected[f"rank_{category}_{region}"] = {**plain, "fan_out": "rank", "item": item}
    for region in ("eu", "us"):
        expected[f"publish_{region}"] = {**plain, "fan_out": "publish", "item": region}
    assert flow == expected
    # the mapped task is Airflow's MappedOperator; the cleanup a teardown with no setups
    assert tasks["load_file"]["operator"] == "MappedOperator"
    assert (tasks["cleanup"]["role"], tasks["cleanup"]["setups"]) == ("teardown", [])
    assert (tasks["terminate_etl"]["cleanup"], tasks["terminate_etl"]["setups"]) == (False, ["create_etl"])


@pytest.fixture
def grouped(tmp_path: Path) -> Path:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "checks.py").write_text(CHECKS, encoding="utf-8")
    spec = tmp_path / "grouped_flow.yaml"
    spec.write_text(GROUPED, encoding="utf-8")
    return spec


def test_json_in_a_task_group(grouped: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tasks = {task["task_id"]: task for task in _json(capsys, str(grouped))["tasks"]}
    assert list(tasks) == [
        "pick",
        "slow_for_each",
        "prep.run_if_fast",
        "prep.slow_a",
        "prep.slow_b",
        "prep.each_items",
        "prep.fast",
        "prep.each",
    ]
    assert (tasks["prep.run_if_fast"]["type"], tasks["prep.run_if_fast"]["spec_task"]) == ("run_if check", "fast")
    assert tasks["prep.run_if_fast"]["condition"] == "{{ params.fast }}"
    slow = "{{ dag_run.conf.get('mode', 'a condition too long for an edge') == 'slow' }}"
    # paths name spec tasks; a fan-out's members share its condition
    assert tasks["pick"]["branch"] == {
        "paths": {"fast": "{{ params.fast }}", "slow_a": slow, "slow_b": slow},
        "otherwise": ["slow_a", "slow_b"],
    }
    assert [(tasks[t]["fan_out"], tasks[t]["item"]) for t in ("prep.slow_a", "prep.slow_b")] == [
        ("slow", "a"),
        ("slow", "b"),
    ]
    assert (tasks["prep.each_items"]["type"], tasks["prep.each_items"]["spec_task"]) == ("map items", "each")
    each = tasks["prep.each"]
    assert (each["mapped_over"], each["max_items"], each["if_empty"]) == (
        "slow_for_each",
        5,
        "fail",
    )


def test_text_in_a_task_group(grouped: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview", str(grouped), "--now", NOW]) == 0
    text = capsys.readouterr().out
    graph = text[text.index("Task graph\n") : text.index("\nTasks (")]
    assert graph.splitlines()[1:6] == [
        "  pick  [branch]",
        "  ├── prep.run_if_fast  [condition]",
        "  │   └── prep.fast",
        "  ├── prep.slow_a",
        "  └── prep.slow_b",
    ]
    assert "      └── prep.each  [mapped]\n" in graph
    assert "  ([branch]: runs only the paths whose condition holds)\n" in graph
    assert "  ([cleanup]" not in graph  # a legend only for the marks the graph has
    assert (
        "      branch: fast when {{ params.fast }}; slow_a, slow_b when {{ dag_run.conf.get('mode', 'a condition too\n"
        "        long for an edge') == 'slow' }}; when none holds: slow_a, slow_b\n"
    ) in text
    assert "      run if: {{ params.fast }} (when false, fast is skipped, and what needs it)\n" in text
    assert "      for_each: member of slow (b)\n" in text
    assert (
        "      mapped: one task per item of slow_for_each's output, at most 5 (no item: prep.each_items fails)\n"
        in text
    )
    assert "      map items: each's items, from slow_for_each's output (none or more than 5: this task fails)\n" in text


def test_mermaid_in_a_task_group(grouped: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview", str(grouped), "--format", "mermaid"]) == 0
    lines = capsys.readouterr().out.splitlines()
    start = lines.index('  subgraph slow_for_each_2 ["for_each slow"]')  # the task slow_for_each has its id
    assert lines[start : start + 5] == [
        '  subgraph slow_for_each_2 ["for_each slow"]',
        '    prep_slow_a["prep.slow_a<br/>PythonOperator<br/>python"]:::other',
        '    prep_slow_b["prep.slow_b<br/>PythonOperator<br/>python"]:::other',
        "  end",
        "  style slow_for_each_2 fill:#fafafa,stroke:#999999,stroke-dasharray:4 3",
    ]
    assert '  pick{{"pick<br/>BranchPythonOperator<br/>branch"}}:::other' in lines
    assert (
        '  prep_run_if_fast{{"prep.run_if_fast<br/>ShortCircuitOperator<br/>run if {{ params.fast }}"}}:::other'
        in lines
    )
    assert (
        '  prep_each[["prep.each<br/>MappedOperator<br/>python · [mapped] over slow_for_each, ≤ 5"]]:::other' in lines
    )
    assert [line for line in lines if line.startswith("  pick -->")] == [
        '  pick -->|"{{ params.fast }}"| prep_run_if_fast',
        """  pick -->|"{{ dag_run.conf.get('mode', 'a conditio… / otherwise"| prep_slow_a""",
        """  pick -->|"{{ dag_run.conf.get('mode', 'a conditio… / otherwise"| prep_slow_b""",
    ]


def test_dot_draws_decisions_stacks_and_fan_outs(grouped: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview", str(grouped), "--format", "dot"]) == 0
    dot = capsys.readouterr().out
    assert "\tsubgraph cluster_for_each_slow {\n" in dot
    assert '\t\tcolor="#999999" fontsize=11 label="for_each slow" style="rounded,dashed"\n' in dot
    assert dot.count("shape=hexagon") == 2  # the branch and the run_if check
    assert 'shape=box3d style=filled tooltip="prep.each"]' in dot
    assert (
        '\tpick -> "prep.run_if_fast" [label=<<font point-size="9">{{ params.fast }}</font>> fontname="DejaVu Sans"]'
        in dot
    )
