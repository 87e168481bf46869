"""The emulator itself: moto's server on 127.0.0.1, with every service module's behaviours installed.

:func:`install` patches moto once per process (each service module's ``install``); :class:`LocalAws`
starts the server, makes itself the running emulator those patches consult, and holds what they
record (:meth:`LocalAws.snapshot`), who is calling and the faults to inject.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

from generator.local.emulator import (
    athena,
    emr,
    emr_containers,
    emr_serverless,
    glue,
    glue_data_quality,
    lambda_,
    redshift_data,
    sns_s3,
    stepfunctions,
    unsupported,
)
from generator.local.emulator.shared import (
    ACCOUNT_ID,
    DEFAULT_REGION,
    DUMMY_KEY,
    LOSE_ONLY,
    RESOURCE_KINDS,
    RESPONSE_MODES,
    Faults,
    Record,
    ResourceFault,
    active,
    set_active,
)
from generator.local.emulator.snapshot import snapshot_of

_INSTALL_LOCK = threading.Lock()
_INSTALLED = False


def install() -> None:
    """Patch moto in this process (idempotent).

    Without an active emulator (:class:`LocalAws` started) the behaviours the service modules add stay off,
    except that EMR steps progress and the EMR notebook and Glue crawler-metrics actions stock moto lacks answer.
    """
    global _INSTALLED
    with _INSTALL_LOCK:
        if _INSTALLED:
            return
        emr.install()
        glue.install()
        glue_data_quality.install()
        stepfunctions.install()
        emr_serverless.install()
        emr_containers.install()
        athena.install()
        lambda_.install()
        redshift_data.install()
        sns_s3.install()
        unsupported.install()
        _INSTALLED = True


class LocalAws:
    """moto's server on 127.0.0.1 with the service modules' behaviours; use as a context manager."""

    def __init__(self, region: str = DEFAULT_REGION, port: int = 0) -> None:
        self.region = region
        self.port = port  # 0: any free port
        self.origin: str | None = None
        self.editors: set[str] = set()
        self.provided: dict[str, str] = {}  # s3:// URI -> the task it was put for
        self.records: list[Record] = []
        self.lost_responses: list[tuple[str | None, str]] = []
        self._faults = Faults()
        self._lock = threading.Lock()
        self._server: Any = None
        self._clients: dict[str, Any] = {}
        self._saved_moto_port: str | None = None
        self.endpoint_url = ""

    # lifecycle
    def start(self) -> LocalAws:
        from moto.moto_api import state_manager
        from moto.moto_api._internal.models import moto_api_backend
        from moto.server import ThreadedMotoServer

        if active() is not None:
            raise RuntimeError("another local AWS emulator is running in this process")
        install()
        moto_api_backend.reset()  # moto's backends are process-global: start empty
        # Lambda without Docker: moto then serves every Lambda call from its "simple" backend
        # (moto.awslambda_simple), whose invoke answers with the event instead of running the code.
        moto_api_backend.set_config({"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}})
        state_manager.set_transition("glue::crawl", {"progression": "immediate"})
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        server.start()
        self._server = server
        host, port = server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        # moto's state machine interpreter calls Glue through this port.
        self._saved_moto_port = os.environ.get("MOTO_PORT")
        os.environ["MOTO_PORT"] = str(port)
        set_active(self)
        return self

    def stop(self) -> None:
        from moto.moto_api import state_manager
        from moto.moto_api._internal.models import moto_api_backend

        if self._server is None:
            return
        try:
            self._server.stop()
        finally:
            self._server = None
            self._clients.clear()
            set_active(None)
            state_manager.unset_transition("glue::crawl")
            moto_api_backend.set_config(
                {"stepfunctions": {"execute_state_machine": False}, "lambda": {"use_docker": True}}
            )
            if self._saved_moto_port is None:
                os.environ.pop("MOTO_PORT", None)
            else:
                os.environ["MOTO_PORT"] = self._saved_moto_port

    def __enter__(self) -> LocalAws:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    # clients
    def client(self, service: str, region: str | None = None) -> Any:
        """A boto3 client for the emulator, with dummy credentials (never the user's); the run's region by default."""
        import boto3

        key = f"{service}@{region or self.region}"
        if key not in self._clients:  # making a client costs ~0.2 s: one per service and region
            self._clients[key] = boto3.session.Session(
                aws_access_key_id=DUMMY_KEY, aws_secret_access_key=DUMMY_KEY, region_name=region or self.region
            ).client(service, endpoint_url=self.endpoint_url)
        return self._clients[key]

    # attribution and faults
    def attribute_to(self, origin: str | None) -> None:
        """Calls from now on are made by ``origin`` (the runner passes the Airflow task id)."""
        self.origin = origin

    def fail(self, origin: str, cause: str) -> None:
        """Everything ``origin`` starts (step, notebook execution, Glue or EMR job run, execution, Athena query,
        Lambda invocation) ends FAILED with ``cause``.  A fault on a task (``load_file``) applies to each member
        of it when it is mapped (the origins ``load_file[0]``, ``load_file[1]``...); one on ``load_file[1]`` to
        that member alone."""
        self._faults.fail[origin] = cause

    def lose_first_response(self, origin: str) -> None:
        """The next start call of ``origin`` takes effect, but the caller gets an error instead of the answer
        (on a mapped task: the first start call of any of its members)."""
        self._faults.lose.add(origin)

    def fault_on(self, kind: str, name: str, mode: str, cause: str = "") -> None:
        """A fault by resource (``RESOURCE_KINDS``): ``fail`` ends every start of its work FAILED with ``cause``,
        ``fail-once`` only the first, ``lose`` makes the first start call take effect but lose its response,
        ``slow`` makes it answer late."""
        if (
            kind not in RESOURCE_KINDS
            or mode not in ("fail", "fail-once", *RESPONSE_MODES)
            or (mode not in RESPONSE_MODES and kind in LOSE_ONLY)
        ):
            raise ValueError(f"no fault {mode} on {kind}")
        self._faults.by_resource.append(ResourceFault(kind=kind, name=name, mode=mode, cause=cause))

    def register_editor(self, editor_id: str) -> None:
        """An EMR Studio workspace (editor) notebook executions may name."""
        self.editors.add(editor_id)

    def records_of(self, kind: str) -> Iterator[Record]:
        return (record for record in self.records if record.kind == kind)

    def provide_object(self, bucket: str, key: str, *, for_task: str, size: int = 0) -> str:
        """Put an object (``size`` bytes, empty by default) that ``for_task`` waits for; recorded as made by the
        run, not by a task.  An object already there (a task of the run made it) is left as it is."""
        uri = f"s3://{bucket}/{key}"
        if uri in self.provided:  # the task started again (a reschedule, a resumed deferral, a retry)
            return uri
        s3 = self.client("s3")
        try:
            s3.head_bucket(Bucket=bucket)
        except s3.exceptions.ClientError:
            kwargs: dict[str, Any] = {"Bucket": bucket}
            if self.region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
            s3.create_bucket(**kwargs)
        else:
            try:  # an object a task of the run already made is the one to see, never replaced
                s3.head_object(Bucket=bucket, Key=key)
                return uri
            except s3.exceptions.ClientError:
                pass
        origin, self.origin = self.origin, None
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=b"0" * size)
        finally:
            self.origin = origin
        self.provided[uri] = for_task
        return uri

    def rename(self, kind: str, current: str, wanted: str) -> None:
        """Give a resource made for the run the id a spec names literally (moto draws random ids)."""
        if kind == "cluster":
            from moto.emr.models import emr_backends

            table: dict[str, Any] = emr_backends[ACCOUNT_ID][self.region].clusters
        elif kind == "application":
            from moto.emrserverless.models import emrserverless_backends

            table = emrserverless_backends[ACCOUNT_ID][self.region].applications
        elif kind == "virtual_cluster":
            from moto.emrcontainers.models import emrcontainers_backends

            table = emrcontainers_backends[ACCOUNT_ID][self.region].virtual_clusters
        else:
            raise ValueError(f"cannot rename a {kind}")
        resource = table.pop(current)
        resource.id = wanted
        if isinstance(vars(resource).get("arn"), str):  # an attribute, not a property computed from the id
            resource.arn = resource.arn.replace(current, wanted)
        table[wanted] = resource
        for record in self.records:
            if record.id == current:
                record.id = wanted

    # what happened
    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        """Every resource the run created, its final state and who created it (plain data)."""
        return snapshot_of(self)
