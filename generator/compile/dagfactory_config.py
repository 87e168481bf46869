"""Phase 4b: the lowered pipeline as a dag-factory configuration (the intermediate form).

The configuration is plain data plus :class:`Constructed` markers for the few
Python objects a DAG needs (``timedelta``, ``Param``).  The loader turns the
markers into objects and hands the dict to dag-factory; ``dagen compile``
renders them as dag-factory's ``__type__`` YAML, so the output is a file
dag-factory itself can load.  User data never reaches ``__type__`` (the loader
rejects every key dag-factory gives a meaning, DG105; rendering refuses one
that got through), only values the compiler made.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import yaml

from generator.compile.constructed import ASSET_CLASSES, PARAM_CLASSES, SLA_CLASSES, Constructed
from generator.core.model import LoweredPipeline, PipelineSpec
from generator.spec.load import is_reserved_key
from generator.spec.normalise import format_duration


def _duration(value: timedelta) -> Constructed:
    return Constructed("datetime.timedelta", kwargs={"seconds": int(value.total_seconds())})


def _plain(value: Any) -> Any:
    if isinstance(value, timedelta):
        return _duration(value)
    if isinstance(value, dict):
        return {key: _plain(sub) for key, sub in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(sub) for sub in value]
    return value


def param_class_path(airflow_major: int) -> str:
    return PARAM_CLASSES[min(airflow_major, 3)]


def _asset_schedule(uris: tuple[str, ...], when: str, airflow_major: int) -> Constructed:
    """All (or any) of the assets, as the Airflow object of the lane (a plain list would not do on 2.x)."""
    asset, combine = ASSET_CLASSES[min(airflow_major, 3)]
    return Constructed(combine[when], args=tuple(Constructed(asset, args=(uri,)) for uri in uris))


# spec event -> (where the callback goes, its Airflow name)
NOTIFICATION_EVENTS = {
    "on_task_failure": ("default_args", "on_failure_callback"),
    "on_task_retry": ("default_args", "on_retry_callback"),
    "on_run_failure": ("dag", "on_failure_callback"),
    "on_run_success": ("dag", "on_success_callback"),
}


def _notifier(spec: PipelineSpec, event: str, **extra: Any) -> dict[str, Any]:
    """dag-factory's callback form: the notifier class by dotted path and its arguments (plain data)."""
    return {
        "callback": "generator.compile.notifications.PipelineNotifier",
        "event": event,
        "targets": spec.notifications[event],
        "aws_conn_id": spec.aws_conn_id,
        **extra,
    }


def _notification_callbacks(spec: PipelineSpec) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for event in spec.notifications:
        if event not in NOTIFICATION_EVENTS:
            continue  # on_sla_miss: see _sla
        where, name = NOTIFICATION_EVENTS[event]
        callback = _notifier(spec, event)
        if where == "dag":
            out[name] = callback
        else:
            out.setdefault("default_args", {})[name] = callback
    return out


def _sla(spec: PipelineSpec, airflow_major: int) -> dict[str, Any]:
    """``sla`` in each Airflow's terms, told to the ``on_sla_miss`` targets.

    Both count from the run's logical date.  Airflow 3: a Deadline Alert, whose callback runs in the
    triggerer; dag-factory does not pass ``deadline`` on, so the loader sets it after building
    (``dagen_deadline``).  Airflow 2: every task's ``sla`` and the DAG's ``sla_miss_callback``.
    """
    if spec.sla is None:
        return {}
    sla = format_duration(spec.sla.total_seconds())
    if airflow_major >= 3:
        callback = Constructed(
            SLA_CLASSES["callback"],
            args=("generator.compile.notifications.notify_sla_miss",),
            kwargs={
                "kwargs": {"targets": spec.notifications["on_sla_miss"], "aws_conn_id": spec.aws_conn_id, "sla": sla}
            },
        )
        alert = Constructed(
            SLA_CLASSES["alert"],
            kwargs={
                "reference": Constructed(SLA_CLASSES["reference"]),
                "interval": _duration(spec.sla),
                "callback": callback,
                "name": "sla",
            },
        )
        return {"dagen_deadline": alert}
    return {"default_args": {"sla": _duration(spec.sla)}, "sla_miss_callback": _notifier(spec, "on_sla_miss", sla=sla)}


