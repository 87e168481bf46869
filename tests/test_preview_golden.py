"""``dagen preview`` of every seed pipeline, byte for byte, in each text format.

The golden files in ``tests/golden/preview/`` are shared by both Airflow lanes:
the preview describes the built DAG without lane-specific details.  After an
intended change, regenerate them with (either lane)::

    DAGEN_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_preview_golden.py -q

and review the diff like any other change.
"""

from __future__ import annotations

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


def test_seeds_are_the_pipelines() -> None:
    assert SEEDS == ["emr_notebook_best_sellers", "movielens_emr_step_functions", "salary_batch_etl"]


@pytest.mark.parametrize("fmt", sorted(EXTENSIONS))
@pytest.mark.parametrize("dag_id", SEEDS)
def test_golden(dag_id: str, fmt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # the spec path, as given, appears in the output
    out = tmp_path / f"preview.{EXTENSIONS[fmt]}"
    argv = ["preview", f"pipelines/{dag_id}.yaml", "--format", fmt, "--now", NOW, "-o", str(out)]
    assert main(argv) == 0
    golden = GOLDEN / f"{dag_id}.{EXTENSIONS[fmt]}"
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(out.read_bytes())
    assert out.read_text(encoding="utf-8") == golden.read_text(encoding="utf-8")


def _block(markdown: str, opening: str) -> str:
    start = markdown.index(opening + "\n") + len(opening) + 1
    return markdown[start : markdown.index("```", start)]


@pytest.mark.parametrize(
    ("opening", "argv"),
    [
        ("$ dagen preview pipelines/salary_batch_etl.yaml --now 2024-06-01T00:00:00Z", ["--now", NOW]),
        ("$ dagen preview pipelines/salary_batch_etl.yaml --show-args create_etl", ["--show-args", "create_etl"]),
        ("```mermaid", ["--format", "mermaid"]),
        ("```dot", ["--format", "dot"]),
    ],
)
def test_docs_examples_are_real_output(
    opening: str, argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/preview.md shows what the command prints today."""
    monkeypatch.chdir(REPO)
    out = tmp_path / "out"
    assert main(["preview", "pipelines/salary_batch_etl.yaml", *argv, "-o", str(out)]) == 0
    docs = (REPO / "docs" / "preview.md").read_text(encoding="utf-8")
    assert _block(docs, opening) == out.read_text(encoding="utf-8")
