"""``redshift_to_s3``: write a query's rows (or a table's) to S3 with UNLOAD, through the Redshift Data API.

Lowers to ``RedshiftDataOperator`` (deferrable) running the UNLOAD that dagen writes, with an
``IAM_ROLE`` clause: Redshift writes S3 as ``iam_role_arn``, never with the task's own credentials
(see :mod:`generator.task_types.s3_to_redshift` for why not the provider's ``RedshiftToS3Operator``).
The rows are ``select_query``'s, or every row of ``table`` (exactly one of the two: DG534); ``s3`` is
the prefix UNLOAD names its files from.  The query goes between ``$$`` quotes, as the provider's
operator writes it, so it may hold quotes of its own.

**What a retry does.**  UNLOAD refuses to write over files already at the prefix, so dagen adds
``ALLOWOVERWRITE`` (unless ``unload_options`` has ``ALLOWOVERWRITE`` or ``CLEANPATH``): a retry writes
the same files again over those of the earlier try.  Template the prefix per run (``{{ ds }}``) so that
runs do not overwrite one another.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from generator.core.diagnostics import Diagnostic
from generator.core.lowering_context import LowerContext
from generator.core.model import OperatorTask, TaskSpec
from generator.core.schema_parts import S3_URI, TEMPLATED_STRING, prop
from generator.task_types import redshift_target

NAME = "redshift_to_s3"
SUMMARY = "Write a Redshift query's or table's rows to S3 with UNLOAD through the Data API."
OPERATORS = ("airflow.providers.amazon.aws.operators.redshift_data.RedshiftDataOperator",)
SOURCES = ("select_query", "table")
OVERWRITE_OPTIONS = ("ALLOWOVERWRITE", "CLEANPATH")

_TARGET = redshift_target.PROPERTIES
PROPERTIES = {
    "cluster_identifier": _TARGET["cluster_identifier"],
    "workgroup_name": _TARGET["workgroup_name"],
    "cluster": _TARGET["cluster"],
    "database": _TARGET["database"],
    "s3": prop(S3_URI, "The prefix UNLOAD writes its files under.", "s3://exports/sales/{{ ds }}/part_"),
    "select_query": prop(
        TEMPLATED_STRING,
        "The rows to write: a SELECT (Jinja allowed). Set this or `table`.",
        "SELECT * FROM sales.daily WHERE day = '{{ ds }}'",
    ),
    "table": prop(TEMPLATED_STRING, "Write every row of this table instead of `select_query`.", "daily_sales"),
    "iam_role_arn": redshift_target.TRANSFER_PROPERTIES["iam_role_arn"],
    "unload_options": prop(
        {"type": "array", "items": TEMPLATED_STRING},
        "UNLOAD options, written as Redshift takes them (format, header, parallel...). dagen adds ALLOWOVERWRITE "
        "unless ALLOWOVERWRITE or CLEANPATH is given.",
        ["FORMAT AS PARQUET"],
        ["FORMAT AS CSV", "HEADER", "PARALLEL OFF"],
    ),
    "schema": redshift_target.TRANSFER_PROPERTIES["schema"],
    "secret_arn": _TARGET["secret_arn"],
    "db_user": _TARGET["db_user"],
}
REQUIRED = ("database", "s3", "iam_role_arn")
ONE_OF = (redshift_target.TARGETS, SOURCES)


def check(task_id: str, task: dict[str, Any], at: Any) -> Iterator[Diagnostic]:
    yield from redshift_target.check_target(NAME, task_id, task, at)
    given = [key for key in SOURCES if key in task]
    if not given:
        yield Diagnostic(
            code="DG534",
            **at(("tasks", task_id), key=True),
            message=f"redshift_to_s3 '{task_id}' sets neither select_query nor table: it has no rows to write",
            hint="add select_query: SELECT ..., or table: TABLE to write every row of a table",
        )
    elif len(given) > 1:
        yield Diagnostic(
            code="DG534",
            **at(("tasks", task_id, "table"), key=True),
            message=f"redshift_to_s3 '{task_id}' sets both select_query and table: it writes one set of rows",
            hint="keep select_query, or table alone to write all of its rows",
        )
    if "schema" in task and "table" not in task:
        yield Diagnostic(
            code="DG534",
            **at(("tasks", task_id, "schema"), key=True),
            message=f"redshift_to_s3 '{task_id}' sets schema without table: the query names its own tables",
            hint="qualify the tables in select_query (schema.table) and remove schema",
        )


def unload_statement(settings: dict[str, Any]) -> str:
    table = redshift_target.qualified_table(settings) if "table" in settings else None
    query = settings.get("select_query") or f"SELECT * FROM {table}"  # noqa: S608 - the spec's author names it
    options = list(settings.get("unload_options") or ())
    if not any(str(option).strip().upper().startswith(OVERWRITE_OPTIONS) for option in options):
        options.append("ALLOWOVERWRITE")
    return (
        f"UNLOAD ($${query}$$) TO '{settings['s3']}' {redshift_target.iam_role_clause(settings)}"
        f"{redshift_target.options_text(options)}"
    )


def lower(task: TaskSpec, ctx: LowerContext) -> list[OperatorTask]:
    kwargs = redshift_target.statement_kwargs(task, ctx, unload_statement(task.settings))
    return [OperatorTask(task_id=task.task_id, operator=OPERATORS[0], kwargs=kwargs)]
