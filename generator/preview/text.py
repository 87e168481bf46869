"""``dagen preview`` as text: the DAG's header, schedule, task graph, tasks, clusters, connections and params.

Rendered from :class:`generator.preview.model.DagPreview` only, so the text is
the same under every Airflow lane.  The task graph is drawn as a tree: each
task hangs under the upstream task that comes last in dependency order (where
it becomes runnable); under its other upstream tasks it appears as a
``↪`` reference, so a task with several upstream tasks is drawn once.
Control flow is marked in the tree (``[condition]``, ``[branch]``,
``[mapped]``, ``[cleanup]``) and spelled out in the Tasks section, one line
per construct (:func:`flow_notes`).
"""

from __future__ import annotations

import json
import re
import textwrap
from datetime import datetime
from typing import Any

from generator.preview.clusters import ClusterPreview
from generator.preview.model import DagPreview
from generator.preview.tasks import MAP_ITEMS, RUN_IF_CHECK, TaskPreview
from generator.spec.normalise import format_duration

INDENT = "  "
REFERENCE = "↪"
# Strings shown in quotes because bare they would read as another type or hide whitespace.
_AMBIGUOUS = re.compile(r"^$|^\s|\s$|^(true|false|null|-?[0-9][0-9_.eE+-]*)$|[\n\r\t]")


def scalar_text(value: Any) -> str:
    """A scalar as a reader needs it: strings bare (templates stay readable) unless ambiguous."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False) if _AMBIGUOUS.search(value) else value
    return json.dumps(value, ensure_ascii=False)


def value_lines(value: Any, indent: str = "") -> list[str]:
    """A nested value as indented YAML-like lines (for reading, not for parsing back)."""
    lines: list[str] = []
    if isinstance(value, dict):
        if not value:
            return [f"{indent}{{}}"]
        for key, sub in value.items():
            if isinstance(sub, (dict, list)) and sub:
                lines.append(f"{indent}{key}:")
                lines.extend(value_lines(sub, indent + INDENT))
            else:
                lines.append(f"{indent}{key}: {_inline(sub)}")
        return lines
    if isinstance(value, list):
        if not value:
            return [f"{indent}[]"]
        for item in value:
            nested = value_lines(item, indent + INDENT)
            if isinstance(item, (dict, list)) and item:
                lines.append(f"{indent}- {nested[0].lstrip()}")
                lines.extend(nested[1:])
            else:
                lines.append(f"{indent}- {_inline(item)}")
        return lines
    return [f"{indent}{scalar_text(value)}"]


def _inline(value: Any) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return scalar_text(value)


def arguments_text(preview: DagPreview, task: TaskPreview) -> str:
    """``--show-args TASK``: the operator's keyword arguments as it received them."""
    head = f"{preview.dag_id}.{task.task_id}  ({kind_text(task)}, {task.operator})"
    return "\n".join([head, *value_lines(task.arguments, INDENT)])


def kind_text(task: TaskPreview) -> str:
    return f"{task.kind} {task.cluster}" if task.cluster and task.kind.startswith("cluster ") else task.kind


def marks_text(task: TaskPreview) -> str:
    if task.role == "setup":
        return "setup"
    if task.cleanup:
        return "cleanup"
    if task.role == "teardown":
        fails = ", fails the run if it fails" if task.fails_run else ""
        return f"teardown of {', '.join(task.setups)}{fails}"
    return ""


def tree_marks(task: TaskPreview) -> list[str]:
    """What the task graph marks a task with: its role, and the control flow it carries."""
    marks = ["cleanup" if task.cleanup else task.role] if task.role != "task" else []
    if task.kind == RUN_IF_CHECK:
        marks.append("condition")
    if task.branch is not None:
        marks.append("branch")
    if task.mapped:
        marks.append("mapped")
    return marks


def _mapped_task(preview: DagPreview, items: TaskPreview) -> TaskPreview | None:
    return next((t for t in preview.tasks if t.mapped and t.spec_task == items.spec_task), None)


