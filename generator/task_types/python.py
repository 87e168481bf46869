"""``python``: call a function from a module shipped beside the pipelines.

The convention: modules live under ``pipelines/`` and are named from there, so
``callable: lib.reports.publish`` is ``publish`` in ``pipelines/lib/reports.py``
(``pipelines/lib/__init__.py`` optional).  That holds in the MWAA bundle
(``pipelines/`` beside the loader) and in this repository (``pipelines/``
beside ``dags/``), found the way the loader finds its specs.

Lowers to ``PythonOperator`` whose callable is :func:`run_pipeline_callable`,
a function of dagen, with two arguments in ``op_args`` (a template field): the
dotted path, and the spec's ``kwargs`` as JSON made by
:func:`generator.core.templating.json_with_templates`, so that after rendering a
value that is exactly one template keeps its type (``"{{ params.days }}"``
arrives as a list, not as its text), where ``op_kwargs`` would render every
value to a string.
The user's module is imported **when the task runs**, on the worker, never
when a spec is validated or when the loader parses the DAGs folder every 30
seconds: a slow or failing import (or one with side effects, such as opening a
connection) then costs only its own task, and the loader keeps its
no-network-while-parsing guarantee.  The import must resolve to a file under
``pipelines/``; the function gets the ``kwargs`` and, like any PythonOperator
callable, the context values its signature names (``ds``, ``ti``, ``params``...,
or all of them with ``**context``).  Its return value is the task's XCom.
"""

from __future__ import annotations

import json
from typing import Any

from generator.core.lowering_context import LowerContext
from generator.core.model import OperatorTask, TaskSpec
from generator.core.provider_profile import ProviderProfile
from generator.core.schema_parts import prop
from generator.core.templating import json_with_templates
from generator.task_types.generic_operator import iam_permissions

NAME = "python"
SUMMARY = "Call a Python function from a module under pipelines/ (e.g. lib.reports.publish)."
STANDARD_OPERATOR = "airflow.providers.standard.operators.python.PythonOperator"  # Airflow 3
CORE_OPERATOR = "airflow.operators.python.PythonOperator"  # Airflow 2.10 (no standard provider)
OPERATORS = (STANDARD_OPERATOR, CORE_OPERATOR)
MAPPED_KWARG = "op_args"  # the argument that holds {{ item }} when the task is mapped at run time
MAPPED_SETTINGS = ("kwargs",)  # the keys of the spec that go into it
RUNNER = f"{__name__}.run_pipeline_callable"

DOTTED_PATH = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$"

PROPERTIES = {
    "callable": prop(
        {"type": "string", "pattern": DOTTED_PATH, "title": "dotted path module.function, from pipelines/"},
        "The function to call: its module's dotted path under pipelines/, then its name.",
        "lib.reports.publish",
    ),
    "kwargs": prop(
        {"type": "object"},
        "Keyword arguments of the function (any JSON value; Jinja in strings is rendered).",
        {"table": "daily_sales", "day": "{{ ds }}", "dry_run": False},
    ),
    "iam": iam_permissions("What `dagen iam` grants this task: the AWS calls its function makes with the role."),
}
REQUIRED = ("callable",)


def python_operator(profile: ProviderProfile) -> str:
    """The PythonOperator of the lane."""
    return STANDARD_OPERATOR if profile.standard_provider else CORE_OPERATOR


def lower(task: TaskSpec, ctx: LowerContext) -> list[OperatorTask]:
    settings = task.settings
    arguments = json_with_templates(settings.get("kwargs", {}))
    kwargs: dict[str, Any] = {"python_callable": RUNNER, "op_args": [settings["callable"], arguments]}
    return [OperatorTask(task_id=task.task_id, operator=python_operator(ctx.profile), kwargs=kwargs)]


def run_pipeline_callable(_dagen_callable: str, _dagen_kwargs: str, /, **context: Any) -> Any:
    """The PythonOperator's callable: import the spec's function at run time and call it.

    ``_dagen_kwargs`` is the rendered JSON of the spec's ``kwargs``; they win over context values of the same
    name.  Both are positional-only under names no context key uses: Airflow refuses a positional argument
    whose name is also a keyword.
    """
    from generator.runtime.pipeline_modules import context_arguments, import_pipeline_callable, pipelines_folder

    function = import_pipeline_callable(_dagen_callable, pipelines_folder(context["dag"].fileloc))
    return function(**context_arguments(function, {**context, **json.loads(_dagen_kwargs)}))
