"""``dagen preview`` as a picture: Mermaid (for pull requests), Graphviz DOT, and SVG/PNG drawn by ``dot``.

Why not Airflow's own ``airflow.utils.dot_renderer.render_dag``: it labels each
node with its task id only and colours it by the operator's ``ui_color`` (the
provider's choice, so a setup, a step and a teardown can look alike), and it
draws no setup/teardown relation, trigger rule or task type -- the things a
reviewer of a pipeline needs to see.  Its DOT also differs between Airflow
majors.  So the graph is drawn here from the stable summary, and the tests
check that its edges are exactly the edges ``render_dag`` draws for the same
DAG object.

SVG and PNG need Graphviz's ``dot`` program (Debian package ``graphviz``;
``scripts/ensure-preview-tools.sh`` installs it).
"""

from __future__ import annotations

import html
import re
from typing import Any

from generator.preview.model import DagPreview
from generator.preview.tasks import CLUSTER_CREATE, CLUSTER_TERMINATE, TaskPreview

FONT = "DejaVu Sans"  # what Debian's graphviz finds through fontconfig; others fall back
# Fill colours per family of task type, for graph readers (not Airflow's ui_color).
_FILLS = {
    "cluster": "#f9d9a6",
    "emr": "#fff1d6",
    "step_function": "#e6dcff",
    "glue": "#d7f0e1",
}
_DEFAULT_FILL = "#eeeeee"
_MERMAID_RESERVED = frozenset(
    {"end", "graph", "subgraph", "flowchart", "style", "class", "classdef", "click", "linkstyle", "direction"}
)


class GraphvizMissing(RuntimeError):
    """Graphviz's ``dot`` program is not installed."""


def _family(task: TaskPreview) -> str:
    if task.kind in (CLUSTER_CREATE, CLUSTER_TERMINATE):
        return "cluster"
    if task.kind.startswith("emr_"):
        return "emr"
    if task.kind.startswith("glue_"):
        return "glue"
    return task.kind.split(" ")[0]


def _subtitle(task: TaskPreview) -> str:
    kind = f"{task.kind} {task.cluster}" if task.kind in (CLUSTER_CREATE, CLUSTER_TERMINATE) else task.kind
    marks = [task.role] if task.role != "task" else []
    if task.trigger_rule != "all_success":
        marks.append(f"trigger: {task.trigger_rule}")
    return " · ".join([kind, *marks])


def _is_wait(task: TaskPreview) -> bool:
    return task.kind.endswith(" wait")


def _teardown_edge(preview: DagPreview, upstream: str, downstream: str) -> bool:
    task = preview.task(downstream)
    return task is not None and upstream in task.setups


# -- Graphviz -----------------------------------------------------------------------------------


def _node_label(task: TaskPreview) -> str:
    return (
        f"<<b>{html.escape(task.task_id)}</b><br/>"
        f'<font point-size="9">{html.escape(task.operator)}</font><br/>'
        f'<font point-size="9" color="#555555">{html.escape(_subtitle(task))}</font>>'
    )


def _draw(graph: Any, preview: DagPreview, prefix: str) -> None:
    for task in preview.tasks:
        style = ["rounded", "filled"] + (["dashed"] if _is_wait(task) else [])
        graph.node(
            prefix + task.task_id,
            label=_node_label(task),
            style=",".join(style),
            fillcolor=_FILLS.get(_family(task), _DEFAULT_FILL),
            penwidth="2" if task.role != "task" else "1",
            tooltip=task.task_id,
        )
    for upstream, downstream in preview.edges:
        if _teardown_edge(preview, upstream, downstream):
            graph.edge(prefix + upstream, prefix + downstream, style="dashed", color="#888888", arrowhead="empty")
        else:
            graph.edge(prefix + upstream, prefix + downstream)


