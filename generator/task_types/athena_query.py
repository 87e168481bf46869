"""``athena_query``: run one SQL statement on Amazon Athena and wait for it.

Lowers to ``AthenaOperator``, deferrable (both provider lines support it), with
the query's database and catalog, and its result location: ``output_location``
or the workgroup's own (one of the two must be given: with neither, Athena
fails the query at run time when the ``primary`` workgroup has no result
location).  Each try starts a new query: the operator's client request token
is not a template field, so it cannot be made per run; write statements that
can run twice (``CREATE TABLE IF NOT EXISTS``, ``INSERT OVERWRITE``-style
CTAS into a run-specific location...).

``query_file`` (SQL in a ``.sql`` file beside the spec) is implemented by
:func:`read_query_file` but not offered in the schema yet: the file must be
read relative to the spec's folder, which task types are not told today (see
the module's ``resolve`` note in docs/task-types.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from generator.diagnostics import Diagnostic
from generator.lowering_context import LowerContext
from generator.model import OperatorTask, TaskSpec
from generator.schema_parts import S3_URI, TEMPLATED_STRING, Schema, prop

NAME = "athena_query"
SUMMARY = "Run a SQL query on Amazon Athena and wait for it."
OPERATORS = ("airflow.providers.amazon.aws.operators.athena.AthenaOperator",)

SQL_FILE: Schema = {
    "type": "string",
    # relative, no '..' segment, ends in .sql: the file stays inside the spec's folder
    "pattern": r"^(?!/)(?!.*(^|/)\.\.(/|$))[^\\]+\.sql$",
    "title": "relative path of a .sql file inside the spec's folder",
}

PROPERTIES = {
    "query": prop(
        TEMPLATED_STRING,
        "The SQL statement (Jinja allowed: `{{ ds }}`, `{{ params.x }}`).",
        "SELECT * FROM events WHERE day = DATE '{{ ds }}'",
    ),
    "database": prop(TEMPLATED_STRING, "Database (Glue schema) that unqualified table names refer to.", "analytics"),
    "catalog": prop(TEMPLATED_STRING, "Data catalog of the database.", "AwsDataCatalog", default="AwsDataCatalog"),
    "output_location": prop(
        S3_URI,
        "Where Athena writes the results (overrides the workgroup's location unless the workgroup enforces its own).",
        "s3://my-athena-results/{{ dag.dag_id }}/",
    ),
    "workgroup": prop(
        TEMPLATED_STRING,
        "Athena workgroup; its result location is used when `output_location` is not set.",
        "analytics",
        default="primary",
    ),
}
REQUIRED = ("query", "database")


def check(task_id: str, task: dict[str, Any], at: Any) -> Iterator[Diagnostic]:
    if "output_location" not in task and "workgroup" not in task:
        yield Diagnostic(
            code="DG507",
            **at(("tasks", task_id), key=True),
            message=f"athena_query '{task_id}' sets neither output_location nor workgroup: Athena would not "
            "know where to write the results",
            hint="add output_location: s3://BUCKET/PREFIX/, or the workgroup whose settings hold the location",
        )


def read_query_file(folder: Path, relative: str) -> tuple[str | None, str | None]:
    """The SQL of ``relative`` inside ``folder``, or the reason it cannot be used: ``(text, problem)``.

    The schema already refuses absolute paths and ``..``; this also refuses a
    symbolic link that leads out of the folder, so a spec can only ship SQL that
    sits beside it.
    """
    root = folder.resolve()
    path = (root / PurePosixPath(relative)).resolve()
    if not path.is_relative_to(root):
        return None, f"query_file '{relative}' leads outside the spec's folder"
    try:
        return path.read_text(encoding="utf-8"), None
    except FileNotFoundError:
        return None, f"query_file '{relative}' does not exist beside the spec"
    except (OSError, UnicodeDecodeError) as error:
        return None, f"query_file '{relative}' cannot be read: {error}"


def lower(task: TaskSpec, ctx: LowerContext) -> list[OperatorTask]:
    settings = task.settings
    kwargs: dict[str, Any] = {
        **ctx.aws(),
        "query": settings["query"],
        "database": settings["database"],
        "catalog": settings.get("catalog", "AwsDataCatalog"),
        "workgroup": settings.get("workgroup", "primary"),
        "deferrable": True,
        "sleep_time": task.poll_interval,
        "max_polling_attempts": ctx.max_attempts(task),
    }
    if "output_location" in settings:
        kwargs["output_location"] = settings["output_location"]
    return [OperatorTask(task_id=task.task_id, operator=OPERATORS[0], kwargs=kwargs)]
