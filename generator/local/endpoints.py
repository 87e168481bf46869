"""Loopback stand-ins for the non-AWS endpoints a pipeline talks to during ``dagen run --local``.

* **HTTP** (``http_wait`` tasks): one small server per Airflow HTTP connection
  the pipeline's ``HttpSensor`` tasks name, on 127.0.0.1.  Each task's endpoint
  is a route (its Jinja parts match any text); the answer is built from the
  task's declarative ``response_check`` so that a correctly wired sensor is
  satisfied at its first poll: the first listed status, a JSON body holding the
  expected value at the path, the expected text.  Any other path answers 404,
  which the sensor reads as "not yet".  The connection
  (``AIRFLOW_CONN_<ID>``) points at the server.
* **SMTP** (``email`` notifications, Airflow's own failure emails): a sink
  that speaks just enough SMTP for ``smtplib`` (no TLS, no authentication),
  records each message and delivers nothing.  ``smtp_default`` and Airflow's
  ``[smtp]`` settings point at it.

Both record what they were sent and which task was running (``origin``), for
the run's report.  Python's standard library only.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import socketserver
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from generator.compile.dagfactory_config import airflow_task_id
from generator.task_types import http_wait

LOOPBACK = "127.0.0.1"
SMTP_FROM = "dagen-local@localhost"
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)

Origin = Callable[[], "str | None"]


# ----------------------------------------------------------------------------- HTTP


@dataclass(frozen=True)
class Route:
    """What one ``http_wait`` task polls, and the answer that satisfies its check."""

    task_id: str
    method: str
    pattern: re.Pattern[str]
    status: int
    body: bytes
    content_type: str
    unmet: str | None = None  # a condition the answer cannot satisfy (reported, never hidden)


def endpoint_pattern(endpoint: str) -> re.Pattern[str]:
    """The paths an endpoint template can render to: its literal parts, anything for each ``{{ ... }}``."""
    parts = _JINJA.split(endpoint.lstrip("/"))
    return re.compile("/?" + "[^?#]+?".join(re.escape(part) for part in parts) + "/?")


def _set_path(document: Any, path: list[str], value: Any) -> Any:
    """``document`` with ``value`` at ``path`` (a numeric segment makes a list long enough for its index)."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if head.lstrip("-").isdigit():
        index = int(head)
        items = list(document) if isinstance(document, list) else []
        size = index + 1 if index >= 0 else -index
        items.extend([None] * (size - len(items)))
        items[index] = _set_path(items[index], rest, value)
        return items
    mapping = dict(document) if isinstance(document, dict) else {}
    mapping[head] = _set_path(mapping.get(head), rest, value)
    return mapping


def answer_for(check: dict[str, Any] | None) -> tuple[int, bytes, str, str | None]:
    """(status, body, content type, unmet condition) of a response that satisfies ``check``."""
    check = check or {}
    status = int(check["status"][0]) if check.get("status") else 200
    text = check.get("body_contains")
    if "json" in check:
        document = _set_path(None, check["json"]["path"].split("."), check["json"]["equals"])
        if text is not None and isinstance(document, dict):
            document.setdefault("dagen_local", text)  # a JSON body that also contains the text
        body = json.dumps(document, ensure_ascii=False)
        unmet = None
        if text is not None and text not in body:
            unmet = f"body_contains {text!r} cannot appear verbatim in a JSON body"
        return status, body.encode(), "application/json", unmet
    return status, (text if text is not None else "ready").encode(), "text/plain; charset=utf-8", None


