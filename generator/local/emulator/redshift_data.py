"""The Redshift Data API in the emulator: statements that complete, fail on demand, and can be listed.

Stock moto keeps every statement ``STARTED`` (a waiting task never ends) and lacks
``BatchExecuteStatement`` and ``ListStatements``.  Here a statement (or a batch, with its
sub-statements ``ID:1``, ``ID:2``...) goes ``SUBMITTED -> STARTED -> FINISHED`` one state per
``DescribeStatement``, or ``FAILED`` with its ``Error`` when the calling task is made to fail
(``dagen run --fail TASK``); with ``--flaky TASK`` the first submission takes effect and its response
is lost (a retry submits the statements again).  The SQL is not run: COPY and UNLOAD are statements like
any other, a result set (``GetStatementResult``, for a statement that starts with SELECT or WITH) has no
rows, and a statement's cluster or workgroup need not exist.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from generator.local.emulator.shared import current_origin, fail_cause, lose_responses_of, now, record

ENDED = ("FINISHED", "FAILED", "ABORTED")


@dataclass
class Statement:
    """One ExecuteStatement or BatchExecuteStatement (``sqls`` holds one statement or the batch's)."""

    id: str
    target: dict[str, str]  # ClusterIdentifier or WorkgroupName
    database: str
    sqls: list[str]
    batch: bool
    request: dict[str, Any]
    cause: str | None
    status: str = "SUBMITTED"
    created: str = field(default_factory=lambda: now().isoformat())

    def advance(self) -> None:
        if self.status == "SUBMITTED":
            self.status = "STARTED"
        elif self.status == "STARTED":
            self.status = "FAILED" if self.cause else "FINISHED"

    def sub_status(self, index: int) -> str:
        """A batch runs in order: statements before the failing last one finish, the last fails."""
        if self.status != "FAILED":
            return self.status
        return "FAILED" if index == len(self.sqls) - 1 else "FINISHED"

    def has_result(self, sql: str) -> bool:
        return sql.lstrip().upper().startswith(("SELECT", "WITH"))

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Id": self.id,
            **self.target,
            "Database": self.database,
            "CreatedAt": self.created,
            "UpdatedAt": now().isoformat(),
            "Status": self.status,
            "QueryString": "" if self.batch else self.sqls[0],
            "HasResultSet": not self.batch and self.has_result(self.sqls[0]),
            "ResultRows": 0 if self.status == "FINISHED" else -1,
            "Duration": 0,
            "RedshiftPid": 0,
            "RedshiftQueryId": 0,
        }
        for key in ("DbUser", "SecretArn"):
            if self.request.get(key):
                out[key] = self.request[key]
        if self.request.get("Parameters"):
            out["QueryParameters"] = self.request["Parameters"]
        if self.status == "FAILED":
            out["Error"] = self.cause
        if self.batch:
            out["SubStatements"] = [
                {
                    "Id": f"{self.id}:{index + 1}",
                    "Status": self.sub_status(index),
                    "QueryString": sql,
                    "HasResultSet": self.has_result(sql),
                    "CreatedAt": self.created,
                    "UpdatedAt": now().isoformat(),
                    **({"Error": self.cause} if self.sub_status(index) == "FAILED" else {}),
                }
                for index, sql in enumerate(self.sqls)
            ]
        return out


def _statements(response: Any) -> dict[str, Statement]:
    store: dict[str, Statement] = response.redshiftdata_backend.__dict__.setdefault("dagen_statements", {})
    return store


