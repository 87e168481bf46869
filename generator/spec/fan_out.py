"""Static fan-out: a task with ``for_each`` becomes one task per item before the other checks run.

``for_each`` is a list of values, ``{param: NAME}`` (the items of a list param's
default), ``{matrix: {field: [values], ...}}`` (every combination) or
``{output_of: TASK}`` (a list known only when the run gets there: mapped at
run time, left to the lowering).  The first three are expanded here, on the
merged spec: member ``rank`` of item ``Books`` is ``rank_Books`` (each value's
characters other than letters, digits, ``_`` and ``-`` become ``_``; a matrix
joins its values with ``_``), and ``{{ item }}`` (``{{ item.field }}`` for a
matrix) is replaced by the item's value in every string of the task, a string
that is exactly the placeholder taking the value's own type.  ``depends_on``,
a branch's ``paths`` and ``otherwise`` may name the fan-out (all its members)
or one member.  :class:`Expansion` maps every location in the expanded spec
back to the file, so later diagnostics point at what the user wrote.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from generator.core.conditions import ITEM_PLACEHOLDER
from generator.core.diagnostics import Diagnostic
from generator.core.spec_values import did_you_mean, strings
from generator.spec.schema import MAX_TASKS
from generator.task_types import TASK_TYPES

At = Callable[..., dict[str, Any]]
_READS_ITEM = re.compile(r"\{[{%][^}]*\bitem\b")
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_NOT_SUBSTITUTED = frozenset({"for_each", "type"})


def _suffix(value: Any) -> str:
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return _UNSAFE.sub("_", text).strip("_") or "item"


def _task_strings(task_id: str, task: dict[str, Any]) -> Iterator[tuple[tuple[Any, ...], str]]:
    for key, value in task.items():
        if key not in _NOT_SUBSTITUTED:
            yield from strings(value, ("tasks", task_id, key))


def items_of(for_each: Any, params: dict[str, Any]) -> list[dict[str | None, Any]] | None:
    """The bindings of each member (``{None: value}``, or ``{field: value}`` for a matrix); None: at run time."""
    if isinstance(for_each, list):
        return [{None: value} for value in for_each]
    if "param" in for_each:
        default = params.get(for_each["param"], {}).get("default")
        return [{None: value} for value in default] if isinstance(default, list) else []
    if "matrix" in for_each:
        fields = list(for_each["matrix"])
        return [dict(zip(fields, values, strict=True)) for values in itertools.product(*for_each["matrix"].values())]
    return None


def _param_problem(task_id: str, for_each: Any, params: dict[str, Any], at: At) -> Diagnostic | None:
    name = for_each["param"]
    pointer = ("tasks", task_id, "for_each", "param")
    if name not in params:
        return Diagnostic(
            code="DG310",
            **at(pointer),
            message=f"task '{task_id}' fans out over param '{name}', which the pipeline does not declare",
            hint=did_you_mean(name, params) or "declare it under params: with a list default",
        )
    default = params[name].get("default")
    scalars = isinstance(default, list) and all(isinstance(v, (str, int, float, bool)) for v in default)
    if not scalars or not default:
        return Diagnostic(
            code="DG310",
            **at(pointer),
            message=f"task '{task_id}' fans out over param '{name}', whose default is not a non-empty list of "
            "strings, numbers or booleans",
            hint="give the param a list default such as [Books, Toys]: the tasks are made from it when the spec "
            "is compiled",
        )
    return None


def _usage_problems(task_id: str, task: dict[str, Any], at: At) -> Iterator[Diagnostic]:
    """``item`` read where it cannot be replaced, or a field that the items do not have."""
    for_each = task.get("for_each")
    fields = list(for_each["matrix"]) if isinstance(for_each, dict) and "matrix" in for_each else None
    dynamic = isinstance(for_each, dict) and "output_of" in for_each
    mapped_settings = getattr(TASK_TYPES[task["type"]], "MAPPED_SETTINGS", ())
    for pointer, text in _task_strings(task_id, task):
        rest = ITEM_PLACEHOLDER.sub("", text)
        if dynamic and pointer[2] not in mapped_settings and ITEM_PLACEHOLDER.search(text):
            yield Diagnostic(
                code="DG311",
                **at(pointer),
                message=f"'{pointer[2]}' of a task mapped when the run gets there cannot read the item",
                hint=f"a mapped {task['type']} task reads {{{{ item }}}} in "
                + (", ".join(mapped_settings) or "none of its settings"),
            )
            continue
        if _READS_ITEM.search(rest):
            yield Diagnostic(
                code="DG311",
                **at(pointer),
                message="'item' is read inside a larger expression; items are replaced only in {{ item }} or "
                "{{ item.FIELD }} written alone between the braces",
                hint="write the placeholder on its own, e.g. 'rank_{{ item }}' or '{{ item.category }}'",
            )
        for match in ITEM_PLACEHOLDER.finditer(text):
            name = match.group(1)
            if for_each is None:
                yield Diagnostic(
                    code="DG310",
                    **at(pointer),
                    message=f"the template reads {match.group(0)[2:-2].strip()}, but task '{task_id}' has no for_each",
                    hint="set for_each on the task (a list, {param: NAME}, {matrix: ...} or {output_of: TASK})",
                )
            elif fields is not None and name not in fields:
                yield Diagnostic(
                    code="DG310",
                    **at(pointer),
                    message=f"the template reads item{'.' + name if name else ''}, but the items of "
                    f"'{task_id}' are its matrix fields: {', '.join('item.' + f for f in fields)}",
                    hint=(did_you_mean(name, fields) if name else None) or f"use item.{fields[0]}",
                )
            elif fields is None and name is not None and not dynamic:
                yield Diagnostic(
                    code="DG310",
                    **at(pointer),
                    message=f"the template reads item.{name}, but the items of '{task_id}' are plain values",
                    hint="use {{ item }}, or a matrix (for_each: {matrix: {NAME: [...]}}) for named fields",
                )


def fan_out_diagnostics(spec: dict[str, Any], at: At) -> list[Diagnostic]:
    """Problems that stop the expansion (the other checks then run on the expanded spec)."""
    out: list[Diagnostic] = []
    params = spec.get("params", {})
    tasks: dict[str, dict[str, Any]] = spec["tasks"]
    total = 0
    for task_id, task in tasks.items():
        out.extend(_usage_problems(task_id, task, at))
        for_each = task.get("for_each")
        if isinstance(for_each, dict) and "param" in for_each:
            problem = _param_problem(task_id, for_each, params, at)
            if problem is not None:
                out.append(problem)
                continue
        items = items_of(for_each, params) if for_each is not None else None
        total += len(items) if items is not None else 1
        seen: dict[str, int] = {}
        for index, binding in enumerate(items or []):
            member = member_id(task_id, binding)
            if member in seen or member in tasks or len(member) > 200:
                if member in seen:
                    why = f"which item {seen[member] + 1} gives too"
                elif member in tasks:
                    why = "which is already a task of this pipeline"
                else:
                    why = "which is over 200 characters"
                out.append(
                    Diagnostic(
                        code="DG312",
                        **at(("tasks", task_id, "for_each")),
                        message=f"item {index + 1} of '{task_id}' gives the task id '{member[:60]}', {why}",
                        hint="task ids come from the values (other characters become '_'): make them distinct",
                    )
                )
                break
            seen[member] = index
    if total > MAX_TASKS and not out:
        out.append(
            Diagnostic(
                code="DG312",
                **at(("tasks",), key=True),
                message=f"the fan-outs make {total} tasks, more than {MAX_TASKS}",
                hint="split the pipeline, or map the task at run time (for_each: {output_of: TASK})",
            )
        )
    return out


def member_id(task_id: str, binding: dict[Any, Any]) -> str:
    return "_".join([task_id, *(_suffix(value) for value in binding.values())])


def _substitute(value: Any, binding: dict[Any, Any]) -> Any:
    if isinstance(value, dict):
        return {key: _substitute(sub, binding) for key, sub in value.items()}
    if isinstance(value, list):
        return [_substitute(sub, binding) for sub in value]
    if isinstance(value, str):
        whole = ITEM_PLACEHOLDER.fullmatch(value.strip())
        if whole and whole.group(1) in binding:
            return binding[whole.group(1)]
        return ITEM_PLACEHOLDER.sub(
            lambda match: str(binding[match.group(1)]) if match.group(1) in binding else match.group(0), value
        )
    return value


@dataclass
class Expansion:
    """The expanded spec and where each of its tasks and ``depends_on`` entries came from."""

    spec: dict[str, Any]
    origin: dict[str, str] = field(default_factory=dict)  # member -> the task the user wrote
    item: dict[str, Any] = field(default_factory=dict)  # member -> its item (a value, or a matrix's fields)
    members: dict[str, list[str]] = field(default_factory=dict)  # fan-out -> its members
    entry_index: dict[tuple[str, str, int], int] = field(default_factory=dict)  # (task, key, index) -> original

    def members_of(self) -> dict[str, tuple[str, Any]]:
        """Each member -> its fan-out's task id and its item (what normalising keeps of the expansion)."""
        return {member: (origin, self.item[member]) for member, origin in self.origin.items()}

    def locate(self, at: At) -> At:
        """``at`` for the expanded spec: a member's locations are its fan-out's."""

        def expanded_at(pointer: tuple[Any, ...], **kwargs: Any) -> dict[str, Any]:
            parts = list(pointer)
            if len(parts) >= 2 and parts[0] == "tasks" and parts[1] in self.origin:
                task = parts[1]
                parts[1] = self.origin[task]
                if len(parts) >= 4 and (task, parts[2], parts[3]) in self.entry_index:
                    parts[3] = self.entry_index[(task, parts[2], parts[3])]
            elif len(parts) >= 4 and parts[0] == "tasks" and (parts[1], parts[2], parts[3]) in self.entry_index:
                parts[3] = self.entry_index[(parts[1], parts[2], parts[3])]
            return at(tuple(parts), **kwargs)

        return expanded_at


