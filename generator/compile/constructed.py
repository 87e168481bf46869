"""The markers of the few Python objects a configuration holds, and how the loader makes them.

A dag-factory configuration (:mod:`generator.compile.dagfactory_config`) is plain
data plus :class:`Constructed` markers (``timedelta``, ``Param``, assets, the
Deadline Alert).  Only the paths in :data:`CONSTRUCTED_TYPES` are ever emitted,
and the compile cache restores no other.  Kept apart from the compiler so that
a parse the cache serves imports none of it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Constructed:
    """A Python object dag-factory should receive: ``path(*args, **kwargs)``."""

    path: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


# Every object path the compiler emits (the compile cache restores no other).
PARAM_CLASSES = {3: "airflow.sdk.Param", 2: "airflow.models.param.Param"}
ASSET_CLASSES = {
    3: ("airflow.sdk.Asset", {"all": "airflow.sdk.AssetAll", "any": "airflow.sdk.AssetAny"}),
    2: ("airflow.datasets.Dataset", {"all": "airflow.datasets.DatasetAll", "any": "airflow.datasets.DatasetAny"}),
}
SLA_CLASSES = {
    "alert": "airflow.sdk.DeadlineAlert",
    "callback": "airflow.sdk.AsyncCallback",
    "reference": "airflow.sdk.definitions.deadline.DagRunLogicalDateDeadline",
}
CONSTRUCTED_TYPES = frozenset(
    {"datetime.timedelta", *PARAM_CLASSES.values(), *SLA_CLASSES.values()}
    | {path for asset, combine in ASSET_CLASSES.values() for path in (asset, *combine.values())}
)


def materialise(value: Any) -> Any:
    """Replace :class:`Constructed` markers by the objects they describe."""
    if isinstance(value, Constructed):
        module, _, name = value.path.rpartition(".")
        factory = getattr(importlib.import_module(module), name)
        return factory(*[materialise(arg) for arg in value.args], **materialise(value.kwargs))
    if isinstance(value, dict):
        return {key: materialise(sub) for key, sub in value.items()}
    if isinstance(value, list):
        return [materialise(sub) for sub in value]
    return value
