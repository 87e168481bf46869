"""Phase 1, load: YAML text -> plain data, with positions on demand.

The fast path is PyYAML's C parser with a safe constructor that also rejects
duplicate keys and dag-factory's object-constructing ``__type__`` keys as it
builds each mapping (their positions come straight from the node).  The
line/column of any other value is only computed when a diagnostic needs it,
by composing the node tree once and indexing it by path.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from generator.core.diagnostics import Diagnostic
from generator.spec.yaml_checks import yaml_problem

try:  # the C parser is ~6x faster; fall back to pure Python where libyaml is absent
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - depends on the PyYAML build
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

Pointer = tuple[str, ...]

# Keys dag-factory gives a meaning (``__type__``/``__args__`` construct objects; ``__and__``, ``__or__`` and
# ``__join__`` combine values): any ``__name__`` key is refused, wherever YAML puts it (merge keys included).
OBJECT_KEYS = ("__type__", "__args__")


def is_reserved_key(key: object) -> bool:
    return isinstance(key, str) and len(key) > 4 and key.startswith("__") and key.endswith("__")


class _SpecProblem(Exception):
    """Raised inside the constructor to stop at the first structural problem."""

    def __init__(self, code: str, message: str, mark: Any, hint: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.mark, self.hint = code, message, mark, hint


def _reserved_key(key: str, mark: Any) -> _SpecProblem:
    effect = (
        "it would make dag-factory import and instantiate a class"
        if key in OBJECT_KEYS
        else "dag-factory gives keys of the form __name__ a meaning"
    )
    hint = "specs are plain data; use the task types the schema defines"
    return _SpecProblem("DG105", f"key '{key}' is not allowed: {effect}", mark, hint)


def _plain_key(key_node: yaml.Node) -> None:
    if not isinstance(key_node, yaml.ScalarNode):
        raise _SpecProblem(
            "DG101",
            "YAML syntax error: a mapping key must be a plain value, not a list or a mapping",
            key_node.start_mark,
            "write the key as text ('?' starts a complex key in YAML)",
        )


class _SpecLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """Safe loader that refuses duplicate keys, complex keys and the keys dag-factory gives a meaning."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[tuple[str, str], Any] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor` may be overridden by explicit keys
                continue
            _plain_key(key_node)
            identity = (key_node.tag, key_node.value)
            if identity in seen:
                raise _SpecProblem(
                    "DG102",
                    f"duplicate key '{key_node.value}' (first defined on line {seen[identity].line + 1})",
                    key_node.start_mark,
                    "YAML keeps only the last value of a repeated key; remove or rename one of them",
                )
            seen[identity] = key_node.start_mark
        # Merge keys resolved first: a key that `<<:` brings in is checked like one written here.
        self.flatten_mapping(node)
        for key_node, _ in node.value:
            _plain_key(key_node)
            if is_reserved_key(key_node.value):
                raise _reserved_key(key_node.value, key_node.start_mark)
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> str:  # type: ignore[override]  # text, not date
        """Dates stay the text the user wrote (specs are JSON data), once known to be real dates."""
        try:
            super().construct_yaml_timestamp(node)
        except ValueError as error:
            raise _SpecProblem(
                "DG407", f"'{node.value}' is not a real date ({error})", node.start_mark, "check the day and month"
            ) from None
        return str(node.value)


_SpecLoader.add_constructor("tag:yaml.org,2002:timestamp", _SpecLoader.construct_yaml_timestamp)


def _escape(character: str) -> str:
    code = ord(character)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _construct(text: str) -> Any:
    """The document's data, once its events are within the limits (:mod:`generator.spec.yaml_checks`)."""
    scanner = _SpecLoader(text)
    try:
        problem = yaml_problem(scanner)
    finally:
        scanner.dispose()
    if problem is not None:
        raise _SpecProblem(problem.code, problem.message, problem.mark, problem.hint)
    return yaml.load(text, Loader=_SpecLoader)  # noqa: S506 - _SpecLoader is a safe loader


