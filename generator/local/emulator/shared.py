"""What the emulator's service modules share: the account, the running emulator, records and faults.

Each service module (``emr``, ``glue``, ``stepfunctions``, ...) patches moto through these helpers:
who is calling (:func:`current_origin`), whether that origin's work must fail (:func:`fail_cause`),
what a call created (:func:`record`), and start calls whose response is lost (:func:`lose_responses_of`).
:mod:`generator.local.emulator.server` makes a :class:`~generator.local.emulator.server.LocalAws` the
running one (:func:`set_active`) while it runs; without one, the patched moto behaves as stock moto
except where a service module says otherwise.
"""

from __future__ import annotations

import re
import time
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


# What a fault by resource names: KIND -> what NAME is, for the work (or call) KIND names.
RESOURCE_KINDS = {
    "step": "an EMR step, by its name",
    "cluster": "an EMR cluster (RunJobFlow), by its name",
    "execution": "a Step Functions execution, by its state machine's name",
    "notebook": "an EMR notebook execution, by the notebook's path in the workspace",
    "glue_job": "a Glue job run, by the job's name",
    "crawler": "a Glue crawler run, by the crawler's name",
    "serverless_job": "an EMR Serverless job run, by its name",
    "eks_job": "an EMR on EKS job run, by its name",
    "query": "an Athena query, by its workgroup",
    "lambda": "a Lambda invocation, by the function's name",
}
Resource = tuple[str, str]  # (kind, name)
# Kinds whose start call can lose (or delay) its response but whose work cannot be made to fail.
LOSE_ONLY = ("cluster", "crawler")
RESPONSE_MODES = ("lose", "slow")  # faults on a start call's response, which every kind has
SLOW_RESPONSE_SECONDS = 5.0  # how long a ``slow`` fault holds the first start call's response


@dataclass
class ResourceFault:
    """A fault on the work a resource starts: ``fail`` (every start), ``fail-once`` (the first), ``lose``
    (the first start call's response) or ``slow`` (the first start call answers SLOW_RESPONSE_SECONDS late)."""

    kind: str
    name: str
    mode: str
    cause: str
    hits: int = 0

    def applies(self, resources: list[Resource], modes: tuple[str, ...]) -> bool:
        if self.mode not in modes or (self.kind, self.name) not in resources:
            return False
        if self.mode != "fail" and self.hits:
            return False
        self.hits += 1
        return True


@dataclass
class Faults:
    fail: dict[str, str] = field(default_factory=dict)  # origin -> cause
    lose: set[str] = field(default_factory=set)  # origins whose next start response is lost
    by_resource: list[ResourceFault] = field(default_factory=list)


class EmulatedFault(Exception):
    """The error a caller gets when the emulator loses a response on purpose."""


_ACTIVE: LocalAws | None = None  # the running emulator (set_active); None: plain moto


def active() -> LocalAws | None:
    return _ACTIVE


def set_active(emulator: LocalAws | None) -> None:
    """Make ``emulator`` the one the patched moto consults (``None``: none runs)."""
    global _ACTIVE
    _ACTIVE = emulator


_MEMBER = re.compile(r"(?P<task>[^\[\]]+)\[(?P<index>[0-9]+)\]")


def member_id(task_id: str, map_index: int | None) -> str:
    """How a task instance is named to the emulator and in the report: ``TASK``, or ``TASK[INDEX]`` for a member
    of a mapped task (as Airflow shows it)."""
    return f"{task_id}[{map_index}]" if map_index is not None and map_index >= 0 else task_id


def split_member(name: str) -> tuple[str, int | None] | None:
    """``TASK`` -> (TASK, None), ``TASK[INDEX]`` -> (TASK, INDEX); None for anything else with brackets."""
    if "[" not in name and "]" not in name:
        return name, None
    member = _MEMBER.fullmatch(name)
    return (member["task"], int(member["index"])) if member else None


