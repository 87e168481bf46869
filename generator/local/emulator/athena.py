"""Athena in the emulator: result locations required and checked, as Athena does.

StartQueryExecution without a result location (in the request or the workgroup) is refused as Athena
refuses it; a query whose result bucket does not exist fails (``Unable to verify/create output
bucket``); GetQueryExecution answers with the effective result location and, for a failed query, its
``StateChangeReason``.  Queries are not run (moto's ``athena::execution`` reaches SUCCEEDED at once).
"""

from __future__ import annotations

import json
from typing import Any

from generator.local.emulator.shared import active, current_origin, fail_cause, lose_responses_of, plain, record

NO_OUTPUT_LOCATION = (
    "No output location provided. An output location is required either through the Workgroup result "
    "configuration setting or as an API input."
)


def output_location(request: dict[str, Any] | None, workgroup: dict[str, Any] | None) -> str | None:
    """Where Athena writes a query's results: the workgroup's when it enforces its own, else the request's."""
    configuration = (workgroup or {}).get("Configuration") or (workgroup or {}).get("configuration") or {}
    from_group = (configuration.get("ResultConfiguration") or {}).get("OutputLocation")
    from_request = (request or {}).get("OutputLocation")
    if from_group and configuration.get("EnforceWorkGroupConfiguration", True):
        return str(from_group)
    return from_request or from_group


def install() -> None:
    import moto.athena.models as models
    import moto.athena.responses as responses
    from moto.core.exceptions import ServiceException
    from moto.s3.models import s3_backends

    class InvalidRequest(ServiceException):
        code = "InvalidRequestException"

    stock_start = models.AthenaBackend.start_query_execution

    def start_query_execution(
        self: Any, query: str, context: Any, config: Any, workgroup: str | None, execution_parameters: Any
    ) -> str:
        if active() is None:
            return str(stock_start(self, query, context, config, workgroup, execution_parameters))
        group = self.work_groups.get(workgroup or "primary")
        location = output_location(plain(config), {"Configuration": group.configuration} if group else None)
        if not location:
            raise InvalidRequest(NO_OUTPUT_LOCATION)
        exec_id: str = stock_start(self, query, context, config, workgroup, execution_parameters)
        execution = self.executions[exec_id]
        execution.origin = current_origin()
        execution.output_location = location
        cause = fail_cause(execution.origin, ("query", workgroup or "primary"))
        bucket = location.removeprefix("s3://").split("/", 1)[0]
        if cause is None and bucket not in s3_backends[self.account_id]["global"].buckets:
            cause = f"Unable to verify/create output bucket {bucket}"
        execution.failure_cause = cause
        if cause:
            execution._transitions = [("QUEUED", "RUNNING"), ("RUNNING", "FAILED")]
        record("query", exec_id, execution, parent=workgroup or "primary")
        return exec_id

    models.AthenaBackend.start_query_execution = start_query_execution

    stock_get = responses.AthenaResponse.get_query_execution

    def get_query_execution(self: Any) -> str:
        document = json.loads(stock_get(self))
        execution = self.athena_backend.executions[self._get_param("QueryExecutionId")]
        status = document["QueryExecution"]["Status"]
        location = getattr(execution, "output_location", None)
        if location:  # moto echoes the request's configuration; Athena answers with the effective location
            result = document["QueryExecution"].get("ResultConfiguration") or {}
            result["OutputLocation"] = location.rstrip("/") + f"/{execution.id}.csv"
            document["QueryExecution"]["ResultConfiguration"] = result
        cause = getattr(execution, "failure_cause", None)
        if status["State"] == "FAILED" and cause:
            status["StateChangeReason"] = cause
            status["AthenaError"] = {"ErrorCategory": 2, "Retryable": False, "ErrorMessage": cause}
        return json.dumps(document)

    responses.AthenaResponse.get_query_execution = get_query_execution
    lose_responses_of(
        responses.AthenaResponse,
        ("start_query_execution",),
        "InvalidRequestException",
        lambda response, action: [("query", str(response._get_param("WorkGroup") or "primary"))],
    )