class HttpEndpoint:
    """The server behind one HTTP connection: the routes of the sensors that use it."""

    def __init__(self, conn_id: str, routes: list[Route], origin: Origin) -> None:
        self.conn_id = conn_id
        self.routes = routes
        self.origin = origin
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((LOOPBACK, 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"dagen-http-{conn_id}", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def connection(self) -> dict[str, Any]:
        """The Airflow connection (JSON form of ``AIRFLOW_CONN_<ID>``) that reaches this server."""
        return {"conn_type": "http", "host": LOOPBACK, "port": self.port, "schema": "http"}

    def route(self, method: str, path: str) -> Route | None:
        return next((r for r in self.routes if r.method == method and r.pattern.fullmatch(path)), None)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                path = urlsplit(self.path).path
                route = endpoint.route(self.command, path)
                status, body, content_type = (
                    (route.status, route.body, route.content_type) if route else (404, b"not found", "text/plain")
                )
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                with endpoint._lock:
                    endpoint.requests.append(
                        {
                            "conn_id": endpoint.conn_id,
                            "method": self.command,
                            "path": path,
                            "status": status,
                            "origin": endpoint.origin(),
                        }
                    )
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_POST = do_HEAD = _answer  # noqa: N815 - BaseHTTPRequestHandler's names

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's signature
                pass

        return Handler

    def start(self) -> HttpEndpoint:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def http_routes(config: dict[str, Any]) -> dict[str, list[Route]]:
    """Connection id -> the routes of the ``http_wait`` tasks (HttpSensor) of a compiled configuration."""
    out: dict[str, list[Route]] = {}
    for task_id, task in (config.get("tasks") or {}).items():
        if task.get("operator") not in http_wait.OPERATORS:
            continue
        check = http_wait.check_of_lambda(task.get("response_check_lambda"))
        status, body, content_type, unmet = answer_for(check)
        route = Route(
            task_id=airflow_task_id(task_id, task),
            method=str(task.get("method", "GET")).upper(),
            pattern=endpoint_pattern(str(task.get("endpoint", ""))),
            status=status,
            body=body,
            content_type=content_type,
            unmet=unmet,
        )
        out.setdefault(str(task.get("http_conn_id", "http_default")), []).append(route)
    return out


# ----------------------------------------------------------------------------- SMTP


class _SmtpHandler(socketserver.StreamRequestHandler):
    """The commands ``smtplib`` sends for one message; no TLS, no AUTH (the connection disables both)."""

    server: _SmtpServer

    def _reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        sender = ""
        recipients: list[str] = []
        self._reply("220 dagen-local SMTP sink")
        for raw in iter(self.rfile.readline, b""):
            command = raw.decode("utf-8", "replace").strip()
            verb = command[:4].upper()
            if verb in ("EHLO", "HELO"):
                self._reply("250 dagen-local")
            elif verb == "MAIL":
                sender, recipients = command.partition(":")[2].strip(" <>"), []
                self._reply("250 OK")
            elif verb == "RCPT":
                recipients.append(command.partition(":")[2].strip(" <>"))
                self._reply("250 OK")
            elif verb == "DATA":
                self._reply("354 end with <CRLF>.<CRLF>")
                lines = []
                for data in iter(self.rfile.readline, b""):
                    if data in (b".\r\n", b".\n"):
                        break
                    lines.append(data[1:] if data.startswith(b"..") else data)
                self.server.sink.receive(sender, recipients, b"".join(lines))
                self._reply("250 OK: recorded, not delivered")
            elif verb in ("RSET", "NOOP"):
                self._reply("250 OK")
            elif verb == "QUIT":
                self._reply("221 bye")
                return
            else:
                self._reply("502 not implemented")


class _SmtpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, sink: SmtpSink) -> None:
        super().__init__((LOOPBACK, 0), _SmtpHandler)
        self.sink = sink


@dataclass
class SmtpSink:
    """Records every message sent to it; delivers none."""

    origin: Origin
    messages: list[dict[str, Any]] = field(default_factory=list)
    _server: _SmtpServer | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    def receive(self, sender: str, recipients: list[str], data: bytes) -> None:
        message = email.message_from_bytes(data, policy=email.policy.default)
        self.messages.append(
            {"from": sender, "to": list(recipients), "subject": str(message["Subject"] or ""), "origin": self.origin()}
        )

    def connection(self) -> dict[str, Any]:
        """``smtp_default``: this sink, plain SMTP (no TLS, no SSL, no login)."""
        return {
            "conn_type": "smtp",
            "host": LOOPBACK,
            "port": self.port,
            "extra": {
                "from_email": SMTP_FROM,
                "disable_tls": True,
                "disable_ssl": True,
                "timeout": 5,
                "retry_limit": 1,
            },
        }

    def airflow_settings(self) -> dict[str, str]:
        """Airflow's own ``[smtp]`` settings (task failure emails) pointing at the sink."""
        return {
            "AIRFLOW__SMTP__SMTP_HOST": LOOPBACK,
            "AIRFLOW__SMTP__SMTP_PORT": str(self.port),
            "AIRFLOW__SMTP__SMTP_STARTTLS": "False",
            "AIRFLOW__SMTP__SMTP_SSL": "False",
            "AIRFLOW__SMTP__SMTP_MAIL_FROM": SMTP_FROM,
        }

    def start(self) -> SmtpSink:
        self._server = _SmtpServer(self)
        threading.Thread(target=self._server.serve_forever, name="dagen-smtp", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


# ----------------------------------------------------------------------------- together


class LocalEndpoints:
    """Every loopback endpoint of one run: HTTP servers per connection, the SMTP sink; a context manager."""

    def __init__(self, config: dict[str, Any], origin: Origin) -> None:
        self.http = [HttpEndpoint(conn_id, routes, origin) for conn_id, routes in http_routes(config).items()]
        self.smtp = SmtpSink(origin)

    def start(self) -> LocalEndpoints:
        for endpoint in self.http:
            endpoint.start()
        self.smtp.start()
        return self

    def stop(self) -> None:
        for endpoint in self.http:
            endpoint.stop()
        self.smtp.stop()

    def __enter__(self) -> LocalEndpoints:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def environment(self) -> dict[str, str]:
        """The connections (and Airflow settings) that point the pipeline at these endpoints."""
        env = {f"AIRFLOW_CONN_{e.conn_id.upper()}": json.dumps(e.connection()) for e in self.http}
        env["AIRFLOW_CONN_SMTP_DEFAULT"] = json.dumps(self.smtp.connection())
        env.update(self.smtp.airflow_settings())
        return env

    def notes(self) -> Iterator[str]:
        for endpoint in self.http:
            for route in endpoint.routes:
                yield (
                    f"http {endpoint.conn_id} = http://{LOOPBACK}:{endpoint.port}  "
                    f"({route.task_id}: {route.method} {route.status} {route.body.decode(errors='replace')[:80]})"
                )
                if route.unmet:
                    yield f"http {endpoint.conn_id}: {route.task_id}: {route.unmet}"

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        return {
            "http_requests": [request for endpoint in self.http for request in endpoint.requests],
            "emails": list(self.smtp.messages),
        }