def origin_names(origin: str | None) -> tuple[str, ...]:
    """The names a fault by origin may use for ``origin``: itself and, for a member of a mapped task
    (``load_file[1]``, as the runner names it), the task (``load_file``), whose faults apply to every member."""
    if origin is None:
        return ()
    parts = split_member(origin)
    return (origin, parts[0]) if parts is not None and parts[1] is not None else (origin,)


def current_origin() -> str | None:
    emulator = active()
    return emulator.origin if emulator else None


def fail_cause(origin: str | None, resource: Resource | None = None) -> str | None:
    """Why the work ``origin`` starts now (on ``resource``) must fail, if it must: a fault by origin, else one
    by resource (a ``fail-once`` fault counts this start)."""
    emulator = active()
    if emulator is None:
        return None
    for name in origin_names(origin):
        if name in emulator._faults.fail:
            return emulator._faults.fail[name]
    with emulator._lock:
        for fault in emulator._faults.by_resource:
            if resource is not None and fault.applies([resource], ("fail", "fail-once")):
                return fault.cause
    return None


def _lose_now(emulator: LocalAws, origin: str | None, resources: list[Resource]) -> str | None:
    """Who loses this call's response (consumed): the calling origin, or the resource a fault names."""
    for name in origin_names(origin):
        if name in emulator._faults.lose:
            emulator._faults.lose.discard(name)
            return origin
    with emulator._lock:
        for fault in emulator._faults.by_resource:
            if fault.applies(resources, ("lose",)):
                return f"{fault.kind}:{fault.name}"
    return None


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


def job_run_class(stock: Any, model: str, first: str, done: str, on_end: Callable[[Any, str], None], kind: str) -> Any:
    """moto's job run class made a managed state: ``first -> RUNNING -> done`` (or FAILED with its cause)."""
    from moto.moto_api._internal.managed_state_model import ManagedState

    class EmulatedJobRun(ManagedState, stock):  # type: ignore[misc, valid-type]
        def __init__(self, **kwargs: Any) -> None:
            stock.__init__(self, **kwargs)  # sets moto's fixed state through the setter below
            self.origin = current_origin()
            self.failure_cause = fail_cause(self.origin, (kind, str(kwargs.get("name") or "")))
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


def _slow_now(emulator: LocalAws, resources: list[Resource]) -> bool:
    """Whether this call's response is held back (consumed: the first start of the resource a fault names)."""
    with emulator._lock:
        return any(fault.applies(resources, ("slow",)) for fault in emulator._faults.by_resource)


def lose_responses_of(
    response_class: Any,
    actions: tuple[str, ...],
    error_code: str,
    resources: Callable[[Any, str], list[Resource]] = lambda response, action: [],
) -> None:
    """Wrap start calls: with a lose-response fault armed, the call takes effect, then the caller gets an error;
    with a slow-response fault, it takes effect and the caller gets its answer SLOW_RESPONSE_SECONDS later
    (the worker is busy in the call meanwhile: a window to kill it in, with its work started).

    ``error_code`` is a client error of the service's own model that botocore does
    not retry, so the caller (the Airflow task) fails at once, as when its worker
    dies right after the call.  ``resources(response, action)`` names what the call
    starts, for faults by resource.
    """
    from moto.core.exceptions import ServiceException

    class LostResponse(ServiceException):
        code = error_code

    for action in actions:
        stock: Callable[..., Any] = getattr(response_class, action)

        def wrapped(self: Any, _stock: Callable[..., Any] = stock, _action: str = action) -> Any:
            result = _stock(self)
            emulator = active()
            loser = _lose_now(emulator, emulator.origin, resources(self, _action)) if emulator else None
            if emulator is not None and loser is not None:
                emulator.lost_responses.append((loser, _action))
                raise LostResponse(
                    f"dagen emulator: the {_action} call of '{loser}' took effect but its response was lost"
                )
            if emulator is not None and _slow_now(emulator, resources(self, _action)):
                time.sleep(SLOW_RESPONSE_SECONDS)  # outside the emulator's lock: other calls are answered
            return result

        setattr(response_class, action, wrapped)
