"""A call the emulator cannot answer fails at once, with a message that says so.

moto raises ``NotImplementedError`` for an action it lacks (and for some options of actions it
has); its server then answers HTTP 500 with an HTML page, which botocore takes for a transient
server error and retries, and an Airflow waiter polls again, for many minutes.  Here each backend
app of the server answers it ``501 Not Implemented`` instead (botocore retries 500, 502, 503 and
504, never 501), in the error format of the service's protocol, so the caller fails on its first
try with ``dagen emulator: <Action> is not emulated (moto: ...)``.  (A REST path moto has no route
for already answers 404, which is not retried either.)
"""

from __future__ import annotations

import json
from typing import Any
from xml.sax.saxutils import escape

MESSAGE = "dagen emulator: {action} is not emulated (moto: {error})"
STATUS = 501
CODE = "NotImplemented"
REST_XML = ("s3", "s3control", "route53", "cloudfront")  # REST services whose errors are XML


def _action(request: Any) -> str:
    target = request.headers.get("X-Amz-Target", "")
    if target:
        return str(target.rpartition(".")[2])
    action = request.values.get("Action")
    return str(action) if action else f"{request.method} {request.path}"


def error_response(service: str, request: Any, error: Exception) -> tuple[str, int, dict[str, str]]:
    """(body, status, headers): XML for query and REST-XML APIs (``Action=``, S3), JSON for the others."""
    message = MESSAGE.format(action=_action(request), error=error)
    if "Action" in request.values or service in REST_XML:
        body = f"<ErrorResponse><Error><Code>{CODE}</Code><Message>{escape(message)}</Message></Error></ErrorResponse>"
        return body, STATUS, {"Content-Type": "text/xml"}
    body = json.dumps({"__type": CODE, "message": message})
    return body, STATUS, {"Content-Type": "application/json", "x-amzn-ErrorType": CODE}


def install() -> None:
    """Make every backend app the threaded server creates answer ``NotImplementedError`` with 501."""
    from flask import request
    from moto.moto_server import threaded_moto_server

    stock = threaded_moto_server.create_backend_app

    def create_backend_app(service: Any) -> Any:
        app = stock(service)
        app.register_error_handler(NotImplementedError, lambda error: error_response(str(service), request, error))
        return app

    threaded_moto_server.create_backend_app = create_backend_app
