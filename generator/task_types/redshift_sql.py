"""``redshift_sql``: run SQL on Amazon Redshift through the Redshift Data API and wait for it.

Lowers to ``RedshiftDataOperator`` (deferrable: both provider lines support it) on a cluster or a
Serverless workgroup (:mod:`generator.task_types.redshift_target`).  One statement (``sql`` as a
string, or ``sql_file``: a ``.sql`` file beside the spec, read when the spec is compiled like
``athena_query``'s ``query_file``) is an ``ExecuteStatement``; a list under ``sql`` is one
``BatchExecuteStatement``, whose statements Redshift runs in order as one transaction.  ``parameters``
are named parameters (``:name`` in the SQL); the Data API takes their values as text.

The task's return value (XCom) is what the operator returns: the statement id(s) (provider 9.34 on
Airflow 3: a list of ids, one per statement of a batch; provider 9.0 on Airflow 2: the id), or, with
``return_result: true``, the ``GetStatementResult`` response(s) of a single statement (DG533 refuses it
with a list: provider 9.0 would ask for the result of the batch itself, which has none).

**A retry runs the statements again.**  The operator passes no client token (the Data API's
``ClientToken`` is not one of its arguments on either provider line), so a retry in the same DAG run
submits the statements anew, and whatever the first try committed stays committed (a batch that
failed is rolled back as a whole).  Write SQL that can run twice: ``CREATE TABLE IF NOT EXISTS``,
``DELETE`` + ``INSERT`` in one batch, ``MERGE``, ``INSERT ... WHERE NOT EXISTS``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from generator.core.diagnostics import Diagnostic
from generator.core.lowering_context import LowerContext
from generator.core.model import OperatorTask, TaskSpec
from generator.core.schema_parts import BOOLEAN, TEMPLATED_STRING, Schema, prop
from generator.task_types import redshift_target
from generator.task_types.athena_query import SQL_FILE

NAME = "redshift_sql"
SUMMARY = "Run SQL on Amazon Redshift (cluster or Serverless) through the Redshift Data API and wait for it."
OPERATORS = ("airflow.providers.amazon.aws.operators.redshift_data.RedshiftDataOperator",)

SQL: Schema = {
    "type": ["string", "array"],
    "minLength": 1,
    "items": TEMPLATED_STRING,
    "minItems": 1,
    "title": "SQL statement, or list of statements (Jinja allowed)",
}
_TARGET = redshift_target.PROPERTIES
PROPERTIES = {
    "cluster_identifier": _TARGET["cluster_identifier"],
    "workgroup_name": _TARGET["workgroup_name"],
    "cluster": _TARGET["cluster"],
    "database": _TARGET["database"],
    "secret_arn": _TARGET["secret_arn"],
    "sql": prop(
        SQL,
        "The SQL: one statement, or a list run in order as one transaction (Jinja allowed). Set this or `sql_file`.",
        "DELETE FROM daily_sales WHERE day = '{{ ds }}'",
        ["DELETE FROM daily_sales WHERE day = '{{ ds }}'", "INSERT INTO daily_sales SELECT * FROM staged_sales"],
    ),
    "sql_file": prop(
        SQL_FILE,
        "A `.sql` file holding one statement instead of `sql`, relative to the spec's folder. Read when the spec "
        "is compiled; Jinja in it is rendered when the task runs.",
        "sql/daily_sales.sql",
    ),
    "statement_name": prop(
        TEMPLATED_STRING, "A name for the statement, shown in the Data API's history.", "daily_sales"
    ),
    "parameters": prop(
        {
            "type": "object",
            "propertyNames": {"pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"},
            "additionalProperties": TEMPLATED_STRING,
        },
        "Named parameters: `:name` in the SQL takes the value (text; Jinja allowed).",
        {"day": "{{ ds }}"},
    ),
    "return_result": prop(
        BOOLEAN,
        "Return the statement's result (GetStatementResult) as the task's XCom instead of its id; one statement only.",
        True,
        default=False,
    ),
    "db_user": _TARGET["db_user"],
}
REQUIRED = ("database",)
ONE_OF = (redshift_target.TARGETS, ("sql", "sql_file"))
FILE_KEYS = {"sql_file": "sql"}  # read into `sql` by generator.spec.files


def check(task_id: str, task: dict[str, Any], at: Any) -> Iterator[Diagnostic]:
    yield from redshift_target.check_target(NAME, task_id, task, at)
    given = [key for key in ONE_OF[1] if key in task]
    if not given:
        yield Diagnostic(
            code="DG532",
            **at(("tasks", task_id), key=True),
            message=f"redshift_sql '{task_id}' sets neither sql nor sql_file: it has no SQL to run",
            hint="write the statements under sql, or one statement in a .sql file beside the spec named by sql_file",
        )
    elif len(given) > 1:
        yield Diagnostic(
            code="DG532",
            **at(("tasks", task_id, "sql_file"), key=True),
            message=f"redshift_sql '{task_id}' sets both sql and sql_file: the SQL must be in one place",
            hint="keep the statements under sql, or in the .sql file sql_file names",
        )
    if task.get("return_result") is True and isinstance(task.get("sql"), list):
        yield Diagnostic(
            code="DG533",
            **at(("tasks", task_id, "return_result"), key=True),
            message=f"redshift_sql '{task_id}' sets return_result with a list of statements: a batch has no "
            "single result to return",
            hint="return the result of one statement (sql: one string, or sql_file), or drop return_result",
        )


def lower(task: TaskSpec, ctx: LowerContext) -> list[OperatorTask]:
    settings = task.settings
    sql = settings["sql"]
    kwargs = redshift_target.statement_kwargs(task, ctx, list(sql) if isinstance(sql, (list, tuple)) else sql)
    if "parameters" in settings:
        kwargs["parameters"] = [{"name": name, "value": value} for name, value in settings["parameters"].items()]
    if "statement_name" in settings:
        kwargs["statement_name"] = settings["statement_name"]
    if settings.get("return_result"):
        kwargs["return_sql_result"] = True
    return [OperatorTask(task_id=task.task_id, operator=OPERATORS[0], kwargs=kwargs)]