def _rewrite_names(names: list[str], members: dict[str, list[str]]) -> list[tuple[str, int]]:
    return list({name: index for index, entry in enumerate(names) for name in members.get(entry, [entry])}.items())


def expand(spec: dict[str, Any]) -> Expansion:
    """The spec with every static fan-out replaced by its members (the input has no fan-out diagnostics)."""
    params = spec.get("params", {})
    expanded: dict[str, dict[str, Any]] = {}
    result = Expansion(spec={})
    for task_id, task in spec["tasks"].items():
        items = items_of(task["for_each"], params) if "for_each" in task else None
        if items is None:
            expanded[task_id] = task
            continue
        result.members[task_id] = []
        body = {key: value for key, value in task.items() if key != "for_each"}
        for binding in items:
            member = member_id(task_id, binding)
            expanded[member] = _substitute(body, binding)
            result.origin[member] = task_id
            result.item[member] = binding[None] if None in binding else dict(binding)
            result.members[task_id].append(member)
    for task_id, task in expanded.items():
        if "depends_on" in task:
            entries = _rewrite_names(task["depends_on"], result.members)
            task = {**task, "depends_on": [name for name, _ in entries]}
            for index, (_, original) in enumerate(entries):
                result.entry_index[(task_id, "depends_on", index)] = original
        if "cleans_up" in task:
            entries = _rewrite_names(task["cleans_up"], result.members)
            task = {**task, "cleans_up": [name for name, _ in entries]}
            for index, (_, original) in enumerate(entries):
                result.entry_index[(task_id, "cleans_up", index)] = original
        if task.get("type") == "branch":
            paths = {m: cond for name, cond in task["paths"].items() for m in result.members.get(name, [name])}
            task = {**task, "paths": paths}
            if "otherwise" in task:
                entries = _rewrite_names(task["otherwise"], result.members)
                task["otherwise"] = [name for name, _ in entries]
                for index, (_, original) in enumerate(entries):
                    result.entry_index[(task_id, "otherwise", index)] = original
        expanded[task_id] = task
    result.spec = {**spec, "tasks": expanded}
    return result
