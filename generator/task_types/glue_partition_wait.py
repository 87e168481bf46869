"""``glue_partition_wait``: wait until a partition of a Glue Data Catalog table exists.

Lowers to the provider's ``GlueCatalogPartitionSensor`` in reschedule mode (the worker slot is freed
between checks), checking every ``poll_interval`` until ``timeout``.  Each check is one GetPartitions call
on ``database``.``table`` with ``expression``; the wait ends when it returns a partition.  ``expression``
defaults to the provider's own default, ``ds='{{ ds }}'`` (the Hive convention: one ``ds`` partition per
run's logical date), written out in the compiled DAG.

A table that does not exist (yet) fails the check at once (GetPartitions raises EntityNotFoundException),
so a wait belongs after what creates the table (a crawl, a job).  The table name has no ``.``: the sensor
reads ``a.b`` as database ``a``, table ``b``.  **Retry**: a sensor creates nothing; a retry checks again.
"""

from __future__ import annotations

from typing import Any

from generator.core.lowering_context import LowerContext
from generator.core.model import OperatorTask, TaskSpec
from generator.core.schema_parts import prop

NAME = "glue_partition_wait"
SUMMARY = "Wait until a partition of a Glue Data Catalog table exists."
SENSOR = "airflow.providers.amazon.aws.sensors.glue_catalog_partition.GlueCatalogPartitionSensor"
OPERATORS = (SENSOR,)
DEFAULT_EXPRESSION = "ds='{{ ds }}'"

# Glue's names are 1-255 characters on one line (its API's pattern); a table name has no "." (see above).
_JINJA = r"|.*\{\{.*\}\}.*"
PROPERTIES = {
    "database": prop(
        {
            "type": "string",
            "pattern": r"^([^\r\n]{1,255}" + _JINJA + ")$",
            "title": "Glue database name (1-255 characters on one line; Jinja allowed)",
        },
        "Glue database of the table.",
        "example_glue_db",
        "{{ params.database }}",
    ),
    "table": prop(
        {
            "type": "string",
            "pattern": r"^([^\r\n.]{1,255}" + _JINJA + ")$",
            "title": "Glue table name (1-255 characters on one line, no '.'; Jinja allowed)",
        },
        "Glue table whose partition the task waits for.",
        "input",
    ),
    "expression": prop(
        {"type": "string", "minLength": 1, "maxLength": 2048, "title": "GetPartitions expression (Jinja allowed)"},
        "Which partition: a GetPartitions expression over the partition keys (default the provider's `ds='{{ ds }}'`).",
        "category='mixed'",
        "ds='{{ ds }}' AND region IN ('eu', 'us')",
    ),
}
REQUIRED = ("database", "table")


def lower(task: TaskSpec, ctx: LowerContext) -> list[OperatorTask]:
    settings = task.settings
    kwargs: dict[str, Any] = {
        **ctx.aws(),
        "database_name": settings["database"],
        "table_name": settings["table"],
        "expression": settings.get("expression", DEFAULT_EXPRESSION),
        "poke_interval": task.poll_interval,
        "timeout": task.timeout,
        "mode": "reschedule",
    }
    return [OperatorTask(task_id=task.task_id, operator=SENSOR, kwargs=kwargs)]
