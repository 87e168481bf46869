"""Phase 2a, validate: JSON Schema errors -> located diagnostics with hints.

Validators are built once per process.  Each jsonschema error is translated by
its keyword into a stable code and a sentence that names the field.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from jsonschema.validators import extend

from generator.core.diagnostics import Diagnostic
from generator.core.spec_values import did_you_mean
from generator.core.value_formats import FORMAT_PROBLEMS, format_checker
from generator.spec.load import SourceDocument
from generator.spec.schema import SCHEMAS
from generator.task_types import TASK_TYPES

_JSON_TYPES = {
    str: "string",
    bool: "boolean",
    int: "integer",
    float: "number",
    list: "list",
    dict: "mapping",
    type(None): "null",
}


def _whole_number(_checker: Any, instance: Any) -> bool:
    """An integer as YAML wrote it: JSON Schema counts 2.0 as an integer, but Airflow gets a float from it."""
    return isinstance(instance, int) and not isinstance(instance, bool)


# The published schema, with `integer` meaning what Airflow's integer fields accept (no 2.0).
_Validator = extend(
    Draft202012Validator, type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _whole_number)
)


@cache
def validator(kind: str) -> Draft202012Validator:
    """The published schema's validator (what editors and other tools see), integers strict."""
    return _Validator(SCHEMAS[kind](), format_checker=format_checker())


@cache
def _pipeline_without_task_dispatch() -> Draft202012Validator:
    """The pipeline schema with each task checked only for a known ``type``.

    The published schema dispatches tasks with one ``if``/``then`` per type, so
    jsonschema tries every type on every task; validating each task against its
    own type's definition instead reports the same errors at a fraction of the
    cost (most of `dagen validate`'s time at 1000 specs).
    """
    schema = dict(SCHEMAS["pipeline"]())
    defs = dict(schema["$defs"])
    defs["task"] = {key: value for key, value in defs["task"].items() if key != "allOf"}
    schema["$defs"] = defs
    return _Validator(schema, format_checker=format_checker())


@cache
def _task_validator(task_type: str) -> Draft202012Validator:
    root = SCHEMAS["pipeline"]()
    schema = {**root["$defs"][f"{task_type}_task"], "$defs": root["$defs"]}
    return _Validator(schema, format_checker=format_checker())


def _errors(doc: SourceDocument, kind: str) -> Iterator[ValidationError]:
    if kind != "pipeline":
        yield from validator(kind).iter_errors(doc.data)
        return
    yield from _pipeline_without_task_dispatch().iter_errors(doc.data)
    tasks = doc.data.get("tasks")
    if not isinstance(tasks, dict):
        return
    for task_id, task in tasks.items():
        if isinstance(task, dict) and isinstance(task.get("type"), str) and task["type"] in TASK_TYPES:
            for error in _task_validator(task["type"]).iter_errors(task):
                error.path.extendleft((task_id, "tasks"))  # as if found from the document's root
                yield error


