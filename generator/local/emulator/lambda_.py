"""Lambda in the emulator, without Docker: invocations recorded, the code never run.

moto's config ``{"lambda": {"use_docker": False}}`` (the server sets it while the emulator runs) serves
Lambda from moto's "simple" backend, whose Invoke answers with the event.  This module makes Invoke of
an unknown function, version or alias ``ResourceNotFoundException`` (the simple backend answers any
name), takes every name form Lambda takes (moto drops the ``Qualifier`` parameter and fails on
``ACCOUNT:function:NAME``) and records each invocation; an injected failure answers
``X-Amz-Function-Error: Unhandled``.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from generator.local.emulator.shared import active, current_origin, fail_cause, lose_responses_of, record

# A function name in any form Invoke takes: NAME, NAME:QUALIFIER, ACCOUNT:function:NAME[:QUALIFIER], full ARN.
_FUNCTION_REFERENCE = re.compile(
    r"(?:arn:aws[a-z-]*:lambda:[a-z0-9-]+:)?(?:[0-9]{12}:)?(?:function:)?([A-Za-z0-9_-]+)(?::([A-Za-z0-9$_-]+))?"
)


def _function_name(reference: str) -> str:
    match = _FUNCTION_REFERENCE.fullmatch(reference)
    return match.group(1) if match else reference


@dataclass
class Invocation:
    """One Lambda invoke: the function is not run (no Docker); its answer is the event, or an injected error."""

    function: str
    qualifier: str | None
    invocation_type: str
    payload: Any
    state: str
    cause: str | None


def install() -> None:
    import moto.awslambda.responses as lambda_responses
    import moto.awslambda_simple.models as simple_models

    stock_invoke = simple_models.LambdaSimpleBackend.invoke

    def invoke(
        self: Any, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
    ) -> Any:
        # moto's Docker-free backend answers any name; Lambda answers ResourceNotFoundException.  moto's
        # lookup takes a name or a full ARN; Lambda also takes NAME:QUALIFIER and ACCOUNT:function:NAME.
        reference = _FUNCTION_REFERENCE.fullmatch(function_name)
        if reference:
            function_name, qualifier = reference.group(1), reference.group(2) or qualifier
        function = self.get_function(function_name, qualifier)
        origin = current_origin()
        cause = fail_cause(origin, ("lambda", str(function.function_name)))
        text = body.decode() if isinstance(body, bytes) else body
        try:
            payload = json.loads(text) if text else None
        except ValueError:
            payload = text
        invocation = Invocation(
            function=function.function_name,
            qualifier=qualifier,
            invocation_type=headers.get("X-Amz-Invocation-Type") or "RequestResponse",
            payload=payload,
            state="FAILED" if cause else "SUCCEEDED",
            cause=cause,
        )
        record("invocation", str(uuid.uuid4()), invocation, parent=function.function_arn)
        if cause and invocation.invocation_type == "RequestResponse":
            # What a function that raised returns: HTTP 200, X-Amz-Function-Error, the error as the payload.
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorMessage": cause, "errorType": "DagenEmulatedFailure"}).encode()
        return stock_invoke(self, function_name, qualifier, body, headers, response_headers)

    simple_models.LambdaSimpleBackend.invoke = invoke

    stock_invoke_response = lambda_responses.LambdaResponse.invoke

    def invoke_response(self: Any) -> Any:
        # moto reads Invoke's Qualifier query parameter as "qualifier", so it never sees it.
        if active() and "Qualifier" in self.querystring and "qualifier" not in self.querystring:
            self.querystring["qualifier"] = self.querystring["Qualifier"]
        return stock_invoke_response(self)

    lambda_responses.LambdaResponse.invoke = invoke_response
    lose_responses_of(
        lambda_responses.LambdaResponse,
        ("invoke",),
        "InvalidRequestContentException",
        lambda response, action: [("lambda", _function_name(unquote(response.path.rsplit("/", 2)[-2])))],
    )
