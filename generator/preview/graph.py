"""``dagen preview`` as a picture: Mermaid (for pull requests), Graphviz DOT, and SVG/PNG drawn by ``dot``.

Why not Airflow's own ``airflow.utils.dot_renderer.render_dag``: it labels each
node with its task id only and colours it by the operator's ``ui_color`` (the
provider's choice, so a setup, a step and a teardown can look alike), and it
draws no setup/teardown relation, trigger rule or task type -- the things a
reviewer of a pipeline needs to see.  Its DOT also differs between Airflow
majors.  So the graph is drawn here from the stable summary, and the tests
check that its edges are exactly the edges ``render_dag`` draws for the same
DAG object.

Control flow is drawn too: a ``run_if`` check and a branch as a decision
(a hexagon), a mapped task as a stack (Graphviz's ``box3d``, Mermaid's
subroutine box) marked ``[mapped]``, the edges out of a branch labelled
with the condition of the path they lead to, and the members of each static
``for_each`` fan-out boxed together under the fan-out's name.  Task groups are boxes too.

A large graph stays readable: a long chain is drawn top to bottom (a picture fitted to a page's width
keeps its labels large), and a page narrower than the SVG shrinks it to fit instead of cutting it.

SVG and PNG need Graphviz's ``dot`` program (Debian package ``graphviz``;
``scripts/ensure-preview-tools.sh`` installs it).
"""

from __future__ import annotations

import html
import re
from typing import Any

from generator.preview.model import DagPreview
from generator.preview.tasks import CLUSTER_CREATE, CLUSTER_DELETE, CLUSTER_TERMINATE, RUN_IF_CHECK, TaskPreview

FONT = "DejaVu Sans"  # what Debian's graphviz finds through fontconfig; others fall back
# Fill colours per family of task type, for graph readers (not Airflow's ui_color).
_FILLS = {
    "cluster": "#f9d9a6",
    "emr": "#fff1d6",
    "step_function": "#e6dcff",
    "glue": "#d7f0e1",
}
_DEFAULT_FILL = "#eeeeee"
LABEL_LENGTH = 40  # characters of a condition shown on a node or an edge
_FAN_OUT_STYLE = "fill:#fafafa,stroke:#999999,stroke-dasharray:4 3"  # a fan-out's Mermaid subgraph
_MERMAID_RESERVED = frozenset(
    {"end", "graph", "subgraph", "flowchart", "style", "class", "classdef", "click", "linkstyle", "direction"}
)


class GraphvizMissing(RuntimeError):
    """Graphviz's ``dot`` program is not installed."""


_LIFECYCLE = (CLUSTER_CREATE, CLUSTER_TERMINATE, CLUSTER_DELETE)


def _family(task: TaskPreview) -> str:
    if task.kind in _LIFECYCLE:
        return "cluster"
    if task.kind.startswith("emr_"):
        return "emr"
    if task.kind.startswith("glue_"):
        return "glue"
    return task.kind.split(" ")[0]


