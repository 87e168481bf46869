"""``athena_query``: run one SQL statement on Amazon Athena and wait for it.

Lowers to ``AthenaOperator``, deferrable (both provider lines support it), with
the query's database and catalog, and its result location: ``output_location``
or the workgroup's own (one of the two must be given: with neither, Athena
fails the query at run time when the ``primary`` workgroup has no result
location).  Each try starts a new query: the operator's client request token
is not a template field, so it cannot be made per run; write statements that
can run twice (``CREATE TABLE IF NOT EXISTS``, ``INSERT OVERWRITE``-style
CTAS into a run-specific location...).

The SQL is written inline (``query``) or in a ``.sql`` file beside the spec
(``query_file``, exactly one of the two: DG514).  The file is named relative to
the spec's folder and read when the spec is compiled (:mod:`generator.spec.files`,
through ``FILE_KEYS``), so lowering only ever sees ``query``; in MWAA the file
is in the DAGs folder beside the spec, uploaded before it by ``dagen deploy``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from generator.core.diagnostics import Diagnostic
from generator.core.lowering_context import LowerContext
from generator.core.model import OperatorTask, TaskSpec
from generator.core.schema_parts import S3_URI, TEMPLATED_STRING, Schema, prop

NAME = "athena_query"
SUMMARY = "Run a SQL query on Amazon Athena and wait for it."
OPERATORS = ("airflow.providers.amazon.aws.operators.athena.AthenaOperator",)
MAPPED_KWARG = "query"  # the argument that holds {{ item }} when the task is mapped at run time
MAPPED_SETTINGS = ("query", "query_file")  # the keys of the spec that go into it

SQL_FILE: Schema = {
    "type": "string",
    # Relative, ends in .sql, and no part starting with '.' other than './': no '..' (the file stays inside
    # the spec's folder) and no hidden part (dagen deploy does not upload those).  No Jinja: the path is read
    # when the spec is compiled, never rendered.  No backslash or control character.
    "pattern": r"^(?!/)(?!.*(^|/)\.(?!/))[^\\{}\x00-\x1f]+\.sql$",
    "title": "path of a .sql file relative to the spec's folder (no '..', hidden part or Jinja)",
}

PROPERTIES = {
    "query": prop(
        TEMPLATED_STRING,
        "The SQL statement (Jinja allowed: `{{ ds }}`, `{{ params.x }}`). Set this or `query_file`.",
        "SELECT * FROM events WHERE day = DATE '{{ ds }}'",
    ),
    "query_file": prop(
        SQL_FILE,
        "A `.sql` file holding the statement instead of `query`, relative to the spec's folder "
        "(`sql/daily_counts.sql` beside `pipelines/daily.yaml` is `pipelines/sql/daily_counts.sql`). "
        "Read when the spec is compiled; Jinja in it is rendered when the task runs.",
        "sql/daily_counts.sql",
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
REQUIRED = ("database",)
ONE_OF = (("query", "query_file"),)
FILE_KEYS = {"query_file": "query"}  # read into `query` by generator.spec.files


def check(task_id: str, task: dict[str, Any], at: Any) -> Iterator[Diagnostic]:
    given = [key for key in ONE_OF[0] if key in task]
    if not given:
        yield Diagnostic(
            code="DG514",
            **at(("tasks", task_id), key=True),
            message=f"athena_query '{task_id}' sets neither query nor query_file: it has no SQL to run",
            hint="write the statement under query, or in a .sql file beside the spec named by query_file",
        )
    elif len(given) > 1:
        yield Diagnostic(
            code="DG514",
            **at(("tasks", task_id, "query_file"), key=True),
            message=f"athena_query '{task_id}' sets both query and query_file: it runs one statement",
            hint="keep the statement in one place: under query, or in the .sql file query_file names",
        )
    if "output_location" not in task and "workgroup" not in task:
        yield Diagnostic(
            code="DG507",
            **at(("tasks", task_id), key=True),
            message=f"athena_query '{task_id}' sets neither output_location nor workgroup: Athena would not "
            "know where to write the results",
            hint="add output_location: s3://BUCKET/PREFIX/, or the workgroup whose settings hold the location",
        )


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
