"""``s3_to_redshift``: load files from S3 into a Redshift table with COPY, through the Redshift Data API.

Lowers to ``RedshiftDataOperator`` (deferrable) running the COPY that dagen writes, with an
``IAM_ROLE`` clause: Redshift reads S3 as ``iam_role_arn``, a role associated with the cluster or
namespace, never with the task's own credentials.  (The provider's ``S3ToRedshiftOperator`` takes the
role only from the ``role_arn`` extra of an Airflow AWS connection, and otherwise writes the worker's
temporary access keys into the statement text, where Redshift's query history keeps them; so dagen
does not use it.)  ``method`` follows that operator's: ``APPEND`` copies into the table; ``REPLACE``
deletes its rows, then copies; ``UPSERT`` copies into a temporary table like the target
(``#TABLE_staged``, gone with the session), deletes the target's rows whose ``upsert_keys`` match and
inserts the staged rows.  REPLACE and UPSERT are one ``BatchExecuteStatement``, which Redshift runs as
one transaction.

**What a retry does.**  REPLACE and UPSERT are retry-safe: a failed try is rolled back as a whole and
a retry after a try that committed ends in the same table.  APPEND is not: a retry after a try whose
COPY committed (the task failed later, e.g. while waiting) appends the same files again.  Use REPLACE
or UPSERT for data that a retry may load twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from generator.core.diagnostics import Diagnostic
from generator.core.lowering_context import LowerContext
from generator.core.model import OperatorTask, TaskSpec
from generator.core.schema_parts import IDENTIFIER_PATTERN, S3_URI, TEMPLATED_STRING, prop
from generator.task_types import redshift_target

NAME = "s3_to_redshift"
SUMMARY = "Load S3 files into a Redshift table with COPY (APPEND, REPLACE or UPSERT) through the Data API."
OPERATORS = ("airflow.providers.amazon.aws.operators.redshift_data.RedshiftDataOperator",)

_TARGET = redshift_target.PROPERTIES
PROPERTIES = {
    "cluster_identifier": _TARGET["cluster_identifier"],
    "workgroup_name": _TARGET["workgroup_name"],
    "cluster": _TARGET["cluster"],
    "database": _TARGET["database"],
    "s3": prop(
        S3_URI, "The files to load: an object, or a prefix (every object under it).", "s3://landing/sales/{{ ds }}/"
    ),
    "table": prop(TEMPLATED_STRING, "The table to load into.", "daily_sales"),
    "iam_role_arn": redshift_target.TRANSFER_PROPERTIES["iam_role_arn"],
    "schema": redshift_target.TRANSFER_PROPERTIES["schema"],
    "method": prop(
        {"enum": ["APPEND", "REPLACE", "UPSERT"]},
        "`APPEND` adds the rows; `REPLACE` replaces the table's rows; `UPSERT` replaces the rows whose "
        "`upsert_keys` match and adds the others. REPLACE and UPSERT are retry-safe, APPEND is not.",
        "REPLACE",
        default="APPEND",
    ),
    "upsert_keys": prop(
        {"type": "array", "items": {"type": "string", "pattern": IDENTIFIER_PATTERN}, "minItems": 1},
        "With `method: UPSERT`: the columns that identify a row.",
        ["day", "store_id"],
    ),
    "copy_options": prop(
        {"type": "array", "items": TEMPLATED_STRING},
        "COPY options, written as Redshift takes them (format, compression, region...).",
        ["FORMAT AS CSV", "IGNOREHEADER 1", "GZIP"],
    ),
    "secret_arn": _TARGET["secret_arn"],
    "db_user": _TARGET["db_user"],
}
REQUIRED = ("database", "s3", "table", "iam_role_arn")
ONE_OF = (redshift_target.TARGETS,)


def check(task_id: str, task: dict[str, Any], at: Any) -> Iterator[Diagnostic]:
    yield from redshift_target.check_target(NAME, task_id, task, at)
    upsert = task.get("method") == "UPSERT"
    if upsert and "upsert_keys" not in task:
        yield Diagnostic(
            code="DG534",
            **at(("tasks", task_id, "method")),
            message=f"s3_to_redshift '{task_id}' upserts without upsert_keys: nothing says which rows match",
            hint="add upsert_keys: [COLUMN, ...], the columns that identify a row",
        )
    elif "upsert_keys" in task and not upsert:
        yield Diagnostic(
            code="DG534",
            **at(("tasks", task_id, "upsert_keys"), key=True),
            message=f"s3_to_redshift '{task_id}' sets upsert_keys without method: UPSERT: they would not be used",
            hint="add method: UPSERT, or remove upsert_keys",
        )


def copy_statements(settings: dict[str, Any]) -> str | list[str]:
    """The COPY, alone (APPEND) or in the batch that replaces or upserts (one transaction)."""
    table = redshift_target.qualified_table(settings)
    method = settings.get("method", "APPEND")
    into = f"#{settings['table']}_staged" if method == "UPSERT" else table
    copy = (
        f"COPY {into} FROM '{settings['s3']}' {redshift_target.iam_role_clause(settings)}"
        f"{redshift_target.options_text(settings.get('copy_options'))}"
    )
    if method == "APPEND":
        return copy
    if method == "REPLACE":
        return [f"DELETE FROM {table}", copy]  # noqa: S608 - the spec's author writes the table names
    match = " AND ".join(f"{settings['table']}.{key} = {into}.{key}" for key in settings["upsert_keys"])
    return [
        f"CREATE TABLE {into} (LIKE {table} INCLUDING DEFAULTS)",
        copy,
        f"DELETE FROM {table} USING {into} WHERE {match}",  # noqa: S608 - the spec's author writes the table names
        f"INSERT INTO {table} SELECT * FROM {into}",  # noqa: S608 - the spec's author writes the table names
    ]


def lower(task: TaskSpec, ctx: LowerContext) -> list[OperatorTask]:
    kwargs = redshift_target.statement_kwargs(task, ctx, copy_statements(task.settings))
    return [OperatorTask(task_id=task.task_id, operator=OPERATORS[0], kwargs=kwargs)]
