"""The modules a spec's ``python`` tasks and ``python`` conditions call, imported when the task runs.

Modules live under ``pipelines/`` and are named from there: ``lib.reports.publish`` is ``publish`` in
``pipelines/lib/reports.py``, found beside the DAG file as the loader finds its specs.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PIPELINES = "pipelines"
PIPELINES_ENV = "DAGEN_PIPELINES_DIR"

_RELEASE_LINE = re.compile(r'^RELEASE = "([A-Za-z0-9_/-]+)"', re.MULTILINE)


def _release_of(dag_file: str) -> list[Path]:
    """The release folder a deployed loader names (``RELEASE = "releases/ID"``), if it names one."""
    try:
        match = _RELEASE_LINE.search(Path(dag_file).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return []
    return [Path(dag_file).resolve().parent / match.group(1)] if match else []


def pipelines_folder(dag_file: str) -> Path:
    """``$DAGEN_PIPELINES_DIR`` if set (a runner whose DAG file is elsewhere, such as ``dagen run --local``),
    else ``pipelines/`` of the release the DAG file names (a deployed bundle), beside the DAG file or beside
    its folder (the repository), as the loader finds its specs."""
    explicit = os.environ.get(PIPELINES_ENV)
    if explicit:
        return Path(explicit)
    here = Path(dag_file).resolve().parent
    for root in (*_release_of(dag_file), here, here.parent):
        if (root / PIPELINES).is_dir():
            return root / PIPELINES
    raise ImportError(f"no {PIPELINES}/ folder beside {dag_file} or its folder (set {PIPELINES_ENV} to name it)")


def import_pipeline_callable(dotted: str, folder: Path) -> Any:
    """The function ``dotted`` names, imported from a module under ``folder`` (and nowhere else)."""
    module_name, _, attribute = dotted.rpartition(".")
    # Appended, not prepended: a module under pipelines/ never shadows an installed one (the check below then
    # says which module was found instead).
    if str(folder) not in sys.path:
        sys.path.append(str(folder))
    module = importlib.import_module(module_name)
    origin = getattr(module, "__file__", None)
    if origin is None or not Path(origin).resolve().is_relative_to(folder.resolve()):
        raise ImportError(
            f"'{module_name}' is {origin or 'a built-in module'}, not a module under {folder}: "
            "rename the module (or its package) so that it does not clash with an installed one"
        )
    function = getattr(module, attribute, None)
    if not callable(function):
        raise ImportError(f"{module.__file__} has no function '{attribute}'")
    return function


def context_arguments(function: Any, values: Mapping[str, Any]) -> dict[str, Any]:
    """What Airflow passes a callable: everything with ``**kwargs``, else only the names it declares."""
    parameters = inspect.signature(function).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return dict(values)
    return {name: values[name] for name in parameters if name in values}
