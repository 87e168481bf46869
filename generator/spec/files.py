"""Phase 2c, validate: the files a spec names beside it (``query_file``), read into the spec.

A task type lists in ``FILE_KEYS`` each key whose value is the path of a file
relative to the spec's folder, and the key that receives the file's text::

    FILE_KEYS = {"query_file": "query"}

or, for a key inside an object of the task, its path and the key of that object
that receives the text (``glue_data_quality``: ``{("ruleset", "rules_file"): "rules"}``).
The text replaces the path, so normalising and lowering see it as if it had
been written inline and stay pure.  Files are read when the spec is compiled:
in MWAA they are in the DAGs folder beside the spec (``dagen deploy`` uploads
them before the specs), so parsing needs no network.  Which files a spec reads
follows from its bytes; their SHA-256 digests go into the compile cache entry
(:mod:`generator.compile.cache`), so editing a file recompiles the spec.

A file must stay inside the spec's folder (the schema refuses absolute paths,
``..`` and hidden parts; a symbolic link leading out is refused here), exist,
and be non-empty UTF-8.  Templates in it are checked like the spec's own.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from generator.core.diagnostics import Diagnostic
from generator.spec.files_beside import READ_HINT, FileProblem, digest, read_beside
from generator.spec.semantic import check_templates
from generator.task_types import TASK_TYPES


@dataclass
class SpecFiles:
    """The spec with each file's text in place of its path, the problems, and the digests of what was read."""

    spec: dict[str, Any]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    digests: dict[str, str] = field(default_factory=dict)


def _decode(content: bytes) -> str | FileProblem:
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        return FileProblem(f"is not UTF-8 text (byte {content[error.start]:#04x} at offset {error.start})", READ_HINT)
    if not text.strip():
        return FileProblem("is empty", "write the statement in the file")
    return text


def _missing_hint(folder: Path, file: str, relative: str) -> str:
    suffix = PurePosixPath(relative).suffix
    present = sorted(path.relative_to(folder).as_posix() for path in folder.rglob(f"*{suffix}") if path.is_file())
    match = difflib.get_close_matches(relative, present, n=1, cutoff=0.8)
    if match:
        return f"did you mean '{match[0]}'? (the path is relative to the spec's folder)"
    named = (PurePosixPath(file).parent / PurePosixPath(relative)).as_posix()
    return f"the path is relative to the spec's folder: it names {named}"


def _holder(task: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any] | None:
    """The object of ``task`` that holds the last key of ``path`` (the task itself for a one-key path)."""
    holder: Any = task
    for part in path[:-1]:
        holder = holder.get(part) if isinstance(holder, dict) else None
    return holder if isinstance(holder, dict) else None


def _with_text(task: dict[str, Any], path: tuple[str, ...], text_key: str, text: str) -> dict[str, Any]:
    """``task`` with the file key at ``path`` replaced by ``text_key: text`` in the same object."""
    if len(path) > 1:
        return {**task, path[0]: _with_text(task[path[0]], path[1:], text_key, text)}
    return {**{k: v for k, v in task.items() if k != path[0]}, text_key: text}


def read_spec_files(spec: dict[str, Any], *, folder: Path, file: str, at: Callable[..., dict[str, Any]]) -> SpecFiles:
    """Read every file the tasks of a merged, schema-valid ``spec`` name; ``file`` is the spec's display path."""
    tasks = dict(spec.get("tasks", {}))
    out = SpecFiles(spec=spec)
    texts: dict[tuple[str, ...], str] = {}
    for task_id, task in spec.get("tasks", {}).items():
        file_keys: dict[str | tuple[str, ...], str] = getattr(TASK_TYPES[task["type"]], "FILE_KEYS", {})
        for name, text_key in file_keys.items():
            path = (name,) if isinstance(name, str) else name  # a key of the task, or of an object in it
            holder = _holder(tasks[task_id], path)
            key = path[-1]
            if holder is None or key not in holder:
                continue
            relative = holder[key]
            pointer = ("tasks", task_id, *path)
            raw = read_beside(folder, relative)
            text = raw if isinstance(raw, FileProblem) else _decode(raw)
            if isinstance(raw, bytes):
                out.digests[relative] = digest(raw)
            if isinstance(text, FileProblem):
                out.diagnostics.append(
                    Diagnostic(
                        code="DG107",
                        **at(pointer),
                        message=f"{key} '{relative}' {text.reason}",
                        hint=text.hint or _missing_hint(folder, file, relative),
                    )
                )
                continue
            texts[pointer] = text
            tasks[task_id] = _with_text(tasks[task_id], path, text_key, text)
    out.diagnostics.extend(_template_diagnostics(spec, texts, at))
    if texts:
        out.spec = {**spec, "tasks": tasks}
    return out


def _template_diagnostics(
    spec: dict[str, Any], texts: dict[tuple[str, ...], str], at: Callable[..., dict[str, Any]]
) -> list[Diagnostic]:
    """The spec's template rules applied to each file's text, located at the key naming the file."""
    declared: dict[str, Any] = {name: {} for name in spec.get("params", {})}  # names only: checked with the spec
    found = []
    for (_, task_id, *path), text in texts.items():
        key = path[-1]
        relative = _holder(spec["tasks"][task_id], tuple(path))[key]  # type: ignore[index]
        nested: dict[str, Any] = {key: text}
        for part in reversed(path[:-1]):  # the text where the file's key is, so problems are located there
            nested = {part: nested}
        for problem in check_templates({"params": declared, "tasks": {task_id: nested}}, at):
            found.append(replace(problem, message=f"{key} '{relative}': {problem.message}"))
    return found