def install() -> None:
    import moto.redshiftdata.responses as responses
    from moto.redshiftdata.exceptions import ResourceNotFoundException, ValidationException

    cls = responses.RedshiftDataAPIServiceResponse

    def start(self: Any, sqls: list[str], batch: bool) -> tuple[int, dict[str, str], str]:
        targets = {key: self._get_param(key) for key in ("ClusterIdentifier", "WorkgroupName") if self._get_param(key)}
        if len(targets) != 1:
            raise ValidationException("Either ClusterIdentifier or WorkgroupName must be specified, not both")
        if self._get_param("DbUser") and self._get_param("SecretArn"):
            raise ValidationException("SecretArn and DbUser cannot both be specified")
        request = {key: self._get_param(key) for key in ("DbUser", "SecretArn", "StatementName", "Parameters")}
        origin = current_origin()
        name = next(iter(targets.values()))
        statement = Statement(
            id=str(uuid.uuid4()),
            target=targets,
            database=str(self._get_param("Database") or ""),
            sqls=sqls,
            batch=batch,
            request=request,
            cause=fail_cause(origin),
        )
        _statements(self)[statement.id] = statement
        record("statement", statement.id, statement, parent=name)
        answer = {"Id": statement.id, **targets, "Database": statement.database, "CreatedAt": statement.created}
        return 200, {}, json.dumps({**answer, **{k: v for k, v in request.items() if k != "Parameters" and v}})

    def find(self: Any, statement_id: str) -> tuple[Statement, int | None]:
        parent, _, index = str(statement_id).partition(":")
        statement = _statements(self).get(parent)
        if statement is None or (index and (not statement.batch or not 1 <= int(index or 0) <= len(statement.sqls))):
            raise ResourceNotFoundException()
        return statement, int(index) - 1 if index else None

    def execute_statement(self: Any) -> Any:
        return start(self, [str(self._get_param("Sql"))], batch=False)

    def batch_execute_statement(self: Any) -> Any:
        return start(self, [str(sql) for sql in self._get_param("Sqls") or []], batch=True)

    def describe_statement(self: Any) -> Any:
        statement, index = find(self, self._get_param("Id"))
        statement.advance()
        document = statement.describe()
        if index is not None:
            sub = document.pop("SubStatements")[index]
            document.update(sub)
        return 200, {}, json.dumps(document)

    def get_statement_result(self: Any) -> Any:
        statement, index = find(self, self._get_param("Id"))
        sql = statement.sqls[index or 0]
        if statement.batch and index is None:
            raise ValidationException("Batch statement does not have result. Please use a sub-statement id.")
        if statement.status != "FINISHED" or not statement.has_result(sql):
            raise ValidationException("Query does not have result. Please check query status.")
        # The SQL is not run: a result set without rows.
        return 200, {}, json.dumps({"ColumnMetadata": [], "Records": [], "TotalNumRows": 0})

    def list_statements(self: Any) -> Any:
        wanted = self._get_param("Status") or "ALL"
        name = self._get_param("StatementName")
        found = [
            s
            for s in _statements(self).values()
            if (wanted == "ALL" or s.status == wanted) and (not name or s.request.get("StatementName") == name)
        ]
        found.sort(key=lambda s: s.created, reverse=True)
        listed = [
            {
                key: value
                for key, value in s.describe().items()
                if key in ("Id", "Status", "CreatedAt", "UpdatedAt", "QueryString", "SecretArn")
            }
            | {"IsBatchStatement": s.batch, **({"QueryStrings": s.sqls} if s.batch else {})}
            | ({"StatementName": s.request["StatementName"]} if s.request.get("StatementName") else {})
            for s in found
        ]
        return 200, {}, json.dumps({"Statements": listed})

    def cancel_statement(self: Any) -> Any:
        statement, _ = find(self, self._get_param("Id"))
        if statement.status in ENDED:
            raise ValidationException(
                f"Could not cancel a query that is already in {statement.status} state with ID: {statement.id}"
            )
        statement.status = "ABORTED"
        return 200, {}, json.dumps({"Status": True})

    cls.execute_statement = execute_statement
    cls.batch_execute_statement = batch_execute_statement
    cls.describe_statement = describe_statement
    cls.get_statement_result = get_statement_result
    cls.list_statements = list_statements
    cls.cancel_statement = cancel_statement
    # `--flaky TASK`: the statement is submitted, then the caller gets an error (it runs again on a retry).
    lose_responses_of(cls, ("execute_statement", "batch_execute_statement"), "ValidationException")