def flow_notes(preview: DagPreview, task: TaskPreview) -> list[str]:
    """The task's control flow in words, one line per construct (``run if: ...``, ``branch: ...``...)."""
    notes = []
    if task.condition is not None:
        notes.append(f"run if: {task.condition} (when false, {task.spec_task} is skipped, and what needs it)")
    if task.branch is not None:
        by_condition: dict[str, list[str]] = {}  # the members of a fan-out share their path's condition
        for path, condition in task.branch.paths.items():
            by_condition.setdefault(condition, []).append(path)
        paths = [f"{', '.join(names)} when {condition}" for condition, names in by_condition.items()]
        otherwise = ", ".join(task.branch.otherwise) or "every path is skipped"
        notes.append(f"branch: {'; '.join(paths)}; when none holds: {otherwise}")
    if task.fan_out is not None:
        notes.append(f"for_each: member of {task.fan_out} ({task.item})")
    if task.mapped:
        items = next((t.task_id for t in preview.tasks if t.kind == MAP_ITEMS and t.spec_task == task.spec_task), "")
        empty = f"{items} fails" if task.if_empty == "fail" else f"{task.spec_task} is skipped"
        notes.append(
            f"mapped: one task per item of {task.mapped_over}'s output, at most {task.max_items} (no item: {empty})"
        )
    mapped = _mapped_task(preview, task) if task.kind == MAP_ITEMS else None
    if mapped is not None:
        fails = f"{'none or ' if mapped.if_empty == 'fail' else ''}more than {mapped.max_items}: this task fails"
        notes.append(f"map items: {mapped.spec_task}'s items, from {mapped.mapped_over}'s output ({fails})")
    if task.cleanup:
        notes.append("cleanup: runs after its upstream tasks whatever their state; the run's state stays theirs")
    return notes


def _table(rows: list[list[str]], indent: str) -> list[str]:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return [
        (indent + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))).rstrip()
        for row in rows
    ]


def tree_lines(preview: DagPreview) -> list[str]:
    """The task graph as a tree (see the module docstring)."""
    position = {task.task_id: index for index, task in enumerate(preview.tasks)}
    by_id = {task.task_id: task for task in preview.tasks}
    home = {task.task_id: max(task.upstream, key=position.__getitem__, default=None) for task in preview.tasks}
    lines: list[str] = []

    def label(task: TaskPreview) -> str:
        marks = tree_marks(task)
        return f"{task.task_id}  [{', '.join(marks)}]" if marks else task.task_id

    def walk(start: TaskPreview) -> None:
        """Depth-first, with a stack of its own: a chain of a thousand tasks is a thousand levels deep."""
        stack: list[tuple[str | None, str]] = [(start.task_id, "")]  # (task to draw, its prefix) or (None, a line)
        while stack:
            task_id, text = stack.pop()
            if task_id is None:
                lines.append(text)
                continue
            task, root = by_id[task_id], task_id == start.task_id
            lines.append(f"{INDENT}{text}{label(task)}")
            below = "" if root else text[:-4] + ("    " if text.endswith("└── ") else "│   ")
            children: list[tuple[str | None, str]] = []
            for index, child_id in enumerate(task.downstream):
                branch = below + ("└── " if index == len(task.downstream) - 1 else "├── ")
                if home[child_id] == task.task_id:
                    children.append((child_id, branch))
                else:
                    children.append((None, f"{INDENT}{branch}{REFERENCE} {child_id}"))
            stack.extend(reversed(children))

    for task in preview.tasks:
        if not task.upstream:
            walk(task)
    return lines


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # not %a: that follows the locale


def run_time_text(text: str) -> str:
    moment = datetime.fromisoformat(text)
    return f"{moment:%Y-%m-%d %H:%M} {_WEEKDAYS[moment.weekday()]}"


