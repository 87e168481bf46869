"""The network guard of ``dagen run --local``: a run reaches loopback only, never the internet or real AWS.

An audit hook (:func:`sys.addaudithook`) sees every socket call of the process before it happens, at
the level of the ``_socket`` module itself, so no library (urllib3, aiohttp, botocore, asyncio, ssl)
can go around it.  While a :class:`NetworkGuard` is active it:

* lets ``connect``/``connect_ex`` (``socket.create_connection`` and every client use them) through to
  a loopback address (IPv4 127.0.0.0/8, IPv6 ::1) or a Unix socket, and refuses any other address;
* refuses ``sendto``/``sendmsg`` to any other address (UDP: a DNS query of a resolver written in Python);
* refuses to resolve (``getaddrinfo``, ``gethostbyname``) any name but ``localhost`` (and
  ``*.localhost``) and the machine's own (Airflow resolves it for the task's hostname), or an
  address that is not loopback, so no other name leaves the machine as a DNS query.

A refused call raises :class:`NetworkRefused` (a ``ConnectionRefusedError``, which every client
treats as a failed connection) whose message names what was refused; each attempt is recorded
with the task that made it (``origin``), refused or not, for the run's report.

The guard is stdlib-only: ``guarded_site/sitecustomize.py`` installs it in each Python process a
task starts (``PYTHONPATH``, :meth:`NetworkGuard.subprocess_environment`).  A program that is not
Python (``curl`` in a bash command) or a C library that opens its own sockets is out of its sight.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

REFUSED = "dagen run --local refused {target}: a local run may only reach the emulator on loopback (127.0.0.1, ::1)"
SITE_DIR = Path(__file__).resolve().parent / "guarded_site"
_LOCALHOST = "localhost"  # RFC 6761: it and the names under it are loopback
_OWN_NAME = socket.gethostname().lower()  # resolving it asks nothing of the internet; reaching it is a connect
_UNSPECIFIED = ("", "0.0.0.0", "::")  # noqa: S104 - what a server binds to: resolving it sends nothing


class NetworkRefused(ConnectionRefusedError):
    """A socket call of a local run that would leave the machine."""


def is_loopback(host: str) -> bool:
    """An address on this machine's loopback interface (a name is not an address)."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1
    return bool(address.is_loopback or (mapped is not None and mapped.is_loopback))


def _is_localhost(host: str) -> bool:
    name = host.lower().rstrip(".")
    return name == _LOCALHOST or name.endswith(f".{_LOCALHOST}")


def is_local_name(host: str) -> bool:
    """A name (or address) that may be resolved: loopback, ``localhost``, the machine's own name."""
    return _is_localhost(host) or host.lower().rstrip(".") == _OWN_NAME or is_loopback(host)


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def target_of(host: Any, port: Any) -> str:
    """``host:port`` as a reader writes it (``[::1]:443`` for IPv6), ``host`` alone without a port."""
    text = _text(host)
    shown = f"[{text}]" if ":" in text else text
    return shown if port in (None, "", b"", 0) else f"{shown}:{_text(port)}"


def _address_verdict(family: int, address: Any) -> tuple[str, bool]:
    """(what is reached, allowed) for the address of a connect or a send."""
    if family == getattr(socket, "AF_UNIX", None):
        return f"unix:{_text(address)}", True
    if family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple) and len(address) >= 2:
        host = _text(address[0])
        return target_of(host, address[1]), is_loopback(host) or _is_localhost(host)
    return f"{family!r} {address!r}", False


def verdict(event: str, args: tuple[Any, ...]) -> tuple[str, str, bool] | None:
    """(call, what it reaches, allowed) for a socket audit event; None for any other event."""
    if event == "socket.connect":
        return ("connect", *_address_verdict(args[0].family, args[1]))
    if event in ("socket.sendto", "socket.sendmsg"):
        if args[1] is None:  # sendmsg on a connected socket: its connect was checked
            return None
        return (event.removeprefix("socket."), *_address_verdict(args[0].family, args[1]))
    if event == "socket.getaddrinfo":
        host, port = args[0], args[1]
        if host is None or _text(host) in _UNSPECIFIED:
            return None
        return "getaddrinfo", target_of(host, port), is_local_name(_text(host))
    if event == "socket.gethostbyname":
        return "gethostbyname", _text(args[0]), is_local_name(_text(args[0]))
    return None


_EVENTS = frozenset(("socket.connect", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo", "socket.gethostbyname"))
_ACTIVE: NetworkGuard | None = None
_HOOKED = False
_HOOK_LOCK = threading.Lock()


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event not in _EVENTS:  # every audited call of the process comes here: the fast path first
        return
    guard = _ACTIVE
    if guard is not None:
        guard.check(event, args)


class NetworkGuard:
    """Refuses every socket call of this process that would leave loopback, and records each attempt."""

    def __init__(self, origin: Callable[[], str | None] = lambda: None) -> None:
        self.origin = origin
        self._attempts: dict[tuple[str, str, str | None], bool] = {}  # (call, target, origin) -> refused
        self._lock = threading.Lock()

    def check(self, event: str, args: tuple[Any, ...]) -> None:
        found = verdict(event, args)
        if found is None:
            return
        call, target, allowed = found
        with self._lock:
            self._attempts.setdefault((call, target, self.origin()), not allowed)
        if not allowed:
            raise NetworkRefused(REFUSED.format(target=target))

    def install(self) -> NetworkGuard:
        """Guard this process from now on (an audit hook cannot be removed: :meth:`uninstall` idles it)."""
        global _ACTIVE, _HOOKED
        with _HOOK_LOCK:
            if _ACTIVE is not None and _ACTIVE is not self:
                raise RuntimeError("another network guard is active in this process")
            if not _HOOKED:
                sys.addaudithook(_audit)
                _HOOKED = True
            _ACTIVE = self
        return self

    def uninstall(self) -> None:
        global _ACTIVE
        with _HOOK_LOCK:
            if _ACTIVE is self:
                _ACTIVE = None

    def __enter__(self) -> NetworkGuard:
        return self.install()

    def __exit__(self, *exc: object) -> None:
        self.uninstall()

    def attempts(self, *, refused: bool) -> list[dict[str, Any]]:
        """Each distinct attempt (call, target, origin), refused or allowed, in the order first seen."""
        with self._lock:
            items = list(self._attempts.items())
        return [
            {"call": call, "target": target, "origin": origin}
            for (call, target, origin), was_refused in items
            if was_refused is refused
        ]

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        return {"allowed": self.attempts(refused=False), "refused": self.attempts(refused=True)}

    @staticmethod
    def subprocess_environment() -> dict[str, str]:
        """``PYTHONPATH`` that makes each Python process started from here guard itself (``sitecustomize``)."""
        rest = os.environ.get("PYTHONPATH")
        return {"PYTHONPATH": os.pathsep.join(part for part in (str(SITE_DIR), rest) if part)}
