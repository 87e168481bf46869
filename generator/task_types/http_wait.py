"""``http_wait``: poll an HTTP endpoint until its response says the data is ready.

Lowers to ``HttpSensor`` (reschedule mode by default: the worker slot is freed
between polls).  A 404 means "not yet"; any other error status fails the task
(after its retries), so a wrong URL or expired credentials do not wait for
hours.  A 2xx response is ready unless ``response_check`` says more, in a small
declarative form, never code from the spec:

* ``status``: the 2xx codes that mean ready (a 202 "still working" can wait);
* ``json``: the value at a dotted ``path`` of the JSON body equals ``equals``;
* ``body_contains``: the body contains this text.

All given conditions must hold.  The sensor needs a Python callable; dagen
gives dag-factory a one-line lambda it generates itself (the check is embedded
as a JSON string literal) that calls :func:`response_ready` of this module.
"""

from __future__ import annotations

import ast
import json
import logging
from typing import Any

from generator.core.lowering_context import LowerContext
from generator.core.model import OperatorTask, TaskSpec
from generator.core.schema_parts import TEMPLATED_STRING, Schema, obj, prop

NAME = "http_wait"
SUMMARY = "Poll an HTTP endpoint until it answers that the data is ready."
OPERATORS = ("airflow.providers.http.sensors.http.HttpSensor",)

log = logging.getLogger(__name__)

NO_JINJA = r"^(?!.*(\{\{|\{%))"
LITERAL_STRING: Schema = {
    "type": "string",
    "minLength": 1,
    "pattern": NO_JINJA,
    "title": "text without Jinja (Airflow does not render this field)",
}
JSON_PATH: Schema = {
    "type": "string",
    "pattern": r"^[^.{}]+(\.[^.{}]+)*$",
    "title": "dotted path into the JSON body (keys and list indexes, e.g. data.items.0.state)",
}

RESPONSE_CHECK = obj(
    {
        "status": prop(
            {
                "type": "array",
                "minItems": 1,
                "uniqueItems": True,
                "items": {"type": "integer", "minimum": 200, "maximum": 299},
            },
            "The 2xx status codes that mean ready (default: any 2xx).",
            [200],
        ),
        "json": prop(
            obj(
                {
                    "path": prop(JSON_PATH, "Where the value is in the JSON body.", "export.state"),
                    "equals": prop(
                        {"pattern": NO_JINJA, "title": "any JSON value (no Jinja)"},
                        "The value that means ready.",
                        "COMPLETED",
                    ),
                },
                required=("path", "equals"),
                title="JSON condition",
            ),
            "Ready when the JSON body has this value at this path.",
            {"path": "export.state", "equals": "COMPLETED"},
        ),
        "body_contains": prop(LITERAL_STRING, "Ready when the body contains this text.", "READY"),
    },
    title="response check",
)

PROPERTIES = {
    "http_conn_id": prop(
        LITERAL_STRING, "Airflow HTTP connection: base URL and credentials.", "orders_api", default="http_default"
    ),
    "endpoint": prop(TEMPLATED_STRING, "Path after the connection's base URL.", "v1/exports/{{ ds }}/status"),
    "method": prop({"enum": ["GET", "HEAD", "POST"]}, "HTTP method.", "GET", default="GET"),
    "request_params": prop(
        {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}},
        "Query parameters (GET, HEAD) or form fields (POST); Jinja allowed.",
        {"day": "{{ ds }}", "limit": 1},
    ),
    "headers": prop(
        {"type": "object", "additionalProperties": {"type": "string"}},
        "Request headers; Jinja allowed (e.g. a token from a Variable).",
        {"Accept": "application/json"},
    ),
    "response_check": prop(
        RESPONSE_CHECK,
        "What a ready response looks like (all conditions must hold).",
        {"status": [200], "json": {"path": "export.state", "equals": "COMPLETED"}},
    ),
    "mode": prop(
        {"enum": ["reschedule", "poke"]},
        "`reschedule` frees the worker slot between polls; `poke` keeps it (only for polls under a minute).",
        "reschedule",
        default="reschedule",
    ),
}
REQUIRED = ("endpoint",)


def response_check_lambda(check: dict[str, Any]) -> str:
    """The callable dag-factory builds for the sensor: a call of :func:`response_ready` with the check."""
    literal = repr(json.dumps(check, sort_keys=True))  # a str repr is always one valid Python literal
    return f"lambda response: __import__({__name__!r}, fromlist=['_']).response_ready(response, {literal})"


def check_of_lambda(text: str | None) -> dict[str, Any] | None:
    """The check a :func:`response_check_lambda` text carries (None for any other text).

    For runners that stand in for the endpoint (``dagen run --local`` answers so that the check passes).
    """
    if not text:
        return None
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "response_ready" and len(node.args) == 2:
            literal = node.args[1]
            if isinstance(literal, ast.Constant) and isinstance(literal.value, str):
                check = json.loads(literal.value)
                return check if isinstance(check, dict) else None
    return None


def _same(value: Any, expected: Any) -> bool:
    if isinstance(value, bool) or isinstance(expected, bool):  # JSON true is not 1
        return value is expected
    return bool(value == expected)


def _at_path(document: Any, path: str) -> tuple[bool, Any]:
    value = document
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.lstrip("-").isdigit() and -len(value) <= int(part) < len(value):
            value = value[int(part)]
        else:
            return False, None
    return True, value


def response_ready(response: Any, check: str | dict[str, Any]) -> bool:
    """Whether a 2xx ``response`` (a requests.Response) satisfies the declarative ``check``."""
    spec = json.loads(check) if isinstance(check, str) else check
    if "status" in spec and response.status_code not in spec["status"]:
        log.info("not ready: status %s, waiting for %s", response.status_code, spec["status"])
        return False
    if "body_contains" in spec and spec["body_contains"] not in response.text:
        log.info("not ready: the body does not contain %r", spec["body_contains"])
        return False
    if "json" in spec:
        try:
            document = response.json()
        except ValueError:
            log.info("not ready: the body is not JSON")
            return False
        found, value = _at_path(document, spec["json"]["path"])
        if not found or not _same(value, spec["json"]["equals"]):
            shown = repr(value) if found else "nothing"
            log.info("not ready: %s is %s, waiting for %r", spec["json"]["path"], shown, spec["json"]["equals"])
            return False
    return True


def lower(task: TaskSpec, ctx: LowerContext) -> list[OperatorTask]:
    settings = task.settings
    kwargs: dict[str, Any] = {
        "http_conn_id": settings.get("http_conn_id", "http_default"),
        "endpoint": settings["endpoint"],
        "method": settings.get("method", "GET"),
        "mode": settings.get("mode", "reschedule"),
        "poke_interval": task.poll_interval,
        "timeout": task.timeout,
    }
    for key in ("request_params", "headers"):
        if key in settings:
            kwargs[key] = dict(settings[key])
    if settings.get("response_check"):
        # dag-factory turns this into the sensor's response_check (its documented key for HttpSensor).
        kwargs["response_check_lambda"] = response_check_lambda(settings["response_check"])
    return [OperatorTask(task_id=task.task_id, operator=OPERATORS[0], kwargs=kwargs)]
