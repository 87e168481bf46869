"""Phase 3, normalise: a merged, valid spec -> frozen :class:`PipelineSpec` with defaults applied."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from generator.core.model import ClusterSpec, GroupSpec, ParamSpec, PipelineSpec, TaskSpec
from generator.core.value_formats import seconds
from generator.resources.kinds import kind_of
from generator.spec.cleanups import cleanup_work
from generator.spec.schema import COMMON_TASK_PROPERTIES

DEFAULT_POLL_INTERVAL = 30
DEFAULT_TIMEOUT = 6 * 3600
DEFAULT_MAX_ITEMS = 256


def format_duration(total: float) -> str:
    """Seconds in dagen's own duration syntax: 300 -> "5m", 5400 -> "1h30m", 0 -> "0s"."""
    remaining = int(total)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        amount, remaining = divmod(remaining, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts) or "0s"


def _timedelta(value: int | str | None) -> timedelta | None:
    return None if value is None else timedelta(seconds=seconds(value))


def _datetime(text: str | None, tz_name: str | None) -> datetime | None:
    if text is None:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T"))
    if moment.tzinfo is None:
        if tz_name and tz_name != "UTC":
            import zoneinfo

            return moment.replace(tzinfo=zoneinfo.ZoneInfo(tz_name))
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)  # the same instant: Airflow takes a zone, not a bare offset


_DEFAULT_ARG_KEYS = ("retries", "retry_exponential_backoff", "email", "email_on_failure", "email_on_retry")
_DEFAULT_ARG_DURATIONS = ("retry_delay", "max_retry_delay", "execution_timeout")


def _default_args(spec: dict[str, Any]) -> dict[str, Any]:
    task_defaults = spec.get("task_defaults", {})
    out: dict[str, Any] = {"owner": spec.get("owner", "airflow")}
    out.update({key: task_defaults[key] for key in _DEFAULT_ARG_KEYS if key in task_defaults})
    out.update({key: _timedelta(task_defaults[key]) for key in _DEFAULT_ARG_DURATIONS if key in task_defaults})
    return out


def _task(
    task_id: str,
    raw: dict[str, Any],
    task_defaults: dict[str, Any],
    fan_out: tuple[str, Any] | None,
    work: list[str],
) -> TaskSpec:
    common = {"type", "cluster", *COMMON_TASK_PROPERTIES}
    for_each = raw.get("for_each")
    mapped: dict[str, Any] = for_each if isinstance(for_each, dict) else {}
    return TaskSpec(
        task_id=task_id,
        type=raw["type"],
        settings={key: value for key, value in raw.items() if key not in common},
        depends_on=(*raw.get("depends_on", ()), *work),  # a cleanup also waits for all of its work
        cluster=raw.get("cluster"),
        description=raw.get("description"),
        retries=raw.get("retries"),
        retry_delay=_timedelta(raw.get("retry_delay")),
        execution_timeout=_timedelta(raw.get("execution_timeout")),
        poll_interval=seconds(raw.get("poll_interval", task_defaults.get("poll_interval", DEFAULT_POLL_INTERVAL))),
        timeout=seconds(raw.get("timeout", task_defaults.get("timeout", DEFAULT_TIMEOUT))),
        group=raw.get("group"),
        outlets=tuple(raw.get("outlets", ())),
        run_if=raw.get("run_if"),
        trigger_rule=raw.get("trigger_rule", "all_done" if raw.get("cleans_up") else None),
        cleans_up=tuple(raw.get("cleans_up", ())),
        fan_out=fan_out[0] if fan_out else None,
        item=fan_out[1] if fan_out else None,
        map_over=mapped.get("output_of"),
        max_items=mapped.get("max_items", DEFAULT_MAX_ITEMS),
        if_empty=mapped.get("if_empty", "skip"),
    )


def normalise(
    spec: dict[str, Any], *, dag_id: str, file: str, fan_outs: dict[str, tuple[str, Any]] | None = None
) -> PipelineSpec:
    """``fan_outs``: each member of a static fan-out (already expanded in ``spec``) -> its task's id and item."""
    fan_outs = fan_outs or {}
    work = cleanup_work(spec)
    task_defaults = spec.get("task_defaults", {})
    tz_name = spec.get("timezone")
    schedule = spec.get("schedule")
    aws = spec.get("aws", {})
    return PipelineSpec(
        dag_id=spec.get("dag_id", dag_id),
        file=file,
        tasks=tuple(
            _task(task_id, raw, task_defaults, fan_outs.get(task_id), work.get(task_id, []))
            for task_id, raw in spec["tasks"].items()
        ),
        clusters=tuple(
            ClusterSpec(name=name, settings={k: v for k, v in raw.items() if k != "kind"}, kind=kind_of(raw))
            for name, raw in spec.get("clusters", {}).items()
        ),
        params=tuple(
            ParamSpec(
                name=name,
                default=raw["default"],
                description=raw.get("description"),
                schema={key: value for key, value in raw.items() if key not in ("default", "description")},
            )
            for name, raw in spec.get("params", {}).items()
        ),
        description=spec.get("description"),
        owner=spec.get("owner", "airflow"),
        tags=tuple(spec.get("tags", ())),
        schedule=schedule if isinstance(schedule, str) or schedule is None else None,
        schedule_assets=tuple(schedule["assets"]) if isinstance(schedule, dict) else (),
        schedule_assets_when=schedule.get("when", "all") if isinstance(schedule, dict) else "all",
        groups=tuple(
            GroupSpec(name=name, description=raw.get("description")) for name, raw in spec.get("groups", {}).items()
        ),
        notifications=dict(spec.get("notifications", {})),
        start_date=_datetime(spec.get("start_date"), tz_name),
        end_date=_datetime(spec.get("end_date"), tz_name),
        catchup=spec.get("catchup", False),
        # Airflow refuses @continuous with more than one active run, and its default is 16
        max_active_runs=spec.get("max_active_runs", 1 if schedule == "@continuous" else None),
        max_active_tasks=spec.get("max_active_tasks"),
        dagrun_timeout=_timedelta(spec.get("dagrun_timeout")),
        sla=_timedelta(spec.get("sla")),
        default_args=_default_args(spec),
        aws_conn_id=aws.get("conn_id", "aws_default"),
        region=aws.get("region"),
        doc_md=spec.get("doc_md"),
    )