def schedule_facts(preview: DagPreview) -> list[str]:
    """The schedule's limits in two lines: dates and catchup, then concurrency."""
    schedule = preview.schedule
    limits = [
        f"start {schedule.start_date}" if schedule.start_date else "no start date",
        f"end {schedule.end_date}" if schedule.end_date else "no end date",
        "catchup on (missed runs since the start date run first)" if schedule.catchup else "catchup off",
    ]
    runs = [f"at most {preview.max_active_runs} run(s) and {preview.max_active_tasks} task(s) at a time"]
    if preview.dagrun_timeout:
        runs.append(f"a run times out after {preview.dagrun_timeout}")
    if preview.sla:
        runs.append(f"SLA: done {preview.sla} after its logical date")
    return [", ".join(limits), ", ".join(runs)]


def schedule_lines(preview: DagPreview, now: datetime) -> list[str]:
    schedule = preview.schedule
    if schedule.expression is None:
        lines = ["Schedule", f"{INDENT}{schedule.description}"]
    else:
        lines = ["Schedule", f"{INDENT}{schedule.expression}: {schedule.description} ({schedule.timezone})"]
    lines.extend(f"{INDENT}{fact}" for fact in schedule_facts(preview))
    if schedule.next_runs:
        lines.append(f"{INDENT}next runs after {now.isoformat()} ({schedule.timezone}):")
        lines.extend(f"{INDENT * 2}{run_time_text(run)}" for run in schedule.next_runs)
    elif schedule.expression is None:
        lines.append(f"{INDENT}no scheduled runs")
    return lines


def instance_lines(cluster: ClusterPreview) -> list[str]:
    """Each instance group or fleet in a few words: "core 2 x m5.xlarge SPOT"."""
    parts = []
    for item in cluster.instances:
        if "instance_type" in item:
            parts.append(f"{item['role']} {item['count']} x {item['instance_type']} {item['market']}")
        else:
            capacity = f"{item['on_demand_capacity']} on-demand + {item['spot_capacity']} spot units"
            parts.append(f"{item['role']} fleet {capacity} of {', '.join(item['instance_types'])}")
    return parts


def _cluster_lines(cluster: ClusterPreview) -> list[str]:
    if cluster.existing_cluster_id is not None:
        return [
            f"{INDENT}{cluster.name}: existing cluster {cluster.existing_cluster_id} "
            "(this pipeline neither creates nor terminates it)"
        ]
    idle = (
        f"{format_duration(cluster.idle_timeout)} (EMR terminates it when idle that long, "
        f"should {cluster.terminate_task} not run)"
        if cluster.idle_timeout
        else "none (only the pipeline terminates it)"
    )
    if cluster.kind != "emr":
        head = f"{INDENT}{cluster.name}: created by {cluster.create_task}, deleted by {cluster.terminate_task}"
        rows = [["name", cluster.emr_name or "-"], ["what", ", ".join(cluster.applications)]]
        return [head, *_table(rows, INDENT * 2)]
    rows = [
        ["EMR name", cluster.emr_name or "-"],
        ["release", cluster.release or "-"],
        ["applications", ", ".join(cluster.applications) or "-"],
        ["instances", "; ".join(instance_lines(cluster)) or "-"],
        ["idle timeout", idle],
        ["steps at once", str(cluster.step_concurrency or 1)],
        ["logs", cluster.log_uri or "-"],
    ]
    head = f"{INDENT}{cluster.name}: created by {cluster.create_task}, terminated by {cluster.terminate_task}"
    return [head, *_table(rows, INDENT * 2)]


def _task_lines(preview: DagPreview) -> list[str]:
    rows = [["task", "type", "operator", "trigger rule", "marks"]]
    rows += [[t.task_id, kind_text(t), t.operator, t.trigger_rule, marks_text(t)] for t in preview.tasks]
    table = _table(rows, INDENT)
    lines = [table[0]]
    for task, row in zip(preview.tasks, table[1:], strict=True):
        lines.append(row)
        upstream = ", ".join(task.upstream) or "-"
        downstream = ", ".join(task.downstream) or "-"
        lines.append(f"{INDENT * 3}upstream: {upstream}  downstream: {downstream}")
        notes = [*flow_notes(preview, task), *([f"retry: {task.retry}"] if task.retry else [])]
        for note in notes:
            lines.extend(
                textwrap.wrap(
                    note,
                    width=110,
                    initial_indent=INDENT * 3,
                    subsequent_indent=INDENT * 4,
                    break_on_hyphens=False,  # never inside a task id or a tag
                    break_long_words=False,  # nor inside a URI
                )
            )
    return lines


