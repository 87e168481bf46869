"""A local run reaches the emulator on loopback and nothing else: the network guard, the connections, fast failures.

The guard (:mod:`generator.local.network_guard`) is checked in this process (an audit hook, idle once the
``with`` block ends) and in a Python subprocess; the connections (:mod:`generator.local.connections`) on
compiled configurations; the emulator's answer to a call moto lacks on a real emulator.  One real
``dagen run --local`` of a pipeline whose operators point away from the emulator shows it end to end: every
socket call of the run is in the guard's record, none leaves loopback, and the tasks that tried fail with
the guard's message.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from generator.local.connections import aws_connection, emulator_environment, named_connections
from generator.local.emulator import LocalAws
from generator.local.network_guard import NetworkGuard, NetworkRefused, is_local_name, is_loopback, verdict
from tests.test_local_run import local_runs, monkeypatch_module  # noqa: F401 - a fixture

PUBLIC_IP = "93.184.215.14"  # example.com's address: never reached (the guard refuses before any packet)


@pytest.fixture(scope="module")
def runs(request: pytest.FixtureRequest, monkeypatch_module: pytest.MonkeyPatch) -> Any:  # noqa: F811
    """``runs(spec, *options)``: one ``dagen run SPEC --local OPTIONS`` per key."""
    return local_runs(request, monkeypatch_module)


def refused(target: str) -> str:
    return f"dagen run --local refused {target}: a local run may only reach the emulator on loopback (127.0.0.1, ::1)"


@pytest.fixture
def listener() -> Any:
    """A TCP server on 127.0.0.1 (its port)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


# ----------------------------------------------------------------------------- the guard, in this process


def test_loopback_and_unix_sockets_are_reached(listener: int, tmp_path: Path) -> None:
    with socket.socket(socket.AF_UNIX) as unix_server:
        unix_server.bind(str(tmp_path / "sock"))
        unix_server.listen()
        with NetworkGuard(origin=lambda: "task_a") as guard:
            socket.create_connection(("127.0.0.1", listener)).close()
            socket.create_connection(("localhost", listener)).close()
            with socket.socket(socket.AF_UNIX) as unix:
                unix.connect(str(tmp_path / "sock"))
    assert guard.snapshot()["refused"] == []
    reached = {(item["call"], item["target"], item["origin"]) for item in guard.snapshot()["allowed"]}
    assert ("connect", f"127.0.0.1:{listener}", "task_a") in reached
    assert ("getaddrinfo", f"localhost:{listener}", "task_a") in reached
    assert ("connect", f"unix:{tmp_path / 'sock'}", "task_a") in reached
    assert all(target.startswith(("127.0.0.1:", "[::1]:", "localhost:", "unix:")) for _, target, _ in reached), reached


def _connect(address: tuple[str, int]) -> None:
    with socket.socket() as sock:
        sock.connect(address)


def _connect_ex(address: tuple[str, int]) -> None:
    with socket.socket() as sock:
        sock.connect_ex(address)  # raises, does not return an errno


def _sendto(address: tuple[str, int]) -> None:
    with socket.socket(type=socket.SOCK_DGRAM) as sock:
        sock.sendto(b"x", address)


def _create_connection(address: tuple[str, int]) -> None:
    socket.create_connection(address, timeout=1).close()


@pytest.mark.parametrize(
    ("attempt", "address", "call"),
    [
        (_connect, (PUBLIC_IP, 443), "connect"),
        (_connect_ex, (PUBLIC_IP, 80), "connect"),
        (_create_connection, (PUBLIC_IP, 443), "getaddrinfo"),  # it resolves even a literal first
        (_sendto, ("10.255.255.53", 53), "sendto"),
        (_connect, ("192.168.1.1", 22), "connect"),
    ],
    ids=["connect", "connect_ex", "create_connection", "sendto", "private address"],
)
def test_a_public_address_is_refused(attempt: Any, address: tuple[str, int], call: str) -> None:
    target = f"{address[0]}:{address[1]}"
    with NetworkGuard(origin=lambda: "task_b") as guard, pytest.raises(NetworkRefused) as error:
        attempt(address)
    assert str(error.value) == refused(target)
    assert isinstance(error.value, ConnectionRefusedError)  # what every client takes for a failed connection
    assert guard.snapshot() == {"allowed": [], "refused": [{"call": call, "target": target, "origin": "task_b"}]}


