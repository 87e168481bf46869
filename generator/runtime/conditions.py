"""The callables of ``run_if`` checks and ``branch`` tasks, evaluated when the task runs.

``condition_holds`` is a ``ShortCircuitOperator``'s callable: false skips the
task the check guards (and, through the usual trigger rules, what needs it).
``chosen_paths`` is a ``BranchPythonOperator``'s: it returns the tasks of
every path whose condition holds (or the ``otherwise`` path), and Airflow
skips the others.  Both receive their conditions as JSON whose templates
Airflow rendered (see :mod:`generator.core.conditions`).
"""

from __future__ import annotations

import json
import logging
from typing import Any

log = logging.getLogger(__name__)

_FALSE_TEXTS = frozenset({"", "false", "0", "no", "off", "none", "null"})


def truthy(value: Any) -> bool:
    """A rendered expression as true or false: ``false``, ``0``, ``no``, ``none`` and empty text are false."""
    if isinstance(value, str):
        return value.strip().lower() not in _FALSE_TEXTS
    return bool(value)


def _s3_exists(uri: str, aws_conn_id: str) -> bool:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    bucket, _, key = uri.removeprefix("s3://").partition("/")
    hook = S3Hook(aws_conn_id=aws_conn_id)
    if not key or key.endswith("/"):
        return bool(hook.list_keys(bucket_name=bucket, prefix=key, max_items=1))
    return bool(hook.check_for_key(key, bucket_name=bucket))


def _python(dotted: str, kwargs: dict[str, Any], context: dict[str, Any]) -> Any:
    from generator.runtime.pipeline_modules import context_arguments, import_pipeline_callable, pipelines_folder

    function = import_pipeline_callable(dotted, pipelines_folder(context["dag"].fileloc))
    return function(**context_arguments(function, {**context, **kwargs}))


def evaluate(condition: dict[str, Any], context: dict[str, Any]) -> bool:
    """Whether one rendered condition holds."""
    if "expression" in condition:
        value = condition["expression"]
        described = f"the expression gave {value!r}"
    elif "s3_exists" in condition:
        value = _s3_exists(condition["s3_exists"], condition["aws_conn_id"])
        described = f"{condition['s3_exists']} {'exists' if value else 'does not exist'}"
    else:
        value = _python(condition["python"], condition.get("kwargs", {}), context)
        described = f"{condition['python']} returned {value!r}"
    holds = truthy(value)
    log.info("condition %s: %s", "holds" if holds else "does not hold", described)
    return holds


def condition_holds(_dagen_condition: str, /, **context: Any) -> bool:
    """``run_if``: true runs the guarded task, false skips it."""
    return evaluate(json.loads(_dagen_condition), context)


def chosen_paths(_dagen_paths: str, /, **context: Any) -> list[str]:
    """``branch``: the tasks of every path whose condition holds, else those of ``otherwise`` (maybe none)."""
    paths = json.loads(_dagen_paths)
    chosen = [task for path in paths["paths"] if evaluate(path["when"], context) for task in path["tasks"]]
    if not chosen:
        chosen = list(paths["otherwise"])
        log.info("no path's condition holds: %s", f"taking {', '.join(chosen)}" if chosen else "every path is skipped")
    return list(dict.fromkeys(chosen))