def digraph(previews: list[DagPreview], *, dpi: int | None = None) -> Any:
    """A ``graphviz.Digraph`` of the DAG(s); several DAGs become one cluster each."""
    import graphviz

    single = len(previews) == 1
    title = f"{previews[0].dag_id} ({previews[0].file})" if single else "dagen preview"
    graph_attr = {"rankdir": "LR", "label": title, "labelloc": "t", "fontname": FONT, "fontsize": "14"}
    if dpi:
        graph_attr["dpi"] = str(dpi)
    graph = graphviz.Digraph(
        previews[0].dag_id if single else "dagen",
        graph_attr=graph_attr,
        node_attr={"shape": "box", "fontname": FONT, "fontsize": "11", "color": "#444444"},
        edge_attr={"color": "#444444"},
    )
    if single:
        _draw(graph, previews[0], "")
        return graph
    for preview in previews:
        with graph.subgraph(name=f"cluster_{preview.dag_id}") as sub:
            sub.attr(label=f"{preview.dag_id} ({preview.file})", style="rounded", color="#999999")
            _draw(sub, preview, f"{preview.dag_id}.")
    return graph


def render_dot(previews: list[DagPreview]) -> str:
    return str(digraph(previews).source)


def _pipe(previews: list[DagPreview], fmt: str, dpi: int | None = None) -> bytes:
    import graphviz

    try:
        return bytes(digraph(previews, dpi=dpi).pipe(format=fmt))
    except graphviz.ExecutableNotFound as error:
        raise GraphvizMissing(
            "Graphviz's `dot` program is needed for SVG and PNG: run scripts/ensure-preview-tools.sh "
            "(or apt-get install graphviz)"
        ) from error


def render_svg(previews: list[DagPreview]) -> str:
    return _pipe(previews, "svg").decode("utf-8")


def render_png(previews: list[DagPreview]) -> bytes:
    return _pipe(previews, "png", dpi=144)  # sharp enough to read in a pull request


# -- Mermaid ------------------------------------------------------------------------------------


def _mermaid_text(text: str) -> str:
    return html.escape(text, quote=False).replace('"', "#quot;")


def _mermaid_ids(previews: list[DagPreview]) -> dict[tuple[str, str], str]:
    """Node ids Mermaid accepts: letters, digits, '_'; never a keyword; unique across DAGs."""
    ids: dict[tuple[str, str], str] = {}
    used: set[str] = set()
    for number, preview in enumerate(previews, start=1):
        for task in preview.tasks:
            base = re.sub(r"[^A-Za-z0-9_]", "_", task.task_id)
            if len(previews) > 1:
                base = f"d{number}_{base}"
            if base.lower() in _MERMAID_RESERVED:
                base += "_"
            node, suffix = base, 2
            while node in used:
                node, suffix = f"{base}_{suffix}", suffix + 1
            used.add(node)
            ids[(preview.dag_id, task.task_id)] = node
    return ids


def render_mermaid(previews: list[DagPreview]) -> str:
    ids = _mermaid_ids(previews)
    single = len(previews) == 1
    lines = ["flowchart LR"]
    for preview in previews:
        indent = "  " if single else "    "
        if single:
            lines.append(f"  %% {preview.dag_id} ({preview.file})")
        else:
            lines.append(f'  subgraph {ids[(preview.dag_id, preview.tasks[0].task_id)]}_dag ["{preview.dag_id}"]')
        for task in preview.tasks:
            label = "<br/>".join(_mermaid_text(part) for part in (task.task_id, task.operator, _subtitle(task)))
            family = _family(task) if _family(task) in _FILLS else "other"
            classes = [family] + ([task.role] if task.role != "task" else []) + (["wait"] if _is_wait(task) else [])
            node = ids[(preview.dag_id, task.task_id)]
            lines.append(f'{indent}{node}["{label}"]:::{classes[0]}')
            lines.extend(f"{indent}class {node} {extra}" for extra in classes[1:])
        for upstream, downstream in preview.edges:
            arrow = "-.->" if _teardown_edge(preview, upstream, downstream) else "-->"
            lines.append(f"{indent}{ids[(preview.dag_id, upstream)]} {arrow} {ids[(preview.dag_id, downstream)]}")
        if not single:
            lines.append("  end")
    for family, fill in sorted({**_FILLS, "other": _DEFAULT_FILL}.items()):
        lines.append(f"  classDef {family} fill:{fill},stroke:#444444,color:#000000")
    lines.append("  classDef setup stroke-width:3px")
    lines.append("  classDef teardown stroke-width:3px")
    lines.append("  classDef wait stroke-dasharray:4 3")
    return "\n".join(lines) + "\n"
