"""Where the AWS clients of a ``dagen run --local`` go: the emulator, whichever way a client is made.

* ``AWS_ENDPOINT_URL``: every boto3/botocore client made without an explicit endpoint (a hook
  whose connection is not defined, ``aws_conn_id: null``, a ``python`` task's own ``boto3.client``)
  calls the emulator.
* Every Airflow connection the pipeline can name is defined (``AIRFLOW_CONN_<ID>``) as the
  emulator: the pipeline's ``aws.conn_id``, ``aws_default``, each ``*conn_id`` value in the
  compiled configuration (``aws_conn_id: elsewhere``, ``redshift_conn_id``...), and each
  ``*conn_id`` parameter an operator takes from its default when the task does not set it
  (``S3ToRedshiftOperator``'s ``redshift_conn_id="redshift_default"``, which its Redshift Data API
  path uses as an AWS connection).  An ``emr_conn_id`` is an empty ``emr`` connection instead: its
  extra would be merged into the RunJobFlow request.  A connection has no host, so a hook that is
  not an AWS one reaches nothing through it.
* Calls fail fast: two attempts at most (``AWS_MAX_ATTEMPTS``, standard retry mode, for every
  client; ``config_kwargs`` of the connections), a 5 s connect and a 30 s read timeout (connections).

The HTTP and SMTP stand-ins' connections (:mod:`generator.local.endpoints`) are exported after
these and win.
"""

from __future__ import annotations

import importlib
import inspect
import json
from collections.abc import Iterator
from typing import Any

from generator.local.emulator import DUMMY_KEY, LocalAws

MAX_ATTEMPTS = 2
CONNECT_TIMEOUT = 5
READ_TIMEOUT = 30
DEFAULT_CONN_ID = "aws_default"
_EMR_KEY = "emr_conn_id"


def _named(value: Any) -> Iterator[tuple[str, str]]:
    """(key, conn id) for every ``*conn_id`` key holding a text anywhere in a compiled configuration."""
    if isinstance(value, dict):
        for key, sub in value.items():
            if isinstance(key, str) and key.endswith("conn_id") and isinstance(sub, str) and sub:
                yield key, sub
            else:
                yield from _named(sub)
    elif isinstance(value, list):
        for sub in value:
            yield from _named(sub)


def operator_defaults(path: str) -> dict[str, str]:
    """The ``*conn_id`` parameters of the operator class at ``path`` that have a text default."""
    module_name, _, name = path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError):
        return {}  # building the DAG reports it
    found: dict[str, str] = {}
    for klass in getattr(cls, "__mro__", ()):
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        for parameter in inspect.signature(init).parameters.values():
            if parameter.name.endswith("conn_id") and isinstance(parameter.default, str) and parameter.default:
                found.setdefault(parameter.name, parameter.default)
    return found


def named_connections(config: dict[str, Any], conn_id: str) -> dict[str, str]:
    """Conn id -> the key that names it (``emr_conn_id`` wins), for every connection the run can use."""
    named = [("aws_conn_id", conn_id), ("aws_conn_id", DEFAULT_CONN_ID), *_named(config)]
    for task in (config.get("tasks") or {}).values():
        if isinstance(task.get("operator"), str):
            named.extend(
                (key, default) for key, default in operator_defaults(task["operator"]).items() if key not in task
            )
    out: dict[str, str] = {}
    for key, name in named:
        if out.get(name) != _EMR_KEY:
            out[name] = key
    return out


def aws_connection(aws: LocalAws) -> dict[str, Any]:
    """An AWS connection to the emulator, with dummy keys and fast failures."""
    return {
        "conn_type": "aws",
        "login": DUMMY_KEY,
        "password": DUMMY_KEY,
        "extra": {
            "endpoint_url": aws.endpoint_url,
            "region_name": aws.region,
            "config_kwargs": {
                "connect_timeout": CONNECT_TIMEOUT,
                "read_timeout": READ_TIMEOUT,
                "retries": {"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
            },
        },
    }


def emulator_environment(aws: LocalAws, config: dict[str, Any], conn_id: str) -> dict[str, str]:
    """The environment variables that send every AWS client and connection of the run to the emulator."""
    aws_conn = json.dumps(aws_connection(aws))
    env = {"AWS_ENDPOINT_URL": aws.endpoint_url, "AWS_RETRY_MODE": "standard", "AWS_MAX_ATTEMPTS": str(MAX_ATTEMPTS)}
    for name, key in sorted(named_connections(config, conn_id).items()):
        env[f"AIRFLOW_CONN_{name.upper()}"] = json.dumps({"conn_type": "emr"}) if key == _EMR_KEY else aws_conn
    return env
