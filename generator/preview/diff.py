"""``dagen preview --diff REF``: what a change to the spec(s) changes in the generated DAG.

The old side is the spec files (and their folder's ``defaults.yaml`` and the
``.sql`` files beside them) as they were at the git revision REF, read with
``git show`` into a temporary folder and compiled and built exactly like the
new side, by the installed lane.  The two stable summaries
(:mod:`generator.preview.model`) are then compared: DAG settings, params, tasks
added/removed or changed (operator, type, trigger rule, role), dependencies,
and every operator argument, down to one list item.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import datetime
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

from generator.compile.pipelines import DEFAULTS_NAMES, SPEC_SUFFIXES
from generator.preview.model import PreviewRun, preview_paths
from generator.preview.schedule import describe_schedule
from generator.spec.files_beside import SUFFIXES as READ_BESIDE

FORMAT_NAME = "dagen-preview-diff"
FORMAT_VERSION = 1
SECTIONS = ("settings", "params", "tasks", "dependencies", "arguments")
_SETTINGS = (
    ("description",),
    ("owner",),
    ("tags",),
    ("schedule", "expression"),
    ("schedule", "timezone"),
    ("schedule", "start_date"),
    ("schedule", "end_date"),
    ("schedule", "catchup"),
    ("max_active_runs",),
    ("max_active_tasks",),
    ("dagrun_timeout",),
    ("sla",),
    ("paused_on_creation",),
)
_TASK_FIELDS = ("operator", "type", "role", "setups", "trigger_rule", "fails_run_on_failure")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ONE_LINE = 100  # characters of old + new value shown on one line
_SIGNS = {"added": "+", "removed": "-", "changed": "~"}


class DiffError(Exception):
    """--diff cannot run: no git, not a repository, or REF is not a commit (a usage error)."""


@dataclass(frozen=True, kw_only=True)
class Change:
    section: str  # one of SECTIONS
    op: str  # "added", "removed", "changed"
    subject: str  # the setting, param, task or "upstream -> downstream"
    path: str = ""  # inside an argument or param: "steps[0].HadoopJarStep.Args[4]"
    old: Any = None
    new: Any = None

    def to_json(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "op": self.op,
            "subject": self.subject,
            "path": self.path,
            "old": self.old,
            "new": self.new,
        }


@dataclass(frozen=True, kw_only=True)
class DagDiff:
    dag_id: str
    file: str
    status: str  # "added", "removed", "changed", "unchanged"
    changes: tuple[Change, ...]
    note: str | None = None  # e.g. the old spec did not build

    def to_json(self) -> dict[str, Any]:
        return {
            "dag_id": self.dag_id,
            "file": self.file,
            "status": self.status,
            "note": self.note,
            "changes": [change.to_json() for change in self.changes],
        }


# -- comparing two summaries --------------------------------------------------------------------


def _step(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if _IDENTIFIER.match(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, (dict, list))


def value_changes(old: Any, new: Any, path: str = "") -> list[tuple[str, str, Any, Any]]:
    """(op, path, old, new) for every difference between two JSON values, as deep as it goes."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[tuple[str, str, Any, Any]] = []
        for key, value in old.items():
            if key not in new:
                out.append(("removed", _step(path, key), value, None))
            else:
                out.extend(value_changes(value, new[key], _step(path, key)))
        out.extend(("added", _step(path, key), None, value) for key, value in new.items() if key not in old)
        return out
    if isinstance(old, list) and isinstance(new, list):
        if all(_is_scalar(item) for item in old + new):
            return _list_changes(old, new, path)
        out = []
        for index in range(max(len(old), len(new))):
            if index >= len(new):
                out.append(("removed", _step(path, index), old[index], None))
            elif index >= len(old):
                out.append(("added", _step(path, index), None, new[index]))
            else:
                out.extend(value_changes(old[index], new[index], _step(path, index)))
        return out
    if old != new or type(old) is not type(new):
        return [("changed", path, old, new)]
    return []


def _list_changes(old: list[Any], new: list[Any], path: str) -> list[tuple[str, str, Any, Any]]:
    """Scalar lists (command lines, arguments) compared as sequences: an inserted item is one change."""
    out: list[tuple[str, str, Any, Any]] = []
    matcher = SequenceMatcher(a=[json.dumps(v) for v in old], b=[json.dumps(v) for v in new], autojunk=False)
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal":
            continue
        if tag == "replace" and a1 - a0 == b1 - b0:
            out.extend(("changed", _step(path, b0 + i), old[a0 + i], new[b0 + i]) for i in range(a1 - a0))
            continue
        out.extend(("removed", _step(path, i), old[i], None) for i in range(a0, a1))
        out.extend(("added", _step(path, i), None, new[i]) for i in range(b0, b1))
    return out


