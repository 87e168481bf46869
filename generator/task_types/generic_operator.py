"""``operator``: any Airflow operator by dotted path, with keyword arguments (the escape hatch).

Safety, because dag-factory imports the class every time the loader parses:

* **Allow-list.**  The class must come from Airflow or an installed provider
  (``airflow.providers.``, ``airflow.operators.``, ``airflow.sensors.``).
  Any other module (your own operator in ``plugins/``) needs
  ``custom_module: true`` on the task: an explicit, reviewable opt-in, since
  that module's import then runs in the DAG processor on every parse.
* **Plain data only.**  ``arguments`` may not hold the keys dag-factory turns
  into code or lookups (``python_callable``, ``*_callback``, ``*_lambda``,
  ``*_file``, ``execution_date_fn``, ``variables_as_arguments``...) nor those
  dagen sets itself (``task_id``, ``retries``, ``outlets``...).
* **Checked against the real signature** when Airflow is installed (the
  lanes, the loader): the class must import and be an operator, every argument
  must be a parameter of its ``__init__`` chain (with a did-you-mean), required
  parameters must be given, and a ``{{ ... }}`` value must go to one of its
  ``template_fields``.  Without Airflow (``pip install dagen`` alone),
  ``dagen validate`` checks the dotted path's form, the allow-list, the
  reserved names and the Jinja, and says nothing about the signature.  A
  ``custom_module`` operator is never imported to validate it.

Amazon provider operators get the pipeline's ``aws.conn_id`` in each of their
connection parameters (``aws_conn_id``, or ``source_aws_conn_id`` and
``dest_aws_conn_id`` of a transfer) that ``arguments`` does not name.  ``dagen iam`` cannot know what an arbitrary
operator calls: the task's ``iam`` entries are what the policy grants it.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import inspect
import re
from collections.abc import Iterator
from typing import Any

from generator.core.diagnostics import Diagnostic
from generator.core.lowering_context import LowerContext
from generator.core.model import OperatorTask, TaskSpec
from generator.core.schema_parts import BOOLEAN, STRING, Schema, obj, prop
from generator.core.value_formats import is_templated

NAME = "operator"
SUMMARY = "Run any Airflow operator by dotted path with keyword arguments (the escape hatch)."
OPERATORS: tuple[str, ...] = ()  # whichever the spec names

ALLOWED_PREFIXES = ("airflow.providers.", "airflow.operators.", "airflow.sensors.")
AMAZON_PREFIX = "airflow.providers.amazon."
CLASS_PATH = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$"

# Keys dag-factory or dagen give a meaning of their own, with what to write instead.
_SET_BY_DAGEN = {
    "task_id": "the task id is the spec's key for the task",
    "dag": "dagen adds the task to the pipeline's DAG",
    "dependencies": "use depends_on",
    "operator": "the operator is the task's `operator` key",
    "decorator": "decorated tasks are not supported; use a python task",
    "task_group": "use the task's group key",
    "task_group_name": "use the task's group key",
    "parent_group_name": "use the task's group key",
    "retries": "use the task's retries key",
    "retry_delay": "use the task's retry_delay key",
    "execution_timeout": "use the task's execution_timeout key",
    "doc_md": "use the task's description key",
    "outlets": "use the task's outlets key",
    "inlets": "dag-factory would read dataset files for it",
    "expand": "dynamic task mapping is not supported",
    "partial": "dynamic task mapping is not supported",
    "variables_as_arguments": "dag-factory would read Airflow Variables while parsing; use {{ var.value.NAME }}",
    "response_check": "use an http_wait task and its response_check",
    "trigger_rule": "use the task's trigger_rule key, or `cleans_up` for a cleanup: dagen then builds it so that a "
    "failed run stays failed (all_done here would let Airflow mark a failed run successful)",
}
# Keys dag-factory imports (a dotted path), executes (a file or a lambda) or that must be callables.
_CODE_KEY = re.compile(
    r"^(python_callable(_name|_file)?|.*_callback(_name|_file)?|.*_lambda|.*_check_(name|file)|"
    r"execution_date_fn(_name|_file)?|pre_execute|post_execute)$"
)


def iam_permissions(description: str) -> Schema:
    """The ``iam`` property of task types that run code dagen does not see (this one and ``python``)."""
    return prop(
        {
            "type": "array",
            "items": obj(
                {
                    "actions": prop(
                        {
                            "type": "array",
                            "minItems": 1,
                            "items": {
                                "type": "string",
                                "pattern": r"^[a-z0-9-]+:[A-Za-z0-9]+$",
                                "title": "IAM action service:Action (no wildcards)",
                            },
                        },
                        "Actions the task calls.",
                        ["sns:Publish"],
                    ),
                    "resources": prop(
                        {"type": "array", "minItems": 1, "items": STRING},
                        "Resources it calls them on (ARNs; templates widen to `*`).",
                        ["arn:aws:sns:us-east-1:123456789012:done"],
                    ),
                },
                required=("actions", "resources"),
                title="IAM permission",
            ),
        },
        description,
        [{"actions": ["sns:Publish"], "resources": ["arn:aws:sns:us-east-1:123456789012:done"]}],
    )


PROPERTIES = {
    "operator": prop(
        {"type": "string", "pattern": CLASS_PATH, "title": "dotted path of an operator class"},
        "The operator class, e.g. from an installed provider.",
        "airflow.providers.amazon.aws.operators.sns.SnsPublishOperator",
    ),
    "arguments": prop(
        {"type": "object", "propertyNames": {"pattern": r"^[A-Za-z_][A-Za-z0-9_]*$", "title": "argument name"}},
        "Keyword arguments of the operator (plain values; Jinja only in its template fields).",
        {"target_arn": "arn:aws:sns:us-east-1:123456789012:done", "message": "{{ dag.dag_id }} {{ ds }} done"},
    ),
    "custom_module": prop(
        BOOLEAN,
        "Allow a class outside airflow.providers/operators/sensors (it is imported each time the loader "
        "parses, and never to validate the spec).",
        False,
        default=False,
    ),
    "iam": iam_permissions("What `dagen iam` grants this task (it cannot know what an arbitrary operator calls)."),
}
REQUIRED = ("operator",)


def amazon(path: str) -> bool:
    return path.startswith(AMAZON_PREFIX)


def _airflow_installed() -> bool:
    return importlib.util.find_spec("airflow") is not None


def _reserved(name: str) -> str | None:
    if name in _SET_BY_DAGEN:
        return _SET_BY_DAGEN[name]
    if _CODE_KEY.match(name):
        return "dag-factory would import or run code for it; specs are plain data"
    return None


def _signature(cls: type) -> tuple[set[str], set[str]]:
    """Keyword parameters of the ``__init__`` chain, and those without a default (most derived class wins)."""
    accepted: set[str] = set()
    required: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        for parameter in inspect.signature(init).parameters.values():
            if parameter.kind not in (parameter.KEYWORD_ONLY, parameter.POSITIONAL_OR_KEYWORD):
                continue
            if parameter.name in accepted or parameter.name == "self":
                continue
            accepted.add(parameter.name)
            if parameter.default is parameter.empty:
                required.add(parameter.name)
    return accepted, required - {"task_id"}


def _import(path: str) -> tuple[type | None, str | None, str | None]:
    """The class at ``path``, or a problem and a hint."""
    module_name, _, name = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # noqa: BLE001 - any import failure is the spec's problem to report
        return (
            None,
            f"cannot import '{module_name}': {type(error).__name__}: {error}",
            ("check the path; is the provider installed in this environment (and in MWAA's requirements)?"),
        )
    cls = getattr(module, name, None)
    if cls is None:
        classes = [attr for attr in dir(module) if attr[:1].isupper()]
        match = difflib.get_close_matches(name, classes, n=1, cutoff=0.6)
        return (
            None,
            f"module '{module_name}' has no class '{name}'",
            (f"did you mean '{match[0]}'?" if match else "check the class name"),
        )
    if not (isinstance(cls, type) and callable(getattr(cls, "execute", None)) and hasattr(cls, "template_fields")):
        return None, f"'{path}' is not an Airflow operator", "name an operator or sensor class"
    return cls, None, None


def connection_parameters(path: str) -> tuple[str, ...]:
    """The AWS connection parameters an Amazon operator takes (``aws_conn_id``, ``source_aws_conn_id``...);
    ``aws_conn_id`` when Airflow is not installed or the class does not import (validation says why)."""
    cls = _import(path)[0] if _airflow_installed() else None
    if cls is None:
        return ("aws_conn_id",)
    return tuple(sorted(name for name in _signature(cls)[0] if name.endswith("aws_conn_id")))


def _signature_problems(task_id: str, task: dict[str, Any], cls: type, at: Any) -> Iterator[Diagnostic]:
    base = ("tasks", task_id)
    arguments: dict[str, Any] = task.get("arguments", {})
    accepted, required = _signature(cls)
    for key in arguments:
        if key not in accepted:
            match = difflib.get_close_matches(key, sorted(accepted), n=1, cutoff=0.6)
            yield Diagnostic(
                code="DG512",
                **at((*base, "arguments", key), key=True),
                message=f"{cls.__name__} has no argument '{key}'",
                hint=f"did you mean '{match[0]}'?" if match else f"see {cls.__module__}.{cls.__name__}'s parameters",
            )
    supplied = set(arguments) | (set(connection_parameters(task["operator"])) if amazon(task["operator"]) else set())
    for name in sorted(required - supplied):
        yield Diagnostic(
            code="DG512",
            **at((*base, "arguments") if "arguments" in task else base, key=True),
            message=f"{cls.__name__} requires the argument '{name}'",
            hint=f"add it under arguments: {name}: ...",
        )
    fields = set(getattr(cls, "template_fields", ()))
    # Named among the task's own arguments only: the operator's full list differs between provider lines.
    rendered = sorted(key for key in arguments if key in fields)
    for key, value in arguments.items():
        if key in accepted and key not in fields and _has_template(value):
            yield Diagnostic(
                code="DG513",
                **at((*base, "arguments", key)),
                message=f"'{key}' is not a template field of {cls.__name__}: the template would reach it unrendered",
                hint=f"of these arguments, templates work in: {', '.join(rendered)}"
                if rendered
                else "none of these arguments is rendered; pass a literal value",
            )


def _has_template(value: Any) -> bool:
    if isinstance(value, str):
        return is_templated(value)
    if isinstance(value, dict):
        return any(_has_template(sub) for sub in value.values())
    if isinstance(value, list):
        return any(_has_template(sub) for sub in value)
    return False


def check(task_id: str, task: dict[str, Any], at: Any) -> Iterator[Diagnostic]:
    base = ("tasks", task_id)
    path = task["operator"]
    if not task.get("custom_module", False) and not path.startswith(ALLOWED_PREFIXES):
        yield Diagnostic(
            code="DG509",
            **at((*base, "operator")),
            message=f"operator '{path}' is not from Airflow or an installed provider "
            f"({', '.join(p + '*' for p in ALLOWED_PREFIXES)})",
            hint="set custom_module: true on the task to import it (on every parse), or use a provider's operator",
        )
        return
    reserved = False
    for key in task.get("arguments", {}):
        why = _reserved(key)
        if why:
            reserved = True
            yield Diagnostic(
                code="DG510",
                **at((*base, "arguments", key), key=True),
                message=f"argument '{key}' of operator task '{task_id}' is reserved",
                hint=why,
            )
    if reserved or task.get("custom_module", False) or not _airflow_installed():
        return
    cls, problem, hint = _import(path)
    if cls is None:
        yield Diagnostic(code="DG511", **at((*base, "operator")), message=problem or path, hint=hint)
        return
    yield from _signature_problems(task_id, task, cls, at)


def lower(task: TaskSpec, ctx: LowerContext) -> list[OperatorTask]:
    settings = task.settings
    kwargs: dict[str, Any] = {}
    if amazon(settings["operator"]):  # the pipeline's connection, unless the arguments name one
        kwargs.update(dict.fromkeys(connection_parameters(settings["operator"]), ctx.spec.aws_conn_id))
    kwargs.update(settings.get("arguments", {}))
    return [OperatorTask(task_id=task.task_id, operator=settings["operator"], kwargs=kwargs)]