def _default_args(spec: PipelineSpec) -> dict[str, Any]:
    """The spec's task defaults as Airflow's ``default_args``.

    Airflow's ``email_on_retry`` defaults to true: ``email`` alone would mail every retry as well as the
    failure (3 emails for one task with 2 retries).  Unless the spec sets it, a spec with ``email`` is
    mailed only when a task fails for good.
    """
    default_args = _plain(spec.default_args)
    if "email" in default_args:
        default_args.setdefault("email_on_retry", False)
    return default_args


def _doc(spec: PipelineSpec) -> str:
    parts = [spec.description or "", spec.doc_md or "", f"_Generated by dagen from `{spec.file}`._"]
    return "\n\n".join(part for part in parts if part)


def to_dagfactory_config(lowered: LoweredPipeline, *, airflow_major: int) -> dict[str, Any]:
    """The dag-factory configuration of one DAG (the value under its DAG id)."""
    spec = lowered.spec
    config: dict[str, Any] = {
        "default_args": _default_args(spec),
        "description": spec.description,
        "doc_md": _doc(spec),
        # dag-factory reads the string "none" as "no schedule" on both Airflow majors
        "schedule": spec.schedule if spec.schedule is not None else "none",
        "catchup": spec.catchup,
        "tags": list(spec.tags),
        "is_paused_upon_creation": True,
    }
    if spec.start_date is not None:
        config["start_date"] = spec.start_date.isoformat()
        config["timezone"] = str(spec.start_date.tzinfo or "UTC")
    if spec.end_date is not None:
        config["end_date"] = spec.end_date.isoformat()
    for key in ("max_active_runs", "max_active_tasks"):
        if getattr(spec, key) is not None:
            config[key] = getattr(spec, key)
    if spec.dagrun_timeout is not None:
        config["dagrun_timeout"] = _duration(spec.dagrun_timeout)
    if spec.params:
        param = param_class_path(airflow_major)
        config["params"] = {
            p.name: Constructed(
                param,
                args=(p.default,),
                kwargs={**({"description": p.description} if p.description else {}), **p.schema},
            )
            for p in spec.params
        }
    if spec.schedule_assets:
        config["schedule"] = _asset_schedule(spec.schedule_assets, spec.schedule_assets_when, airflow_major)
    for callbacks in (_notification_callbacks(spec), _sla(spec, airflow_major)):
        config["default_args"].update(callbacks.pop("default_args", {}))
        config.update(callbacks)
    if spec.groups:
        config["task_groups"] = {
            group.name: {"tooltip": group.description} if group.description else {} for group in spec.groups
        }
    config["tasks"] = {
        task.task_id: {
            "operator": task.operator,
            **_plain(task.kwargs),
            "dependencies": list(task.upstream),
            **({"task_group_name": task.group} if task.group else {}),
        }
        for task in lowered.tasks
    }
    # Not a dag-factory key (it ignores unknown DAG keys): the loader applies it after building.
    config["dagen_teardowns"] = {teardown.task_id: list(teardown.setups) for teardown in lowered.teardowns}
    return config


def airflow_task_id(task_id: str, task: dict[str, Any]) -> str:
    """The id Airflow gives a configured task: a task of a group is ``GROUP.TASK``."""
    group = task.get("task_group_name")
    return f"{group}.{task_id}" if group else task_id


def _typed(value: Any) -> Any:
    if isinstance(value, Constructed):
        out: dict[str, Any] = {"__type__": value.path}
        if value.args:
            out["__args__"] = [_typed(arg) for arg in value.args]
        out.update({key: _typed(sub) for key, sub in value.kwargs.items()})
        return out
    if isinstance(value, dict):
        reserved = [key for key in value if is_reserved_key(key)]
        if reserved:  # the loader refuses them (DG105); a marker here could only be user data
            raise ValueError(f"key {reserved[0]!r} in a configuration: only the compiler writes dag-factory markers")
        return {key: _typed(sub) for key, sub in value.items()}
    if isinstance(value, list):
        return [_typed(sub) for sub in value]
    return value


def to_dagfactory_yaml(configs: dict[str, dict[str, Any]]) -> str:
    """dag-factory YAML for DAG id -> configuration (loadable by ``dagfactory.load_yaml_dags``)."""
    return yaml.safe_dump(_typed(configs), sort_keys=False, allow_unicode=True, width=120)
