"""``dagen preview --format html``: one self-contained page per preview.

The page holds everything inline -- the graph as SVG drawn by Graphviz, the
schedule, the task table (with each task's control flow in words), clusters,
params and every task's arguments -- and
loads nothing: no script, no font, no CDN (the machines it is opened on may be
offline).  A Content-Security-Policy forbids any fetch, so the page provably
stands alone.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from html import escape

from generator.preview.graph import render_svg
from generator.preview.model import DagPreview
from generator.preview.tasks import TaskPreview
from generator.preview.text import (
    flow_notes,
    instance_lines,
    kind_text,
    marks_text,
    run_time_text,
    schedule_facts,
    tree_lines,
    value_lines,
)
from generator.spec.normalise import format_duration

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
STYLE = """
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; margin: 1.5rem; color: #1b1b1b; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; }
h2 { font-size: 1.15rem; margin-top: 1.6rem; }
.file, .meta { color: #555; }
.marks { color: #8a4b00; }
.flow { color: #1f4e79; font-size: .85rem; }
code { font-size: .9em; }
code, pre { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; }
.graph { border: 1px solid #ddd; border-radius: 6px; padding: .5rem; overflow-x: auto; background: #fff; }
.graph svg { max-width: 100%; height: auto; }
.table { overflow-x: auto; }
table { border-collapse: collapse; font-size: .9rem; }
th, td { border: 1px solid #ddd; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
pre { background: #f7f7f7; padding: .6rem; border-radius: 4px; overflow-x: auto; font-size: .85rem; }
details { margin: .3rem 0; }
summary { cursor: pointer; }
.dag { border-top: 3px solid #444; margin-top: 2rem; }
"""


def _svg(preview: DagPreview) -> str:
    svg = render_svg([preview])
    svg = svg[svg.index("<svg") :]  # drop the XML prolog and doctype: not allowed inside HTML
    # Graphviz numbers its elements graph0, node1...: keep ids unique when a page holds several graphs.
    return re.sub(r'\bid="', f'id="{escape(preview.dag_id)}-', svg)


def _table(head: list[str], rows: list[list[str]]) -> str:
    header = "".join(f"<th>{escape(cell)}</th>" for cell in head)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<div class="table"><table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table></div>'


def _code_list(items: tuple[str, ...], separator: str = ", ") -> str:
    return separator.join(f"<code>{escape(item)}</code>" for item in items) or "-"


def _kind_cell(preview: DagPreview, task: TaskPreview) -> str:
    """The task's type, its marks, then its control flow (``run if: ...``), one line each."""
    cell = escape(kind_text(task))
    if marks_text(task):
        cell += f'<br><em class="marks">{escape(marks_text(task))}</em>'
    return cell + "".join(f'<br><span class="flow">{escape(note)}</span>' for note in flow_notes(preview, task))


def _section(preview: DagPreview, now: datetime) -> str:
    anchor = escape(preview.dag_id)
    parts = [f'<section class="dag" id="{anchor}">', f"<h1>{escape(preview.dag_id)}</h1>"]
    parts.append(f'<p class="file">{escape(preview.file)}</p>')
    if preview.description:
        parts.append(f"<p>{escape(preview.description)}</p>")
    paused = " · paused when first deployed" if preview.paused_on_creation else ""
    parts.append(f'<p class="meta">owner {escape(preview.owner)} · tags: {_code_list(preview.tags)}{paused}</p>')

    parts += ["<h2>Graph</h2>", f'<div class="graph">{_svg(preview)}</div>']
    parts += ["<details><summary>as a tree</summary><pre>", escape("\n".join(tree_lines(preview))), "</pre></details>"]

    schedule = preview.schedule
    parts.append("<h2>Schedule</h2>")
    if schedule.expression is None:
        parts.append(f"<p>{escape(schedule.description)}</p>")
    else:
        words = f"{schedule.description} ({schedule.timezone})"
        parts.append(f"<p><code>{escape(schedule.expression)}</code>: {escape(words)}</p>")
    facts = schedule_facts(preview)
    parts.append("<ul>" + "".join(f"<li>{escape(fact)}</li>" for fact in facts) + "</ul>")
    if schedule.next_runs:
        runs = "".join(f"<li><time>{escape(run_time_text(run))}</time></li>" for run in schedule.next_runs)
        parts.append(f"<p>Next runs after {escape(now.isoformat())} ({escape(schedule.timezone)}):</p><ol>{runs}</ol>")

    parts.append(f"<h2>Tasks ({len(preview.tasks)})</h2>")
    rows = [
        [
            f"<code>{escape(t.task_id)}</code>",
            _kind_cell(preview, t),
            escape(t.operator),
            escape(t.trigger_rule),
            _code_list(t.upstream, "<br>"),
            _code_list(t.downstream, "<br>"),
        ]
        for t in preview.tasks
    ]
    parts.append(_table(["task", "type and marks", "operator", "trigger rule", "upstream", "downstream"], rows))

    if preview.clusters:
        parts.append("<h2>Clusters</h2>")
        rows = []
        for cluster in preview.clusters:
            instances = "<br>".join(escape(line) for line in instance_lines(cluster))
            rows.append(
                [
                    f"<code>{escape(cluster.name)}</code>",
                    escape(cluster.release or "-"),
                    escape(", ".join(cluster.applications)),
                    instances,
                    escape(format_duration(cluster.idle_timeout) if cluster.idle_timeout else "none"),
                    escape(str(cluster.step_concurrency or 1)),
                    f"<code>{escape(cluster.log_uri or '-')}</code>",
                ]
            )
        parts.append(
            _table(["cluster", "release", "applications", "instances", "idle timeout", "steps at once", "logs"], rows)
        )

    parts.append("<h2>Params</h2>")
    if preview.params:
        rows = [
            [
                f"<code>{escape(p.name)}</code>",
                escape(str(p.schema.get("type", "any"))),
                f"<code>{escape(json.dumps(p.default, ensure_ascii=False))}</code>",
                escape(p.description or ""),
            ]
            for p in preview.params
        ]
        parts.append(_table(["param", "type", "default", "description"], rows))
    else:
        parts.append("<p>none</p>")

    parts.append(
        "<h2>Arguments</h2><p>What each operator receives; Jinja templates are rendered by Airflow at run time.</p>"
    )
    for task in preview.tasks:
        text = "\n".join(value_lines(task.arguments))
        parts.append(
            f"<details><summary><code>{escape(task.task_id)}</code> ({escape(task.operator)})</summary>"
            f"<pre>{escape(text)}</pre></details>"
        )
    parts.append("</section>")
    return "\n".join(parts)


def render_html(previews: list[DagPreview], now: datetime) -> str:
    title = previews[0].dag_id if len(previews) == 1 else f"{len(previews)} pipelines"
    nav = ""
    if len(previews) > 1:
        links = "".join(f'<li><a href="#{escape(p.dag_id)}">{escape(p.dag_id)}</a></li>' for p in previews)
        nav = f"<nav><ul>{links}</ul></nav>"
    sections = "\n".join(_section(preview, now) for preview in previews)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>dagen preview: {escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"{nav}\n{sections}\n"
        f'<p class="meta">Generated by <code>dagen preview</code> at {escape(now.isoformat())}.</p>\n'
        "</body>\n</html>\n"
    )