def short(text: str, limit: int = LABEL_LENGTH) -> str:
    """A condition cut to fit a node or an edge label."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _subtitle(task: TaskPreview) -> str:
    kind = f"{task.kind} {task.cluster}" if task.kind in _LIFECYCLE else task.kind
    if task.condition is not None:
        kind = f"run if {short(task.condition)}"
    marks = ["cleanup" if task.cleanup else task.role] if task.role != "task" else []
    if task.mapped:
        marks.append(f"[mapped] over {task.mapped_over}, ≤ {task.max_items}")
    if task.trigger_rule != "all_success":
        marks.append(f"trigger: {task.trigger_rule}")
    return " · ".join([kind, *marks])


def _is_wait(task: TaskPreview) -> bool:
    return task.kind.endswith(" wait")


def is_decision(task: TaskPreview) -> bool:
    """A task that decides what runs after it: a run_if check or a branch."""
    return task.kind == RUN_IF_CHECK or task.branch is not None


def fan_outs(preview: DagPreview) -> dict[str, list[TaskPreview]]:
    """Each static fan-out and the Airflow tasks of its members, in the order they first appear."""
    out: dict[str, list[TaskPreview]] = {}
    for task in preview.tasks:
        if task.fan_out is not None:
            out.setdefault(task.fan_out, []).append(task)
    return out


def _below(downstream: dict[str, tuple[str, ...]], task_id: str) -> set[str]:
    """The task and every task downstream of it."""
    seen, stack = set(), [task_id]
    while stack:
        current = stack.pop()
        if current not in seen:
            seen.add(current)
            stack.extend(downstream[current])
    return seen


def branch_labels(preview: DagPreview) -> dict[tuple[str, str], str]:
    """(branch, downstream task) -> the condition(s) of the path(s) that edge leads to, shortened."""
    entry: dict[str, str] = {}  # spec task -> its first Airflow task (its run_if check, if any)
    for task in preview.tasks:
        if task.spec_task is not None:
            entry.setdefault(task.spec_task, task.task_id)
    downstream = {task.task_id: task.downstream for task in preview.tasks}
    out: dict[tuple[str, str], str] = {}
    for task in preview.tasks:
        if task.branch is None:
            continue
        for child in task.downstream:
            below = _below(downstream, child)
            labels = [short(when) for path, when in task.branch.paths.items() if entry.get(path) in below]
            if any(entry.get(path) in below for path in task.branch.otherwise):
                labels.append("otherwise")
            if labels:
                out[(task.task_id, child)] = " / ".join(dict.fromkeys(labels))
    return out


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


def _node(graph: Any, task: TaskPreview, prefix: str) -> None:
    style = ([] if task.mapped else ["rounded"]) + ["filled"] + (["dashed"] if _is_wait(task) else [])
    shape = {"shape": "hexagon"} if is_decision(task) else {"shape": "box3d"} if task.mapped else {}
    graph.node(
        prefix + task.task_id,
        label=_node_label(task),
        style=",".join(style),
        fillcolor=_FILLS.get(_family(task), _DEFAULT_FILL),
        penwidth="2" if task.role != "task" else "1",
        tooltip=task.task_id,
        **shape,
    )


def _draw_tasks(graph: Any, tasks: list[TaskPreview], preview: DagPreview, prefix: str) -> None:
    groups = fan_outs(preview)
    for task in tasks:
        if task.fan_out is None:
            _node(graph, task, prefix)
        elif groups[task.fan_out][0] is task:
            with graph.subgraph(name=f"cluster_{prefix}for_each_{task.fan_out}") as sub:
                sub.attr(label=f"for_each {task.fan_out}", style="rounded,dashed", color="#999999", fontsize="11")
                for member in groups[task.fan_out]:
                    _node(sub, member, prefix)


def _draw(graph: Any, preview: DagPreview, prefix: str) -> None:
    _draw_tasks(graph, [task for task in preview.tasks if task.group is None], preview, prefix)
    for group in dict.fromkeys(task.group for task in preview.tasks if task.group is not None):
        with graph.subgraph(name=f"cluster_{prefix}group_{group}") as sub:
            sub.attr(label=f"group {group}", style="rounded", color="#6b8fb3", fontsize="11")
            _draw_tasks(sub, [task for task in preview.tasks if task.group == group], preview, prefix)
    labels = branch_labels(preview)
    for upstream, downstream in preview.edges:
        if _teardown_edge(preview, upstream, downstream):
            graph.edge(prefix + upstream, prefix + downstream, style="dashed", color="#888888", arrowhead="empty")
        elif (upstream, downstream) in labels:
            text = html.escape(labels[(upstream, downstream)])
            label = f'<<font point-size="9">{text}</font>>'
            graph.edge(prefix + upstream, prefix + downstream, label=label, fontname=FONT)
        else:
            graph.edge(prefix + upstream, prefix + downstream)


LONG_CHAIN = 8  # tasks on the longest path from which a graph deeper than it is wide is drawn top to bottom


def _depth_and_breadth(preview: DagPreview) -> tuple[int, int]:
    """Tasks on the longest path, and the most tasks at one depth (``tasks`` are upstream first)."""
    depth: dict[str, int] = {}
    for task in preview.tasks:
        depth[task.task_id] = 1 + max((depth[up] for up in task.upstream if up in depth), default=0)
    levels = list(depth.values())
    return max(levels, default=0), max((levels.count(level) for level in set(levels)), default=0)


def rank_direction(previews: list[DagPreview]) -> str:
    """``LR`` (left to right) unless the longest chain is long and deeper than the graph is wide: ``TB``."""
    depth, breadth = max((_depth_and_breadth(preview) for preview in previews), default=(0, 0))
    return "TB" if depth > LONG_CHAIN and depth > breadth else "LR"


def digraph(previews: list[DagPreview], *, dpi: int | None = None) -> Any:
    """A ``graphviz.Digraph`` of the DAG(s); several DAGs become one cluster each."""
    import graphviz

    single = len(previews) == 1
    title = f"{previews[0].dag_id} ({previews[0].file})" if single else "dagen preview"
    graph_attr = {"rankdir": rank_direction(previews), "label": title, "labelloc": "t", "fontname": FONT}
    graph_attr["fontsize"] = "14"
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
    """Graphviz's SVG, which a page narrower than the picture shrinks to fit (its ``viewBox`` keeps the shape)."""
    svg = _pipe(previews, "svg").decode("utf-8")
    return svg.replace("<svg ", '<svg style="max-width: 100%; height: auto" ', 1)


