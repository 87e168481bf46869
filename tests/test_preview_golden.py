"""``dagen preview`` of every seed pipeline, byte for byte, in each text format.

The golden files in ``tests/golden/preview/`` are shared by both Airflow lanes:
the preview describes the built DAG without lane-specific details.  Besides the
seeds, ``tests/local_run/control_flow.yaml`` (every control-flow construct) has
goldens in the formats that show no operator arguments: its glue tasks receive
different provider defaults in each lane, so its JSON is checked key by key in
``tests/test_preview_control_flow.py`` instead.  After an intended change,
regenerate them with (either lane)::

    DAGEN_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_preview_golden.py -q

and review the diff like any other change.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from generator.preview.command import main

GOLDEN = Path(__file__).parent / "golden" / "preview"
REPO = Path(__file__).resolve().parent.parent
SEEDS = sorted(path.stem for path in (REPO / "pipelines").glob("*.yaml") if path.stem != "defaults")
EXTENSIONS = {"text": "txt", "mermaid": "mmd", "dot": "dot", "json": "json"}
NOW = "2024-06-01T00:00:00Z"  # fixed, so the next run times are part of the golden output
UPDATE = os.environ.get("DAGEN_UPDATE_GOLDEN") == "1"
CONTROL_FLOW = "tests/local_run/control_flow.yaml"
CONTROL_FLOW_FORMATS = ("text", "mermaid", "dot")  # not json: see the module docstring


def test_seeds_are_the_pipelines() -> None:
    assert SEEDS == ["emr_notebook_best_sellers", "movielens_emr_step_functions", "salary_batch_etl"]


@pytest.mark.parametrize("fmt", sorted(EXTENSIONS))
@pytest.mark.parametrize("dag_id", SEEDS)
def test_golden(dag_id: str, fmt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _check(f"pipelines/{dag_id}.yaml", dag_id, fmt, tmp_path, monkeypatch)


@pytest.mark.parametrize("fmt", CONTROL_FLOW_FORMATS)
def test_control_flow_golden(fmt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Conditions, a branch, fan-outs, a mapped task and a cleanup, as every picture draws them."""
    _check(CONTROL_FLOW, "control_flow", fmt, tmp_path, monkeypatch)


def _check(spec: str, name: str, fmt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # the spec path, as given, appears in the output
    out = tmp_path / f"preview.{EXTENSIONS[fmt]}"
    assert main(["preview", spec, "--format", fmt, "--now", NOW, "-o", str(out)]) == 0
    golden = GOLDEN / f"{name}.{EXTENSIONS[fmt]}"
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(out.read_bytes())
    assert out.read_text(encoding="utf-8") == golden.read_text(encoding="utf-8")


def _block(markdown: str, opening: str, section: str = "") -> str:
    """The fenced block that ``opening`` starts, the first after the heading ``section``."""
    start = markdown.index(opening + "\n", markdown.index(section)) + len(opening) + 1
    return markdown[start : markdown.index("```", start)]


@pytest.mark.parametrize(
    ("opening", "argv", "section"),
    [
        ("$ dagen preview pipelines/salary_batch_etl.yaml --now 2024-06-01T00:00:00Z", ["--now", NOW], ""),
        ("$ dagen preview pipelines/salary_batch_etl.yaml --show-args create_etl", ["--show-args", "create_etl"], ""),
        ("```mermaid", ["--format", "mermaid"], "## Mermaid"),
        ("```dot", ["--format", "dot"], ""),
    ],
)
def test_docs_examples_are_real_output(
    opening: str, argv: list[str], section: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/preview.md shows what the command prints today."""
    monkeypatch.chdir(REPO)
    out = tmp_path / "out"
    assert main(["preview", "pipelines/salary_batch_etl.yaml", *argv, "-o", str(out)]) == 0
    docs = (REPO / "docs" / "preview.md").read_text(encoding="utf-8")
    assert _block(docs, opening, section) == out.read_text(encoding="utf-8")


def test_docs_control_flow_examples_are_real_output() -> None:
    """The Control flow section: its text excerpt is cut from the golden output, its Mermaid is all of it."""
    docs = (REPO / "docs" / "preview.md").read_text(encoding="utf-8")
    text = (GOLDEN / "control_flow.txt").read_text(encoding="utf-8")
    excerpt = _block(docs, f"$ dagen preview {CONTROL_FLOW} --now {NOW}", "## Control flow")
    pieces = excerpt.split("  …\n")
    assert len(pieces) > 1
    at = 0
    for piece in pieces:  # each piece is lines of the output, in its order
        assert piece in text[at:]
        at = text.index(piece, at) + len(piece)
    assert _block(docs, "```mermaid", "## Control flow") == (GOLDEN / "control_flow.mmd").read_text(encoding="utf-8")


def test_docs_json_example_is_the_golden_abridged() -> None:
    """The JSON example is the seed's golden, the arguments of its cluster tasks left out."""
    docs = (REPO / "docs" / "preview.md").read_text(encoding="utf-8")
    golden = json.loads((GOLDEN / "salary_batch_etl.json").read_text(encoding="utf-8"))
    for task in golden["dags"][0]["tasks"]:
        if task["type"].startswith("cluster "):
            task["arguments"] = "@@abridged@@"
    abridged = json.dumps(golden, indent=2, ensure_ascii=False).replace('"@@abridged@@"', "{…}") + "\n"
    assert _block(docs, "```json") == abridged