@pytest.mark.parametrize(
    ("attempt", "call", "target"),
    [
        (lambda: socket.getaddrinfo("example.com", 443), "getaddrinfo", "example.com:443"),
        (lambda: socket.gethostbyname("example.com"), "gethostbyname", "example.com"),
        (lambda: socket.gethostbyname_ex("example.com"), "gethostbyname", "example.com"),
        (lambda: socket.create_connection(("s3.amazonaws.com", 443), timeout=1), "getaddrinfo", "s3.amazonaws.com:443"),
    ],
    ids=["getaddrinfo", "gethostbyname", "gethostbyname_ex", "create_connection"],
)
def test_a_hostname_is_refused_before_it_is_resolved(attempt: Any, call: str, target: str) -> None:
    """The refusal comes before the resolver is asked: no DNS query leaves the machine."""
    with NetworkGuard() as guard, pytest.raises(NetworkRefused) as error:
        attempt()
    assert str(error.value) == refused(target)
    assert guard.snapshot() == {"allowed": [], "refused": [{"call": call, "target": target, "origin": None}]}


def test_a_client_library_fails_with_the_guards_message() -> None:
    with NetworkGuard(), pytest.raises(urllib.error.URLError) as error:
        urllib.request.urlopen("https://example.com/", timeout=1)  # noqa: S310 - a fixed URL
    assert str(error.value.reason) == refused("example.com:443")


def test_an_idle_guard_lets_every_call_through() -> None:
    with NetworkGuard() as guard:
        pass
    assert socket.getaddrinfo(PUBLIC_IP, 443, type=socket.SOCK_STREAM)[0][4] == (PUBLIC_IP, 443)  # a literal: no DNS
    assert guard.snapshot() == {"allowed": [], "refused": []}


def _socket(family: int) -> SimpleNamespace:
    return SimpleNamespace(family=family)


