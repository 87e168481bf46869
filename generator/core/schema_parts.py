"""Reusable JSON Schema fragments and the value formats checked by name.

Every property the user types has a ``description`` and ``examples`` so that
editors (yaml-language-server) can show them; ``prop`` enforces that.
Formats named here (``s3-uri``, ``state-machine-arn``, ``schedule``...) are
checked by :mod:`generator.core.value_formats` through jsonschema's format checker.
"""

from __future__ import annotations

from typing import Any

from generator.core.value_formats import (
    MAX_DURATION_SECONDS,
    S3_URI_PATTERN,
    SCHEDULE_PATTERN,
    STATE_MACHINE_ARN_PATTERN,
)

Schema = dict[str, Any]

DURATION_PATTERN = r"^(?=[0-9])([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?$"
IDENTIFIER_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{0,99}$"
TASK_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,199}$"


def prop(schema: Schema, description: str, *examples: Any, default: Any = None) -> Schema:
    """A property schema with the description and example editors show."""
    if not examples:
        raise ValueError(f"property without an example: {description}")
    out = {**schema, "description": description, "examples": list(examples)}
    if default is not None:
        out["default"] = default
    return out


def obj(properties: dict[str, Schema], *, required: tuple[str, ...] = (), title: str | None = None) -> Schema:
    """A closed object: unknown keys are errors (with a did-you-mean hint)."""
    out: Schema = {"type": "object", "additionalProperties": False, "properties": properties}
    if required:
        out["required"] = list(required)
    if title:
        out["title"] = title
    return out


STRING: Schema = {"type": "string", "minLength": 1}
TEMPLATED_STRING: Schema = {"type": "string", "minLength": 1, "title": "string (Jinja allowed)"}
BOOLEAN: Schema = {"type": "boolean"}
POSITIVE_INT: Schema = {"type": "integer", "minimum": 1}
# Each value with a form has a pattern (what editors and generic schema tools check) and a format (what
# `dagen validate` checks, with a sentence saying what is wrong); the pattern never refuses what the format allows.
DURATION: Schema = {
    "title": "duration such as 45s, 10m, 2h, 1d or 1h30m (or a number of seconds), at most 366d",
    "type": ["integer", "string"],
    "minimum": 0,
    "maximum": MAX_DURATION_SECONDS,
    "pattern": DURATION_PATTERN,
    "format": "duration",
}
POSITIVE_DURATION: Schema = {**DURATION, "minimum": 1, "format": "positive-duration"}
S3_URI: Schema = {"type": "string", "format": "s3-uri", "pattern": S3_URI_PATTERN, "title": "S3 URI"}
STATE_MACHINE_ARN: Schema = {
    "type": "string",
    "format": "state-machine-arn",
    "pattern": STATE_MACHINE_ARN_PATTERN,
    "title": "state machine ARN",
}
SCHEDULE: Schema = {
    "type": ["string", "null"],
    "format": "schedule",
    "pattern": SCHEDULE_PATTERN,
    "title": "cron expression or preset",
}
STRING_LIST: Schema = {"type": "array", "items": TEMPLATED_STRING}
ROLE: Schema = {
    "type": "string",
    "minLength": 1,
    "pattern": r"^(\{\{.*\}\}|[\w+=,.@-]{1,64}|arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]+)$",
    "title": "IAM role name or ARN",
}
TAGS_MAP: Schema = {
    "type": "object",
    "propertyNames": {"minLength": 1, "maxLength": 128},
    "additionalProperties": {"type": "string", "maxLength": 256},
}