_LEGENDS = (
    ("condition", "[condition]: checks a task's run_if; when it does not hold, that task is skipped"),
    ("branch", "[branch]: runs only the paths whose condition holds"),
    ("mapped", "[mapped]: one task per item of a list known when the run gets there"),
    ("cleanup", "[cleanup]: runs whatever the state of the tasks before it"),
)


def _legends(preview: DagPreview) -> list[str]:
    marks = {mark for task in preview.tasks for mark in tree_marks(task)}
    return [text for mark, text in _LEGENDS if mark in marks]


def connection_lines(preview: DagPreview) -> list[str]:
    """Each connection the DAG uses, its type, and what uses it (every task, some tasks, notifications)."""
    if not preview.connections:
        return ["Connections", f"{INDENT}none"]
    rows = [["connection", "type", "used by"]]
    for connection in preview.connections:
        users = []
        if connection.tasks and len(connection.tasks) == len(preview.tasks):
            users.append(f"every task ({len(connection.tasks)})")
        elif connection.tasks:
            users.append(", ".join(connection.tasks))
        if connection.notifications:
            users.append(f"notifications {', '.join(connection.notifications)}")
        rows.append([connection.conn_id, connection.conn_type, "; ".join(users)])
    widths = [max(len(row[column]) for row in rows) for column in range(2)]
    lead = INDENT + "".join(" " * (width + 2) for width in widths)
    lines = ["Connections"]
    for row in rows:
        head = INDENT + "".join(cell.ljust(width + 2) for cell, width in zip(row, widths, strict=False))
        wrapped = textwrap.wrap(
            row[2],
            width=110,
            initial_indent=lead,
            subsequent_indent=lead,
            break_on_hyphens=False,
            break_long_words=False,
        )
        lines.append((head + (wrapped[0][len(lead) :] if wrapped else "")).rstrip())
        lines.extend(wrapped[1:])
    return lines


def _param_lines(preview: DagPreview) -> list[str]:
    if not preview.params:
        return ["Params", f"{INDENT}none"]
    rows = [["param", "type", "default", "description"]]
    for param in preview.params:
        kind = str(param.schema.get("type", "any"))
        rows.append([param.name, kind, json.dumps(param.default, ensure_ascii=False), param.description or ""])
    return ["Params", *_table(rows, INDENT)]


def dag_text(preview: DagPreview, now: datetime) -> str:
    lines = [f"{preview.dag_id}  ({preview.file})"]
    if preview.description:
        lines.append(f"{INDENT}{preview.description}")
    paused = ", paused when first deployed" if preview.paused_on_creation else ""
    lines.append(f"{INDENT}owner {preview.owner}, tags: {', '.join(preview.tags) or '-'}{paused}")
    lines += ["", *schedule_lines(preview, now)]
    lines += ["", "Task graph", *tree_lines(preview)]
    if any(REFERENCE in line for line in lines):
        lines.append(f"{INDENT}({REFERENCE} task: also runs after this one; drawn under its last upstream task)")
    lines.extend(f"{INDENT}({legend})" for legend in _legends(preview))
    lines += ["", f"Tasks ({len(preview.tasks)}, upstream first)", *_task_lines(preview)]
    if preview.clusters:
        lines += ["", "Clusters"]
        for cluster in preview.clusters:
            lines += _cluster_lines(cluster)
    lines += ["", *connection_lines(preview)]
    lines += ["", *_param_lines(preview)]
    return "\n".join(lines) + "\n"


def render_text(previews: list[DagPreview], now: datetime) -> str:
    return "\n".join(dag_text(preview, now) for preview in previews)