@pytest.mark.parametrize(
    ("event", "args", "expected"),
    [
        ("socket.connect", (_socket(socket.AF_INET), ("127.0.0.1", 80)), ("connect", "127.0.0.1:80", True)),
        ("socket.connect", (_socket(socket.AF_INET), ("127.9.9.9", 80)), ("connect", "127.9.9.9:80", True)),
        ("socket.connect", (_socket(socket.AF_INET6), ("::1", 80, 0, 0)), ("connect", "[::1]:80", True)),
        (
            "socket.connect",
            (_socket(socket.AF_INET6), ("::ffff:127.0.0.1", 80, 0, 0)),
            ("connect", "[::ffff:127.0.0.1]:80", True),
        ),
        (
            "socket.connect",
            (_socket(socket.AF_INET6), ("2606:2800:21f:cb07::1", 443, 0, 0)),
            ("connect", "[2606:2800:21f:cb07::1]:443", False),
        ),
        (
            "socket.connect",
            (_socket(socket.AF_INET6), ("fe80::1%eth0", 443, 0, 2)),
            ("connect", "[fe80::1%eth0]:443", False),
        ),
        ("socket.connect", (_socket(socket.AF_INET), ("0.0.0.0", 80)), ("connect", "0.0.0.0:80", False)),  # noqa: S104
        ("socket.connect", (_socket(socket.AF_INET), ("example.com", 80)), ("connect", "example.com:80", False)),
        ("socket.connect", (_socket(socket.AF_INET), ("api.localhost", 80)), ("connect", "api.localhost:80", True)),
        ("socket.connect", (_socket(socket.AF_UNIX), "/run/x.sock"), ("connect", "unix:/run/x.sock", True)),
        ("socket.connect", (_socket(99), ("eth0", 3)), ("connect", "99 ('eth0', 3)", False)),  # another family
        ("socket.sendmsg", (_socket(socket.AF_INET), None), None),  # a connected socket: its connect was checked
        ("socket.getaddrinfo", ("LOCALHOST.", 80, 0, 0, 0), ("getaddrinfo", "LOCALHOST.:80", True)),
        ("socket.getaddrinfo", (socket.gethostname(), None, 0, 0, 0), ("getaddrinfo", socket.gethostname(), True)),
        ("socket.getaddrinfo", (None, 8080, 0, 0, 0), None),  # a server's wildcard address
        ("socket.getaddrinfo", (b"example.com", b"https", 0, 0, 0), ("getaddrinfo", "example.com:https", False)),
        ("socket.getaddrinfo", ("10.0.0.1", 80, 0, 0, 0), ("getaddrinfo", "10.0.0.1:80", False)),
        ("socket.gethostbyname", ("localhost",), ("gethostbyname", "localhost", True)),
        ("socket.gethostbyaddr", ("93.184.215.14",), None),  # not guarded: a reverse lookup
        ("open", ("/etc/hosts", "r", 0), None),
    ],
)
def test_what_the_guard_allows(event: str, args: tuple[Any, ...], expected: tuple[str, str, bool] | None) -> None:
    assert verdict(event, args) == expected


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.255.0.1", True), ("::1", True), ("128.0.0.1", False), ("localhost", False)],
)
def test_loopback_is_an_address(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_only_one_guard_is_active_at_a_time() -> None:
    with NetworkGuard(), pytest.raises(RuntimeError, match="another network guard is active in this process"):
        NetworkGuard().install()


# ----------------------------------------------------------------------------- the guard, in a task's subprocess


def test_a_python_subprocess_of_the_run_guards_itself_and_keeps_its_own_sitecustomize(tmp_path: Path) -> None:
    hidden = tmp_path / "site"
    hidden.mkdir()
    (hidden / "sitecustomize.py").write_text("import os\nos.environ['HIDDEN_SITECUSTOMIZE'] = 'ran'\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", str(hidden))  # the task's own PYTHONPATH, with a sitecustomize of its own
        env = {**os.environ, **NetworkGuard.subprocess_environment()}
    assert env["PYTHONPATH"].split(os.pathsep)[1:] == [str(hidden)]
    code = textwrap.dedent(
        f"""
        import os, socket
        print(os.environ.get("HIDDEN_SITECUSTOMIZE"))
        socket.create_connection(({PUBLIC_IP!r}, 443), timeout=1)
        """
    )
    done = subprocess.run(  # noqa: S603 - this Python, fixed arguments
        [sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 1
    assert done.stdout == "ran\n"
    assert (
        done.stderr.strip().splitlines()[-1]
        == f"generator.local.network_guard.NetworkRefused: {refused(PUBLIC_IP + ':443')}"
    )


# ----------------------------------------------------------------------------- every connection to the emulator

S3_TO_REDSHIFT = "airflow.providers.amazon.aws.transfers.s3_to_redshift.S3ToRedshiftOperator"


def test_every_connection_the_pipeline_can_name_is_defined() -> None:
    config = {
        "default_args": {"on_failure_callback": {"callback": "notify", "aws_conn_id": "alerts"}},
        "tasks": {
            # redshift_conn_id left to its default, which the Redshift Data API path takes for an AWS connection
            "copy": {"operator": S3_TO_REDSHIFT, "aws_conn_id": "pipeline_aws", "redshift_data_api_kwargs": {}},
            "put": {
                "operator": "airflow.providers.amazon.aws.operators.s3.S3CreateObjectOperator",
                "aws_conn_id": "elsewhere",
            },
            "cluster": {
                "operator": "airflow.providers.amazon.aws.operators.emr.EmrCreateJobFlowOperator",
                "aws_conn_id": "pipeline_aws",
                "emr_conn_id": None,  # as dagen lowers it: no emr_default
            },
            "custom": {
                "operator": "airflow.providers.amazon.aws.operators.emr.EmrCreateJobFlowOperator",
                "emr_conn_id": "emr_x",
            },
            "export_ready": {
                "operator": "airflow.providers.http.sensors.http.HttpSensor",
                "http_conn_id": "orders_api",
            },
        },
    }
    assert named_connections(config, "pipeline_aws") == {
        "pipeline_aws": "aws_conn_id",
        "aws_default": "aws_conn_id",  # also the default of `custom` (no aws_conn_id)
        "alerts": "aws_conn_id",
        "elsewhere": "aws_conn_id",
        "emr_x": "emr_conn_id",
        "orders_api": "http_conn_id",  # the HTTP stand-in's connection replaces it (exported after)
        "redshift_default": "redshift_conn_id",
    }


def test_the_environment_sends_every_client_to_the_emulator_and_fails_fast() -> None:
    aws = SimpleNamespace(endpoint_url="http://127.0.0.1:4566", region="eu-west-1")
    config = {"tasks": {"custom": {"operator": "x.y.Z", "emr_conn_id": "emr_x", "redshift_conn_id": "warehouse"}}}
    env = emulator_environment(aws, config, "aws_default")  # type: ignore[arg-type]
    emulator = {
        "conn_type": "aws",
        "login": "dagen-local",
        "password": "dagen-local",
        "extra": {
            "endpoint_url": "http://127.0.0.1:4566",
            "region_name": "eu-west-1",
            "config_kwargs": {
                "connect_timeout": 5,
                "read_timeout": 30,
                "retries": {"mode": "standard", "total_max_attempts": 2},
            },
        },
    }
    assert aws_connection(aws) == emulator  # type: ignore[arg-type]
    assert {key: json.loads(value) if key.startswith("AIRFLOW_CONN_") else value for key, value in env.items()} == {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
        "AWS_RETRY_MODE": "standard",
        "AWS_MAX_ATTEMPTS": "2",
        "AIRFLOW_CONN_AWS_DEFAULT": emulator,
        "AIRFLOW_CONN_WAREHOUSE": emulator,
        "AIRFLOW_CONN_EMR_X": {"conn_type": "emr"},  # its extra would be merged into RunJobFlow
    }


def test_a_call_moto_lacks_fails_at_once_with_a_clear_error() -> None:
    with LocalAws() as aws:
        with pytest.raises(ClientError) as error:
            aws.client("emr").list_studios()
        with pytest.raises(ClientError) as query_error:
            aws.client("sns").list_origination_numbers()
    for raised, action, snake in (
        (error.value, "ListStudios", "list_studios"),  # a JSON API
        (query_error.value, "ListOriginationNumbers", "list_origination_numbers"),  # a query (XML) API
    ):
        assert (raised.response["Error"]["Code"], raised.response["Error"]["Message"]) == (
            "NotImplemented",
            f"dagen emulator: {action} is not emulated (moto: The {snake} action has not been implemented)",
        )
        assert raised.response["ResponseMetadata"]["HTTPStatusCode"] == 501
        assert raised.response["ResponseMetadata"]["RetryAttempts"] == 0  # botocore never retries a 501


# ----------------------------------------------------------------------------- one run, end to end

CHECKS = """
import urllib.request

import boto3


def fetch_public_page():
    return urllib.request.urlopen("https://example.com/", timeout=5).status


def list_public_buckets():
    return len(boto3.client("s3", endpoint_url="https://s3.amazonaws.com").list_buckets()["Buckets"])
"""
SPEC = """
description: Operators whose connections point away from the emulator, and code that reaches out.
schedule: null
start_date: 2024-01-01
task_defaults:
  retries: 0
tasks:
  named_connection:
    type: operator
    operator: airflow.providers.amazon.aws.operators.s3.S3CreateObjectOperator
    arguments:
      aws_conn_id: elsewhere
      s3_key: s3://dagen-net-guard/named-connection
      data: written through the connection 'elsewhere'
  no_connection:
    type: operator
    operator: airflow.providers.amazon.aws.operators.s3.S3CreateObjectOperator
    arguments:
      aws_conn_id: null
      s3_key: s3://dagen-net-guard/no-connection
      data: written without a connection
  redshift_copy:
    type: operator
    operator: airflow.providers.amazon.aws.transfers.s3_to_redshift.S3ToRedshiftOperator
    arguments:
      redshift_conn_id: warehouse
      s3_bucket: dagen-net-guard
      s3_key: named-connection
      schema: public
      table: events
      redshift_data_api_kwargs:
        {database: dev, cluster_identifier: warehouse, db_user: loader, wait_for_completion: false}
  public_page:
    type: python
    callable: net_guard_checks.fetch_public_page
  public_s3:
    type: python
    callable: net_guard_checks.list_public_buckets
"""


def host_of(target: str) -> str:
    """The host of a ``host:port``, ``[v6]:port`` or ``host`` the guard recorded."""
    return target[1 : target.index("]")] if target.startswith("[") else target.partition(":")[0]


@pytest.fixture(scope="module")
def guarded_run(runs: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:  # noqa: F811 - the imported fixture
    folder = tmp_path_factory.mktemp("net-guard")
    (folder / "net_guard_checks.py").write_text(CHECKS, encoding="utf-8")
    (folder / "net_guard.yaml").write_text(SPEC, encoding="utf-8")
    return runs(str(folder / "net_guard.yaml"))


def test_a_run_whose_operators_point_elsewhere_never_leaves_loopback(guarded_run: Any) -> None:
    report = guarded_run.report
    assert report is not None, guarded_run.output
    emulator = report["endpoint_url"].removeprefix("http://")
    network = report["network"]
    # Every socket call of the run's process went through the guard: it reached loopback only, resolved local
    # names only, and refused the rest.
    for item in network["allowed"]:
        if item["call"] in ("getaddrinfo", "gethostbyname"):
            assert is_local_name(host_of(item["target"])), item
        elif not item["target"].startswith("unix:"):
            assert is_loopback(host_of(item["target"])), item
    assert sorted((item["call"], item["target"], item["origin"]) for item in network["refused"]) == [
        ("getaddrinfo", "example.com:443", "public_page"),
        ("getaddrinfo", "s3.amazonaws.com:443", "public_s3"),
    ]
    # The operators whose connection is named elsewhere, or none, or a Redshift one, called the emulator.
    for task in ("named_connection", "no_connection", "redshift_copy"):
        assert {
            item["target"] for item in network["allowed"] if item["origin"] == task and item["call"] == "connect"
        } == {emulator}, task
    objects = {item["uri"]: item["origin"] for item in report["emulator"]["objects"]}
    assert objects == {
        "s3://dagen-net-guard/named-connection": "named_connection",
        "s3://dagen-net-guard/no-connection": "no_connection",
    }


def test_the_tasks_that_reach_out_fail_with_the_guards_message(guarded_run: Any) -> None:
    assert guarded_run.exit_code == 1
    assert {row["task_id"]: row["state"] for row in guarded_run.report["tasks"]} == {
        "named_connection": "success",
        "no_connection": "success",
        "redshift_copy": "success",
        "public_page": "failed",
        "public_s3": "failed",
    }
    lines = guarded_run.output.splitlines()
    page = lines.index(f"failed: public_page (try 1): URLError: <urlopen error {refused('example.com:443')}>")
    assert lines[page + 1] == f"    cause: {refused('example.com:443')}"
    # botocore hides the error it got under its own; the cause line names the refusal
    s3 = lines.index(
        'failed: public_s3 (try 1): EndpointConnectionError: Could not connect to the endpoint URL: "https://s3.amazonaws.com/"'
    )
    assert lines[s3 + 1] == f"    cause: {refused('s3.amazonaws.com:443')}"
    assert "    network: refused example.com:443 (by public_page)" in lines
    assert "    network: refused s3.amazonaws.com:443 (by public_s3)" in lines