@dataclass
class SourceDocument:
    """A loaded YAML file: its data plus a lazily built index of positions."""

    file: str
    text: str
    data: Any
    _values: dict[Pointer, tuple[int, int]] | None = field(default=None, repr=False)
    _keys: dict[Pointer, tuple[int, int]] = field(default_factory=dict, repr=False)

    def _index(self) -> dict[Pointer, tuple[int, int]]:
        if self._values is None:
            self._values = {}
            root = yaml.compose(self.text, Loader=_BaseLoader)
            if root is not None:
                self._walk(root, ())
        return self._values

    def _walk(self, node: yaml.Node, pointer: Pointer) -> None:
        assert self._values is not None
        self._values[pointer] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                child = (*pointer, str(key_node.value))
                self._keys[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                self._walk(value_node, child)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self._walk(item, (*pointer, str(index)))

    def has(self, pointer: tuple[Any, ...]) -> bool:
        return tuple(str(p) for p in pointer) in self._index()

    def locate(self, pointer: tuple[Any, ...], *, key: bool = False) -> tuple[int, int]:
        """Line and column of the value (or of its key) at ``pointer``.

        Falls back to the nearest enclosing value that exists in the file.
        """
        values = self._index()
        pointer = tuple(str(p) for p in pointer)
        if key and pointer in self._keys:
            return self._keys[pointer]
        while pointer not in values and pointer:
            pointer = pointer[:-1]
        return values.get(pointer, (1, 1))


def _marked(code: str, file: str, message: str, mark: Any, hint: str | None = None) -> Diagnostic:
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    return Diagnostic(code=code, message=message, file=file, line=line, column=column, hint=hint)


def load_text(text: str, file: str) -> tuple[SourceDocument | None, list[Diagnostic]]:
    """Parse one YAML document; return it, or the diagnostics explaining why not (always inside the text)."""
    doc, diagnostics = _parse_text(text, file)
    return doc, [_inside_text(diagnostic, text) for diagnostic in diagnostics]


def _inside_text(diagnostic: Diagnostic, text: str) -> Diagnostic:
    """A position past the end (YAML's parser reports the end of a file without a final newline on the line
    after it) is moved to the end of the last line."""
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    if not lines or diagnostic.line <= len(lines):
        return diagnostic
    return replace(diagnostic, line=len(lines), column=len(lines[-1]) + 1)


def _parse_text(text: str, file: str) -> tuple[SourceDocument | None, list[Diagnostic]]:
    try:
        data = _construct(text)
    except _SpecProblem as problem:
        return None, [_marked(problem.code, file, problem.message, problem.mark, problem.hint)]
    except yaml.constructor.ConstructorError as error:
        if "could not determine a constructor" not in (error.problem or ""):  # e.g. `<<:` of a non-mapping
            return None, [_marked("DG101", file, f"YAML error: {error.problem}", error.problem_mark)]
        tag = error.problem.split("'")[1] if error.problem and "'" in error.problem else "?"
        tag = tag.replace("tag:yaml.org,2002:", "!!")
        return None, [
            _marked(
                "DG103",
                file,
                f"YAML tag '{tag}' is not allowed",
                error.problem_mark,
                "specs are plain data: remove the tag (quote the value if it is a string)",
            )
        ]
    except yaml.composer.ComposerError as error:
        if "single document" in f"{error.context} {error.problem}":
            return None, [
                _marked(
                    "DG104",
                    file,
                    "the file holds more than one YAML document",
                    error.problem_mark,
                    "put one pipeline per file and remove the extra '---'",
                )
            ]
        return None, [_marked("DG101", file, f"YAML syntax error: {error.problem}", error.problem_mark)]
    except yaml.MarkedYAMLError as error:
        reason = error.problem or str(error)
        if error.context and error.context_mark is not None:
            reason += f" ({error.context} that started on line {error.context_mark.line + 1})"
        return None, [_marked("DG101", file, f"YAML syntax error: {reason}", error.problem_mark or error.context_mark)]
    except yaml.reader.ReaderError as error:  # a character YAML does not allow: located by its offset
        before = text[: error.position]
        line, column = before.count("\n") + 1, error.position - (before.rfind("\n") + 1) + 1
        character = error.character if isinstance(error.character, str) else chr(error.character)
        return None, [
            Diagnostic(
                code="DG101",
                file=file,
                line=line,
                column=column,
                message=f"YAML syntax error: character U+{ord(character):04X} is not allowed ({error.reason})",
                hint=f'remove the character, or write it as an escape inside double quotes ("{_escape(character)}")',
            )
        ]
    except yaml.YAMLError as error:  # any other error of the reader carries no mark
        return None, [Diagnostic(code="DG101", message=f"YAML error: {error}", file=file)]
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}, not a mapping"
        return None, [
            Diagnostic(
                code="DG104",
                message=f"the document is {kind}",
                file=file,
                hint="a pipeline spec is a mapping with at least a 'tasks' key",
            )
        ]
    return SourceDocument(file=file, text=text, data=data), []


