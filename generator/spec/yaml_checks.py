"""Checks on a YAML text's event stream, before any node or value is built from it.

YAML aliases make a small text stand for a huge or endless value, and deep
nesting drives a recursive composer past the C stack (libyaml's composer
crashes the process) and every later walk past the interpreter's limit; YAML
1.1 reads some plain words and numbers as something other than what they look
like.  One pass over the parser's events -- which libyaml produces without
recursion -- finds all of it, stops at the first problem with the position of
the event that shows it, and costs about half of a full load.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

# The limits of one spec (docs/spec-reference.md, "Input limits"): far above what a real spec needs.
MAX_DEPTH = 50  # mappings and lists inside each other, counted through aliases
MAX_VALUES = 100_000  # keys, values and items, each alias counted as everything it repeats
MAX_STRING = 100_000  # characters in one key or value
MAX_DIGITS = 30  # characters in a number

_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_NULL = "tag:yaml.org,2002:null"
_STR = "tag:yaml.org,2002:str"
_KEY_KINDS = {_BOOL: "a boolean", _INT: "an integer", _FLOAT: "a number", _NULL: "null"}
_OCTAL_1_1 = re.compile(r"^[-+]?0[0-7_]+$")
_OCTAL_1_2 = re.compile(r"^[-+]?0o[0-7]+$")


@dataclass(frozen=True)
class YamlProblem:
    code: str
    message: str
    mark: Any
    hint: str | None = None


def _limit(message: str, mark: Any, hint: str) -> YamlProblem:
    return YamlProblem("DG109", message, mark, hint)


def _base_60(value: str) -> str:
    total = 0.0
    for part in value.replace("_", "").lstrip("+-").split(":"):
        total = total * 60 + float(part or 0)
    number = int(total) if total.is_integer() else total
    return f"{'-' if value.startswith('-') else ''}{number}"


def _surprise(tag: str, value: str) -> tuple[str, str] | None:
    """(what YAML 1.1 makes of a plain scalar that does not look like it, hint), or None."""
    decimal_hint = f"quote it ('{value}') if you mean the text, or write the number in decimal"
    if tag == _BOOL and value.lower() not in ("true", "false"):
        meaning = "true" if value.lower() in ("yes", "y", "on") else "false"
        return (
            f"YAML 1.1 reads '{value}' as the boolean {meaning}",
            f"write {meaning}, or quote it ('{value}') if you mean the text",
        )
    if tag == _STR and _OCTAL_1_2.match(value):
        number = int(value.replace("o", ""), 8)
        return (
            f"YAML 1.1 reads '{value}' as text, not as the octal number {number}",
            f"write {number}, or quote it ('{value}') if you mean the text",
        )
    if tag in (_INT, _FLOAT) and ":" in value:
        return f"YAML 1.1 reads '{value}' as a base-60 number ({_base_60(value)})", decimal_hint
    if tag == _INT and _OCTAL_1_1.match(value):
        return f"YAML 1.1 reads '{value}' as an octal number ({int(value.replace('_', ''), 8)})", decimal_hint
    if tag == _INT and value.lower().lstrip("+-").startswith("0b"):
        return f"YAML 1.1 reads '{value}' as a binary number", decimal_hint
    if tag in (_INT, _FLOAT) and "_" in value:
        return f"YAML 1.1 reads '{value}' as the number {value.replace('_', '')}", decimal_hint
    return None


def _explicit_tag(event: Any) -> YamlProblem:
    tag = str(event.tag).replace("tag:yaml.org,2002:", "!!")
    return YamlProblem(
        "DG103",
        f"YAML tag '{tag}' is not allowed",
        event.start_mark,
        "specs are plain data: remove the tag (only !!str, to keep a value as text, is allowed)",
    )


def _scalar_problem(loader: Any, event: yaml.ScalarEvent, is_key: bool) -> YamlProblem | None:
    value = event.value
    if len(value) > MAX_STRING:
        return _limit(
            f"this {'key' if is_key else 'value'} has {len(value):,} characters, over the limit of {MAX_STRING:,}",
            event.start_mark,
            "put long SQL in a query_file beside the spec, and data in S3",
        )
    if event.tag not in (None, "!", _STR):
        return _explicit_tag(event)
    if event.style or event.tag is not None:  # quoted, block or tagged as text: as written
        return None
    tag = loader.resolve(yaml.ScalarNode, value, event.implicit)
    if tag in (_INT, _FLOAT) and len(value) > MAX_DIGITS:
        return _limit(
            f"this number has {len(value):,} characters, over the limit of {MAX_DIGITS}",
            event.start_mark,
            "quote it if it is an identifier, not a number",
        )
    if is_key and tag in _KEY_KINDS:
        return YamlProblem(
            "DG110",
            f"YAML reads the key '{value}' as {_KEY_KINDS[tag]}, not as text",
            event.start_mark,
            f"keys (task ids, names) are text: quote it ('{value}':)",
        )
    surprise = _surprise(tag, value)
    return YamlProblem("DG110", surprise[0], event.start_mark, surprise[1]) if surprise else None


@dataclass
class _Collection:
    mark: Any
    anchor: str | None
    mapping: bool
    size: int = 1  # itself and what it holds
    below: int = 0  # nesting under it
    items: int = 0  # entries so far (in a mapping, even counts are keys)


def _too_deep(mark: Any) -> YamlProblem:
    return _limit(
        f"mappings and lists are nested more than {MAX_DEPTH} deep here",
        mark,
        "flatten the structure; a pipeline spec needs fewer than 10 levels",
    )


def _too_many(mark: Any) -> YamlProblem:
    return _limit(
        f"this value stands for more than {MAX_VALUES:,} keys, values and items (an alias repeats all it names)",
        mark,
        "a spec this large is not hand-written: check the aliases (*name) it uses",
    )


def yaml_problem(loader: Any) -> YamlProblem | None:
    """The first limit the loader's document exceeds or YAML 1.1 surprise it holds, else None.

    ``loader`` is a fresh PyYAML loader over the text; its events are consumed.
    """
    anchors: dict[str, tuple[int, int]] = {}  # anchor -> (size, depth) of the value it names
    stack: list[_Collection] = []

    def add(size: int, depth: int) -> YamlProblem | None:
        """Count a finished value into the collection that holds it."""
        if not stack:
            return None
        parent = stack[-1]
        parent.size += size
        parent.below = max(parent.below, depth)
        parent.items += 1
        if parent.size > MAX_VALUES:
            return _too_many(parent.mark)
        if len(stack) + depth > MAX_DEPTH:
            return _too_deep(parent.mark)
        return None

    while loader.check_event():
        event = loader.get_event()
        problem: YamlProblem | None = None
        if isinstance(event, yaml.ScalarEvent):
            is_key = bool(stack) and stack[-1].mapping and stack[-1].items % 2 == 0
            problem = _scalar_problem(loader, event, is_key)
            if event.anchor:
                anchors[event.anchor] = (1, 0)
            problem = problem or add(1, 0)
        elif isinstance(event, yaml.AliasEvent):
            if any(open_.anchor == event.anchor for open_ in stack):
                problem = _limit(
                    "this alias is inside the value it names: the value would never end",
                    event.start_mark,
                    "an alias (*name) can only repeat a value that does not contain it",
                )
            else:
                problem = add(*anchors.get(event.anchor or "", (1, 0)))
        elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            if event.tag is not None and not event.implicit:
                return _explicit_tag(event)
            if len(stack) >= MAX_DEPTH:
                problem = _too_deep(event.start_mark)
            stack.append(_Collection(event.start_mark, event.anchor, isinstance(event, yaml.MappingStartEvent)))
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            done = stack.pop()
            if done.anchor:
                anchors[done.anchor] = (done.size, done.below + 1)
            problem = add(done.size, done.below + 1)
        if problem is not None:
            return problem
    return None
