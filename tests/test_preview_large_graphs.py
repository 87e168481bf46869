"""Large graphs stay readable in ``dagen preview --format svg``, and task groups are drawn as boxes.

Readable means: shown on a page 1,280 pixels wide (a pull request, a laptop), the picture's smallest
text (the 9-point operator line of each node) is still at least 9 pixels high.  Graphviz draws it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from generator.preview.command import main

REPO = Path(__file__).resolve().parent.parent
PAGE_WIDTH_PX = 1280
SMALLEST_FONT_PT = 9
PX_PER_PT = 4 / 3

SHAPES: dict[str, Callable[[int], list[int]]] = {
    "a chain of 50": lambda i: [i - 1] if i else [],
    "5 chains of 10": lambda i: [i - 5] if i >= 5 else [],
    "one task, then 49 in parallel": lambda i: [0] if i else [],
    "25 chains of 2": lambda i: [i - 25] if i >= 25 else [],
}


def _spec(folder: Path, upstream: Callable[[int], list[int]]) -> Path:
    lines = ["start_date: 2024-01-01", "schedule: null", "tasks:"]
    for index in range(50):
        lines += [f"  wait_{index:02d}:", "    type: s3_wait", f"    key: s3://bucket/in/{index}/_SUCCESS"]
        if upstream(index):
            lines.append(f"    depends_on: [{', '.join(f'wait_{up:02d}' for up in upstream(index))}]")
    path = folder / "large.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _svg(spec: Path, out: Path) -> str:
    assert main(["preview", str(spec), "--format", "svg", "-o", str(out)]) == 0
    return out.read_text(encoding="utf-8")


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_fifty_tasks_stay_readable_on_a_page(shape: str, tmp_path: Path) -> None:
    svg = _svg(_spec(tmp_path, SHAPES[shape]), tmp_path / "large.svg")
    assert len(re.findall(r'<g id="node\d+" class="node">', svg)) == 50
    # the page shrinks a wider picture to its width (and never cuts it): the style Graphviz's SVG is given
    assert '<svg style="max-width: 100%; height: auto" ' in svg
    width_pt = float(re.search(r'<svg [^>]*width="([0-9.]+)pt"', svg).group(1))  # type: ignore[union-attr]
    scale = min(1.0, PAGE_WIDTH_PX / (width_pt * PX_PER_PT))
    assert SMALLEST_FONT_PT * PX_PER_PT * scale >= 9, f"{width_pt}pt wide: text {scale:.2f} of its size"


def test_a_long_chain_is_drawn_top_to_bottom_and_a_seed_left_to_right(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["preview", str(_spec(tmp_path, SHAPES["a chain of 50"])), "--format", "dot"]) == 0
    assert "rankdir=TB" in capsys.readouterr().out
    assert main(["preview", str(REPO / "pipelines" / "salary_batch_etl.yaml"), "--format", "dot"]) == 0
    assert "rankdir=LR" in capsys.readouterr().out


def _extent(shape: str) -> tuple[float, float, float, float]:
    """The bounding box (x0, x1, y0, y1) of the first polygon or path of an SVG fragment."""
    found = re.search(r'\s(?:points|d)="([^"]+)"', shape)
    assert found, shape
    numbers = [float(value) for value in re.findall(r"-?[0-9]+(?:\.[0-9]+)?", found.group(1))]
    xs, ys = numbers[0::2], numbers[1::2]
    return min(xs), max(xs), min(ys), max(ys)


def test_task_groups_are_boxes_holding_their_tasks(tmp_path: Path) -> None:
    svg = _svg(REPO / "tests" / "specs_features" / "curation_producer.yaml", tmp_path / "groups.svg")
    clusters = re.findall(r'<g id="clust\d+" class="cluster">\s*<title>([^<]+)</title>(.*?)</g>', svg, re.DOTALL)
    assert {title: re.findall(r">([^<>]+)</text>", body) for title, body in clusters} == {
        "cluster_group_prepare": ["group prepare"],
        "cluster_group_publish": ["group publish"],
    }
    boxes = {title: _extent(body) for title, body in clusters}
    members = {
        "cluster_group_prepare": ["prepare.clean", "prepare.enrich", "prepare.notebook"],
        "cluster_group_publish": ["publish.curate"],
    }
    for title, tasks in members.items():
        x0, x1, y0, y1 = boxes[title]
        for task in tasks:
            node = re.search(
                rf'<g id="node\d+" class="node">\s*<title>{re.escape(task)}</title>(.*?)</g>', svg, re.DOTALL
            )
            assert node, task
            nx0, nx1, ny0, ny1 = _extent(node.group(1))
            assert x0 <= nx0 and nx1 <= x1 and y0 <= ny0 and ny1 <= y1, (title, task)


def test_the_docs_show_the_svg_as_it_is_drawn(tmp_path: Path) -> None:
    """docs/preview.md's SVG example: its <svg> element is the one drawn (the Graphviz version line aside)."""
    docs = (REPO / "docs" / "preview.md").read_text(encoding="utf-8")
    shown = re.search(r"--format svg \| head -8\n(.*?)```", docs, re.DOTALL).group(1).splitlines()  # type: ignore[union-attr]
    drawn = _svg(REPO / "pipelines" / "salary_batch_etl.yaml", tmp_path / "salary.svg").splitlines()[:8]
    assert [line for line in shown if "graphviz version" not in line] == [
        line for line in drawn if "graphviz version" not in line
    ]