def render_png(previews: list[DagPreview]) -> bytes:
    return _pipe(previews, "png", dpi=144)  # sharp enough to read in a pull request


# -- Mermaid ------------------------------------------------------------------------------------


def _mermaid_text(text: str) -> str:
    return html.escape(text, quote=False).replace('"', "#quot;").replace("|", "#124;")


def _fan_out_key(name: str) -> str:
    return f"for_each {name}"  # no task id has a space: never a task's key


def _mermaid_ids(previews: list[DagPreview]) -> dict[tuple[str, str], str]:
    """Node (and fan-out subgraph) ids Mermaid accepts: letters, digits, '_'; never a keyword; unique across DAGs."""
    ids: dict[tuple[str, str], str] = {}
    used: set[str] = set()

    def add(key: tuple[str, str], name: str, number: int) -> None:
        base = re.sub(r"[^A-Za-z0-9_]", "_", name)
        if len(previews) > 1:
            base = f"d{number}_{base}"
        if base.lower() in _MERMAID_RESERVED:
            base += "_"
        node, suffix = base, 2
        while node in used:
            node, suffix = f"{base}_{suffix}", suffix + 1
        used.add(node)
        ids[key] = node

    for number, preview in enumerate(previews, start=1):
        for task in preview.tasks:
            add((preview.dag_id, task.task_id), task.task_id, number)
    for number, preview in enumerate(previews, start=1):
        for name in fan_outs(preview):
            add((preview.dag_id, _fan_out_key(name)), f"{name}_for_each", number)
    return ids


def _mermaid_node(task: TaskPreview, node: str, indent: str) -> list[str]:
    label = "<br/>".join(_mermaid_text(part) for part in (task.task_id, task.operator, _subtitle(task)))
    family = _family(task) if _family(task) in _FILLS else "other"
    classes = [family] + ([task.role] if task.role != "task" else []) + (["wait"] if _is_wait(task) else [])
    opening, closing = ("{{", "}}") if is_decision(task) else ("[[", "]]") if task.mapped else ("[", "]")
    lines = [f'{indent}{node}{opening}"{label}"{closing}:::{classes[0]}']
    return lines + [f"{indent}class {node} {extra}" for extra in classes[1:]]


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
        groups = fan_outs(preview)
        for task in preview.tasks:
            if task.fan_out is None:
                lines += _mermaid_node(task, ids[(preview.dag_id, task.task_id)], indent)
            elif groups[task.fan_out][0] is task:
                title = _mermaid_text(f"for_each {task.fan_out}")
                lines.append(f'{indent}subgraph {ids[(preview.dag_id, _fan_out_key(task.fan_out))]} ["{title}"]')
                for member in groups[task.fan_out]:
                    lines += _mermaid_node(member, ids[(preview.dag_id, member.task_id)], indent + "  ")
                lines.append(f"{indent}end")
                lines.append(f"{indent}style {ids[(preview.dag_id, _fan_out_key(task.fan_out))]} {_FAN_OUT_STYLE}")
        labels = branch_labels(preview)
        for upstream, downstream in preview.edges:
            arrow = "-.->" if _teardown_edge(preview, upstream, downstream) else "-->"
            if (upstream, downstream) in labels:
                arrow += f'|"{_mermaid_text(labels[(upstream, downstream)])}"|'
            lines.append(f"{indent}{ids[(preview.dag_id, upstream)]} {arrow} {ids[(preview.dag_id, downstream)]}")
        if not single:
            lines.append("  end")
    for family, fill in sorted({**_FILLS, "other": _DEFAULT_FILL}.items()):
        lines.append(f"  classDef {family} fill:{fill},stroke:#444444,color:#000000")
    lines.append("  classDef setup stroke-width:3px")
    lines.append("  classDef teardown stroke-width:3px")
    lines.append("  classDef wait stroke-dasharray:4 3")
    return "\n".join(lines) + "\n"
