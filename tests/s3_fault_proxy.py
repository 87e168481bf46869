"""An HTTP proxy on loopback in front of the S3 server of the deploy tests, that injects faults.

Each request is numbered from 1; ``fault(number)`` decides what happens to it:
``None`` forwards it, ``"slowdown"`` answers 503 SlowDown as S3 does when it
throttles, ``"drop"`` closes the connection without an answer (the network is
gone).  ``delay`` slows every request (to make two deploys overlap).
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

SLOWDOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "upgrade", "expect"}


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.fault: Callable[[int], str | None] = lambda number: None
        self.delay = 0.0
        self.count = 0
        self.faults: list[tuple[int, str]] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _any(self) -> None:
                proxy.handle(self)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def reset(self, fault: Callable[[int], str | None] | None = None, delay: float = 0.0) -> None:
        with self._lock:
            self.fault, self.delay, self.count, self.faults = fault or (lambda number: None), delay, 0, []

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        with self._lock:
            self.count += 1
            number = self.count
            fault = self.fault(number)
            if fault:
                self.faults.append((number, fault))
        if self.delay:
            time.sleep(self.delay)
        if fault == "drop":
            request.close_connection = True
            try:
                request.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if fault == "slowdown":
            self._answer(request, 503, [("Content-Type", "application/xml")], SLOWDOWN)
            return
        upstream = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=60)
        headers = {key: value for key, value in request.headers.items() if key.lower() not in HOP_BY_HOP}
        try:
            upstream.request(request.command, request.path, body=body or None, headers=headers)
            response = upstream.getresponse()
            content = response.read()
            kept = [(key, value) for key, value in response.getheaders() if key.lower() not in HOP_BY_HOP]
            self._answer(request, response.status, kept, content, head=request.command == "HEAD")
        finally:
            upstream.close()

    @staticmethod
    def _answer(
        request: BaseHTTPRequestHandler, status: int, headers: list[tuple[str, str]], body: bytes, head: bool = False
    ) -> None:
        request.send_response_only(status)
        for key, value in headers:
            if key.lower() != "content-length" or head:
                request.send_header(key, value)
        if not head:
            request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        if not head:
            request.wfile.write(body)