def _get(document: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        document = document.get(key) if isinstance(document, dict) else None  # type: ignore[assignment]
    return document


def _edges(document: dict[str, Any]) -> list[tuple[str, str]]:
    return [(upstream, task["task_id"]) for task in document["tasks"] for upstream in task["upstream"]]


def compare(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[Change]:
    """The changes from one DAG summary (``DagPreview.to_json()``) to another; None is an absent DAG."""
    empty: dict[str, Any] = {"params": [], "tasks": []}
    before, after = old or empty, new or empty
    changes: list[Change] = []
    if old is not None and new is not None:
        for keys in _SETTINGS:
            was, now = _get(before, keys), _get(after, keys)
            if was != now:
                changes.append(Change(section="settings", op="changed", subject=".".join(keys), old=was, new=now))

    old_params = {p["name"]: p for p in before["params"]}
    new_params = {p["name"]: p for p in after["params"]}
    for name, param in old_params.items():
        if name not in new_params:
            changes.append(Change(section="params", op="removed", subject=name, old=param["default"]))
        else:
            for op, path, was, now in value_changes(
                {k: v for k, v in param.items() if k != "name"},
                {k: v for k, v in new_params[name].items() if k != "name"},
            ):
                changes.append(Change(section="params", op=op, subject=name, path=path, old=was, new=now))
    changes.extend(
        Change(section="params", op="added", subject=name, new=param["default"])
        for name, param in new_params.items()
        if name not in old_params
    )

    old_tasks = {t["task_id"]: t for t in before["tasks"]}
    new_tasks = {t["task_id"]: t for t in after["tasks"]}
    for task_id, task in old_tasks.items():
        if task_id not in new_tasks:
            changes.append(Change(section="tasks", op="removed", subject=task_id, old=_task_line(task)))
    for task_id, task in new_tasks.items():
        if task_id not in old_tasks:
            changes.append(Change(section="tasks", op="added", subject=task_id, new=_task_line(task)))
            continue
        for field in _TASK_FIELDS:
            if old_tasks[task_id][field] != task[field]:
                changes.append(
                    Change(
                        section="tasks",
                        op="changed",
                        subject=task_id,
                        path=field,
                        old=old_tasks[task_id][field],
                        new=task[field],
                    )
                )

    old_edges, new_edges = _edges(before), _edges(after)
    changes.extend(
        Change(section="dependencies", op="removed", subject=f"{u} -> {d}")
        for u, d in old_edges
        if (u, d) not in new_edges
    )
    changes.extend(
        Change(section="dependencies", op="added", subject=f"{u} -> {d}")
        for u, d in new_edges
        if (u, d) not in old_edges
    )

    for task_id, task in new_tasks.items():
        if task_id in old_tasks:
            for op, path, was, now in value_changes(old_tasks[task_id]["arguments"], task["arguments"]):
                changes.append(Change(section="arguments", op=op, subject=task_id, path=path, old=was, new=now))
    return sorted(changes, key=lambda change: SECTIONS.index(change.section))


def _task_line(task: dict[str, Any]) -> str:
    return f"{task['type']}, {task['operator']}" + (f", {task['role']}" if task["role"] != "task" else "")


def diff_runs(old: PreviewRun, new: PreviewRun, ref: str) -> list[DagDiff]:
    old_by_id = {p.dag_id: p for p in old.previews}
    new_by_id = {p.dag_id: p for p in new.previews}
    out = []
    for dag_id in sorted({*old_by_id, *new_by_id, *old.invalid}):
        before, after = old_by_id.get(dag_id), new_by_id.get(dag_id)
        note = None
        if dag_id in old.invalid:
            note = f"the spec at {ref} ({old.invalid[dag_id]}) did not build; everything is shown as added"
        changes = tuple(compare(before.to_json() if before else None, after.to_json() if after else None))
        if after is None:
            status, file = "removed", before.file if before else old.invalid[dag_id]
        else:
            file = after.file
            status = "added" if before is None else "changed" if changes else "unchanged"
        out.append(DagDiff(dag_id=dag_id, file=file, status=status, changes=changes, note=note))
    return out


# -- rendering ----------------------------------------------------------------------------------


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _change_line(change: Change) -> str:
    sign = _SIGNS[change.op]
    if change.section == "dependencies":
        return f"{sign} {change.subject}"
    if change.section == "tasks" and not change.path:
        return f"{sign} {change.subject}  ({change.new if change.op == 'added' else change.old})"
    where = f"{change.subject}.{change.path}" if change.path else change.subject
    if change.section == "arguments" and change.path:
        where = f"{change.subject}: {change.path}"
    if change.op == "added":
        return f"{sign} {where}: {_show(change.new)}"
    if change.op == "removed":
        return f"{sign} {where}: {_show(change.old)}"
    old, new = _show(change.old), _show(change.new)
    if len(old) + len(new) > _ONE_LINE:
        # Long values (a command line, notebook params) read better one above the other.
        return f"{sign} {where}:\n      - {old}\n      + {new}"
    text = f"{sign} {where}: {old} -> {new}"
    if change.subject == "schedule.expression":
        text += f"  ({describe_schedule(change.old)} -> {describe_schedule(change.new)})"
    return text


def render_diff_text(diffs: list[DagDiff], ref: str) -> str:
    blocks = []
    for diff in diffs:
        if diff.status == "unchanged":
            blocks.append(f"{diff.dag_id} ({diff.file}): no change to the generated DAG since {ref}")
            continue
        heads = {
            "added": f"did not build at {ref}" if diff.note else f"new pipeline, not in {ref}",
            "removed": f"removed since {ref}",
            "changed": f"{len(diff.changes)} change(s) since {ref}",
        }
        lines = [f"{diff.dag_id} ({diff.file}): {heads[diff.status]}"]
        if diff.note:
            lines.append(f"  note: {diff.note}")
        for section in SECTIONS:
            entries = [change for change in diff.changes if change.section == section]
            if entries:
                lines.append(f"  {section}")
                lines.extend(f"    {_change_line(change)}" for change in entries)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def render_diff_json(diffs: list[DagDiff], ref: str) -> str:
    document = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "base": ref,
        "dags": [diff.to_json() for diff in diffs],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


# -- reading the old specs from git -------------------------------------------------------------


def _git(args: list[str], cwd: Path) -> bytes:
    git = shutil.which("git")
    if git is None:
        raise DiffError("--diff needs git on PATH")
    done = subprocess.run([git, *args], cwd=cwd, capture_output=True, check=False)  # noqa: S603 - fixed argv
    if done.returncode != 0:
        raise DiffError(done.stderr.decode("utf-8", "replace").strip() or f"git {' '.join(args)} failed")
    return done.stdout


def _tree_files(ref: str, names: list[str], top: Path) -> list[str]:
    """Which of ``names`` (files or folders, repository paths) exist at ``ref``, folders expanded."""
    out = _git(["ls-tree", "-r", "-z", "--name-only", ref, "--", *names], top)
    return [name for name in out.decode("utf-8").split("\0") if name]


def _old_files(ref: str, path: Path) -> tuple[Path, list[str], str]:
    """(repository top, the spec, defaults and ``.sql`` files to read at REF, ``path`` inside the repository)."""
    folder = path if path.is_dir() else path.parent
    try:
        top = Path(_git(["rev-parse", "--show-toplevel"], folder).decode("utf-8").strip()).resolve()
    except DiffError as error:
        raise DiffError(f"--diff: {path} is not inside a git repository") from error
    try:
        _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], top)
    except DiffError as error:
        raise DiffError(f"--diff: '{ref}' is not a commit of {top}") from error
    rel = path.resolve().relative_to(top).as_posix()
    if path.is_dir():
        return top, [n for n in _tree_files(ref, [rel], top) if n.endswith((*SPEC_SUFFIXES, *READ_BESIDE))], rel
    parent = path.resolve().parent.relative_to(top)
    defaults = [(parent / name).as_posix() for name in DEFAULTS_NAMES]
    beside = [n for n in _tree_files(ref, [parent.as_posix()], top) if n.endswith(READ_BESIDE)]
    return top, [*_tree_files(ref, [rel, *defaults], top), *beside], rel


def previews_at(ref: str, paths: list[Path], *, now: datetime) -> PreviewRun:
    """The previews of ``paths`` as they were at ``ref`` (an absent file is no DAG)."""
    with tempfile.TemporaryDirectory(prefix="dagen-preview-diff-") as tmp:
        root = Path(tmp)
        old_paths: list[Path] = []
        for path in paths:
            top, names, rel = _old_files(ref, path)
            for name in names:
                target = root / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(_git(["show", f"{ref}:{name}"], top))
            old = root / rel
            if old.exists() and (old.is_dir() or rel in names):
                old_paths.append(old)
        return preview_paths(old_paths, now=now, root=root)