MAX_FILE_BYTES = 1024 * 1024  # a spec, a defaults.yaml or a query_file: 10x the largest real spec seen


class TooLarge(Exception):
    """A file over :data:`MAX_FILE_BYTES`."""


def read_regular(path: Path) -> bytes:
    """The bytes of a regular file of at most MAX_FILE_BYTES; OSError or TooLarge otherwise.

    Opened without blocking and checked on the open descriptor: a FIFO, a device or a file swapped for one
    between a check and the read is never read, so no input can hang or exhaust a parse.
    """
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            raise TooLarge(info.st_size)
        with os.fdopen(os.dup(descriptor), "rb") as handle:
            content = handle.read(MAX_FILE_BYTES + 1)
    finally:
        os.close(descriptor)
    if len(content) > MAX_FILE_BYTES:  # grew after the fstat
        raise TooLarge(len(content))
    return content


def read_file(path: Path, display: str | None = None) -> tuple[bytes | None, list[Diagnostic]]:
    """The bytes of a spec file, or why they cannot be read."""
    file = display or str(path)
    try:
        return read_regular(path), []
    except TooLarge as error:
        size = error.args[0]
        return None, [
            Diagnostic(
                code="DG108",
                message=f"the file is {size:,} bytes, over the limit of {MAX_FILE_BYTES:,}",
                file=file,
                hint="a spec this large is not hand-written: split the pipeline, or move data to S3 and pass its URI",
            )
        ]
    except OSError as error:
        return None, [Diagnostic(code="DG106", message=f"cannot read file: {error.strerror or error}", file=file)]


def load_file(path: Path, display: str | None = None) -> tuple[SourceDocument | None, list[Diagnostic]]:
    """Read and parse one spec file."""
    raw, diagnostics = read_file(path, display)
    if raw is None:
        return None, diagnostics
    return load_bytes(raw, display or str(path))


def load_bytes(raw: bytes, file: str) -> tuple[SourceDocument | None, list[Diagnostic]]:
    """Decode (UTF-8) and parse one spec."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        before = raw[: error.start]
        line, column = before.count(b"\n") + 1, error.start - (before.rfind(b"\n") + 1) + 1
        return None, [
            Diagnostic(
                code="DG106",
                file=file,
                line=line,
                column=column,
                message=f"the file is not UTF-8 (byte 0x{raw[error.start]:02x})",
                hint="save the file as UTF-8",
            )
        ]
    return load_text(text, file)


def declared_dag_id(raw: bytes, stem: str) -> str:
    """The DAG id a spec's bytes give, as the compiler decides it: its stem unless it sets one."""
    if b"dag_id" not in raw and b"\\" not in raw:  # no key can spell dag_id (a YAML escape needs a backslash)
        return stem
    try:
        doc, _ = load_bytes(raw, "")
    except Exception:  # noqa: BLE001 - whatever the bytes, the process that builds it reports the problem
        return stem
    value = doc.data.get("dag_id") if doc is not None else None
    return value if isinstance(value, str) else stem
