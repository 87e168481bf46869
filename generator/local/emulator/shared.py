"""What the emulator's service modules share: the account, the running emulator, records and faults.

Each service module (``emr``, ``glue``, ``stepfunctions``, ...) patches moto through these helpers:
who is calling (:func:`current_origin`), whether that origin's work must fail (:func:`fail_cause`),
what a call created (:func:`record`), and start calls whose response is lost (:func:`lose_responses_of`).
:mod:`generator.local.emulator.server` makes a :class:`~generator.local.emulator.server.LocalAws` the
running one (:func:`set_active`) while it runs; without one, the patched moto behaves as stock moto
except where a service module says otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from generator.local.emulator.server import LocalAws

ACCOUNT_ID = "123456789012"  # moto's default account
DEFAULT_REGION = "us-east-1"
DUMMY_KEY = "dagen-local"  # credentials the emulator accepts; never real ones
# One state per poll: a waiter sees each state, and a run still takes seconds.
ONE_STATE_PER_POLL = {"progression": "manual", "times": 1}


@dataclass
class Record:
    """A resource a call created, and who made the call."""

    # cluster | step | notebook_execution | execution | job_run | crawl | serverless_job_run | eks_job_run
    # | query | invocation | message | object
    kind: str
    id: str
    origin: str | None
    obj: Any
    parent: str | None = None  # the cluster of a step, the job of a run...


@dataclass
class Faults:
    fail: dict[str, str] = field(default_factory=dict)  # origin -> cause
    lose: set[str] = field(default_factory=set)  # origins whose next start response is lost


class EmulatedFault(Exception):
    """The error a caller gets when the emulator loses a response on purpose."""


_ACTIVE: LocalAws | None = None  # the running emulator (set_active); None: plain moto


def active() -> LocalAws | None:
    return _ACTIVE


def set_active(emulator: LocalAws | None) -> None:
    """Make ``emulator`` the one the patched moto consults (``None``: none runs)."""
    global _ACTIVE
    _ACTIVE = emulator


def current_origin() -> str | None:
    emulator = active()
    return emulator.origin if emulator else None


def fail_cause(origin: str | None) -> str | None:
    emulator = active()
    if emulator is None or origin is None:
        return None
    return emulator._faults.fail.get(origin)


def record(kind: str, id_: str, obj: Any, parent: str | None = None) -> None:
    emulator = active()
    if emulator is not None:
        with emulator._lock:
            emulator.records.append(Record(kind=kind, id=id_, origin=emulator.origin, obj=obj, parent=parent))


def now() -> datetime:
    return datetime.now(timezone.utc)


def plain(value: Any) -> Any:
    """moto's parsed request values (case-insensitive XFormedDicts) as plain data with the API's key names."""
    if hasattr(value, "original_dict"):
        value = value.original_dict()
    if isinstance(value, dict):
        return {key: plain(sub) for key, sub in value.items()}
    if isinstance(value, list):
        return [plain(sub) for sub in value]
    return value


def job_run_class(stock: Any, model: str, first: str, done: str, on_end: Callable[[Any, str], None]) -> Any:
    """moto's job run class made a managed state: ``first -> RUNNING -> done`` (or FAILED with its cause)."""
    from moto.moto_api._internal.managed_state_model import ManagedState

    class EmulatedJobRun(ManagedState, stock):  # type: ignore[misc, valid-type]
        def __init__(self, **kwargs: Any) -> None:
            stock.__init__(self, **kwargs)  # sets moto's fixed state through the setter below
            self.origin = current_origin()
            self.failure_cause = fail_cause(self.origin)
            last = "FAILED" if self.failure_cause else done
            if active() is None:  # plain moto (no emulator running): its fixed state, as before
                fixed = self.__dict__["_status"]
                ManagedState.__init__(self, model, [(fixed, fixed)])
            else:
                ManagedState.__init__(self, model, [(first, "RUNNING"), ("RUNNING", last)])
            self._ended = False

        @property  # type: ignore[override]
        def state(self) -> str:
            current = str(self.status)
            if current in ("FAILED", "CANCELLED", done) and not getattr(self, "_ended", True):
                self._ended = True
                on_end(self, current)
            return current

        @state.setter
        def state(self, value: str) -> None:
            self.status = value

    EmulatedJobRun.__name__ = EmulatedJobRun.__qualname__ = f"Emulated{stock.__name__}"
    return EmulatedJobRun


def lose_responses_of(response_class: Any, actions: tuple[str, ...], error_code: str) -> None:
    """Wrap start calls: with a lose-response fault armed, the call takes effect, then the caller gets an error.

    ``error_code`` is a client error of the service's own model that botocore does
    not retry, so the caller (the Airflow task) fails at once, as when its worker
    dies right after the call.
    """
    from moto.core.exceptions import ServiceException

    class LostResponse(ServiceException):
        code = error_code

    for action in actions:
        stock: Callable[..., Any] = getattr(response_class, action)

        def wrapped(self: Any, _stock: Callable[..., Any] = stock, _action: str = action) -> Any:
            result = _stock(self)
            emulator = active()
            origin = emulator.origin if emulator else None
            if emulator is not None and origin in emulator._faults.lose:
                emulator._faults.lose.discard(origin)
                emulator.lost_responses.append((origin, _action))
                raise LostResponse(
                    f"dagen emulator: the {_action} call of '{origin}' took effect but its response was lost"
                )
            return result

        setattr(response_class, action, wrapped)