def _where(path: tuple[Any, ...]) -> str:
    """A readable name for a path: tasks.extract.depends_on[0]."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "the top level"


def _type_name(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _expected_types(schema_type: Any) -> str:
    names = {"object": "mapping", "array": "list"}
    types = schema_type if isinstance(schema_type, list) else [schema_type]
    return " or ".join(names.get(str(t), str(t)) for t in types)


def _other_task_types_with(key: str, this_type: str | None) -> list[str]:
    return [name for name, module in TASK_TYPES.items() if name != this_type and key in module.PROPERTIES]


def _schema_of(error: ValidationError) -> dict[str, Any]:
    return dict(error.schema) if isinstance(error.schema, Mapping) else {}


def _unknown_keys(error: ValidationError, doc: SourceDocument) -> Iterator[Diagnostic]:
    allowed = list(_schema_of(error).get("properties", {}))
    path = tuple(error.absolute_path)
    instance: dict[str, Any] = dict(error.instance)  # type: ignore[arg-type]  # additionalProperties: a mapping
    for key in instance:
        if key in allowed:
            continue
        where = _where(path)
        hint = did_you_mean(str(key), allowed)
        if hint is None and len(path) == 2 and path[0] == "tasks":
            owners = _other_task_types_with(str(key), instance.get("type"))
            if owners:
                hint = f"'{key}' belongs to {' / '.join(owners)} tasks; this task's type is '{instance.get('type')}'"
        if hint is None:
            hint = f"allowed keys: {', '.join(allowed)}"
        line, column = doc.locate((*path, key), key=True)
        yield Diagnostic(
            code="DG201",
            file=doc.file,
            line=line,
            column=column,
            path="/".join(map(str, (*path, key))),
            message=f"unknown key '{key}' in {where}",
            hint=hint,
        )


_SIZE_MESSAGES = {
    "minItems": "must have at least {n} item(s)",
    "maxItems": "must have at most {n} item(s)",
    "minProperties": "must have at least {n} entry(ies)",
    "maxProperties": "must have at most {n} entry(ies)",
    "uniqueItems": "repeats an item; each must appear once",
    "minLength": "must have at least {n} character(s)",
    "maxLength": "must have at most {n} character(s)",
}


def _most_specific(error: ValidationError) -> ValidationError:
    """For anyOf/oneOf, the branch error that explains most (a type mismatch explains least)."""
    while error.validator in ("anyOf", "oneOf") and error.context:
        candidates = [sub for sub in error.context if sub.validator != "type"] or list(error.context)
        error = max(candidates, key=lambda sub: len(sub.absolute_path))
    return error


def _translate(error: ValidationError, doc: SourceDocument) -> Iterator[Diagnostic]:
    error = _most_specific(error)
    keyword = error.validator
    path: tuple[Any, ...] = tuple(error.absolute_path)
    value: Any = error.instance
    expected: Any = error.validator_value
    schema = _schema_of(error)
    where = _where(path)
    in_property_names = "propertyNames" in error.schema_path

    if keyword == "additionalProperties":
        yield from _unknown_keys(error, doc)
        return

    code, hint, key_position = "DG205", None, False
    if in_property_names:
        code, key_position = "DG205", True
        path = (*path, value)
        container = _where(tuple(error.absolute_path))
        message = f"'{value}' is not a valid name in {container}"
        hint = schema.get("title")
    elif keyword == "required":
        code, key_position = "DG202", True
        missing = error.message.split("'")[1]  # jsonschema: "'name' is a required property", one per key
        message = f"missing required key '{missing}' in {where}"
        if path[:1] == ("tasks",) and len(path) == 2 and isinstance(value, dict) and "type" in value:
            hint = f"{value['type']} tasks need: {', '.join(expected)}"
    elif keyword == "type":
        code = "DG203"
        wanted = _expected_types(expected)
        article = "an" if wanted[0] in "aeiou" else "a"
        message = f"{where} must be {article} {wanted}, got {_type_name(value)} {value!r}"
        if isinstance(value, str) and value.strip().lower().rstrip(",") in ("true", "false", "yes", "no"):
            hint = "write true or false without quotes or trailing characters"
        elif isinstance(value, str) and "integer" in str(expected):
            hint = "numbers are written without quotes"
        elif isinstance(value, float) and value.is_integer() and "integer" in str(expected):
            hint = f"write {int(value)}, without the decimal point: Airflow would get a float"
    elif keyword in ("enum", "const"):
        code = "DG204"
        options = expected if keyword == "enum" else [expected]
        shown = ", ".join(str(option) for option in options)
        message = f"{value!r} is not allowed for {where}: expected {'one of ' if len(options) > 1 else ''}{shown}"
        hint = did_you_mean(str(value), [str(option) for option in options])
    elif keyword == "pattern":
        code = "DG205"
        title = schema.get("title", f"value matching {expected}")
        message = f"{value!r} is not a valid {title} ({where})"
    elif keyword == "format" and expected in FORMAT_PROBLEMS:
        code, problem = FORMAT_PROBLEMS[expected]
        message = f"{where}: {problem(value)}"
        if code == "DG401":
            hint = "cron fields are: minute hour day-of-month month day-of-week; '@daily' is '0 0 * * *'"
        elif expected == "duration":
            hint = "a duration is at most 366d (Airflow adds it to dates)"
        elif expected == "positive-duration":
            hint = "a poll interval is at least 1s (0 would poll without pause) and at most 366d"
    elif keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        code = "DG206"
        relation = "at least" if "inimum" in keyword else "at most"
        message = f"{where} must be {relation} {expected}, got {value!r}"
    elif keyword in _SIZE_MESSAGES:
        code = "DG207"
        message = f"{where} {_SIZE_MESSAGES[keyword].format(n=expected)}"
    else:
        message = f"{where}: {error.message}"
    line, column = doc.locate(path, key=key_position)
    yield Diagnostic(
        code=code, file=doc.file, line=line, column=column, path="/".join(map(str, path)), message=message, hint=hint
    )


def _explained_by_format(error: ValidationError, errors: list[ValidationError]) -> bool:
    """A pattern or range error of a value whose format check says what is wrong in a sentence of its own."""
    if (
        error.validator not in ("pattern", "minimum", "maximum")
        or _schema_of(error).get("format") not in FORMAT_PROBLEMS
    ):
        return False
    return any(other.validator == "format" and other.absolute_path == error.absolute_path for other in errors)


def schema_diagnostics(doc: SourceDocument, kind: str) -> list[Diagnostic]:
    """Every schema error of one document (``kind`` is 'pipeline' or 'defaults')."""
    errors = list(_errors(doc, kind))
    out: list[Diagnostic] = []
    for error in errors:
        if not _explained_by_format(error, errors):
            out.extend(_translate(error, doc))
    return out
