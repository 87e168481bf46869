"""The items of a task mapped when the run gets there (``for_each: {output_of: TASK}``).

The lowering writes the task's mapped argument with ``@@dagen:item@@``
(``@@dagen:item.FIELD@@``) where the spec says ``{{ item }}``
(``{{ item.FIELD }}``): Airflow renders the other templates of that argument
in this task, and :func:`mapped_values` returns one value of it per item of
the upstream task's return value, which Airflow's dynamic task mapping then
expands (a task per value).  An empty list maps to no task: Airflow skips the
mapped task (``if_empty: fail`` fails this task instead).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from airflow.exceptions import AirflowException

from generator.core.conditions import item_mark as mark

log = logging.getLogger(__name__)


def _value(item: Any, field: str | None, task: str) -> Any:
    if field is None:
        return item
    if not isinstance(item, dict) or field not in item:
        raise AirflowException(f"{task}: the item {item!r} has no field '{field}' ({{{{ item.{field} }}}})")
    return item[field]


def fill(value: Any, item: Any, task: str) -> Any:
    """``value`` with every mark replaced by the item (a whole mark keeps the item's type; JSON text gets JSON)."""
    if isinstance(value, dict):
        return {key: fill(sub, item, task) for key, sub in value.items()}
    if isinstance(value, list):
        return [fill(sub, item, task) for sub in value]
    if not isinstance(value, str) or "@@dagen:item" not in value:
        return value
    fields = [None, *(item if isinstance(item, dict) else {})]
    for field in fields:
        if value == mark(field):
            return _value(item, field, task)
    for field in fields:  # inside JSON text (a payload, a python task's kwargs): a quoted mark is a JSON value
        if json.dumps(mark(field)) in value:
            value = value.replace(json.dumps(mark(field)), json.dumps(_value(item, field, task), default=str))
    for field in fields:
        if mark(field) in value:
            value = value.replace(mark(field), str(_value(item, field, task)))
    if "@@dagen:item." in value:
        raise AirflowException(f"{task}: the item {item!r} lacks a field the task reads")
    return value


def mapped_values(
    _dagen_template: Any,
    _dagen_source: str,
    _dagen_max_items: int,
    _dagen_if_empty: str,
    _dagen_task: str,
    /,
    **context: Any,
) -> list[Any]:
    """One value of the mapped argument per item that the source task returned (at most ``max_items``).

    Positional-only under names no context key uses (Airflow refuses an argument named like one).
    """
    template, source, max_items, task = _dagen_template, _dagen_source, _dagen_max_items, _dagen_task
    items = context["ti"].xcom_pull(task_ids=source)
    if not isinstance(items, list):
        raise AirflowException(
            f"{task} is mapped over the output of {source}, which returned {type(items).__name__}, not a list"
        )
    if len(items) > max_items:
        raise AirflowException(
            f"{task} is mapped over the output of {source}: {len(items)} items, more than max_items {max_items} "
            "(raise for_each.max_items, or make the list shorter)"
        )
    if not items and _dagen_if_empty == "fail":
        raise AirflowException(
            f"{task} is mapped over the output of {source}, which returned no items (if_empty: fail)"
        )
    if not items:
        log.info("%s returned no items: %s is skipped", source, task)
    else:
        log.info("%s returned %d items: %s runs once for each", source, len(items), task)
    return [fill(template, item, task) for item in items]
