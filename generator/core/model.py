"""Normalised, frozen models: what a valid spec means, with every default applied.

Produced by :mod:`generator.spec.normalise`, consumed by :mod:`generator.compile.lower`.
Type-specific task settings stay a plain mapping (``settings``) validated by
the task type's schema fragment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True, kw_only=True)
class TaskSpec:
    task_id: str
    type: str
    settings: dict[str, Any]
    depends_on: tuple[str, ...] = ()
    cluster: str | None = None
    description: str | None = None
    retries: int | None = None
    retry_delay: timedelta | None = None
    execution_timeout: timedelta | None = None
    poll_interval: int = 30
    timeout: int = 6 * 3600
    group: str | None = None
    outlets: tuple[str, ...] = ()
    run_if: Any = None  # a condition (generator.core.conditions), checked when the run gets there
    trigger_rule: str | None = None  # as the spec sets it (the lowering chooses the join default)
    cleans_up: tuple[str, ...] = ()  # the setups of a cleanup: it is built as their teardown
    fan_out: str | None = None  # the task with `for_each` this task is a member of
    item: Any = None  # ... and its item: a value, or a matrix's {field: value}
    map_over: str | None = None  # the upstream task whose output the task is mapped over at run time
    max_items: int = 256
    if_empty: str = "skip"  # or "fail": what an empty list does to a mapped task


@dataclass(frozen=True, kw_only=True)
class GroupSpec:
    name: str
    description: str | None = None


@dataclass(frozen=True, kw_only=True)
class ClusterSpec:
    name: str
    settings: dict[str, Any]
    kind: str = "emr"  # what it is (generator.resources.kinds); not in settings


@dataclass(frozen=True, kw_only=True)
class ParamSpec:
    name: str
    default: Any
    description: str | None = None
    schema: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class PipelineSpec:
    dag_id: str
    file: str
    tasks: tuple[TaskSpec, ...]
    clusters: tuple[ClusterSpec, ...] = ()
    params: tuple[ParamSpec, ...] = ()
    description: str | None = None
    owner: str = "airflow"
    tags: tuple[str, ...] = ()
    schedule: str | None = None
    schedule_assets: tuple[str, ...] = ()
    schedule_assets_when: str = "all"
    groups: tuple[GroupSpec, ...] = ()
    notifications: dict[str, Any] = field(default_factory=dict)
    start_date: datetime | None = None
    end_date: datetime | None = None
    catchup: bool = False
    max_active_runs: int | None = None
    max_active_tasks: int | None = None
    dagrun_timeout: timedelta | None = None
    sla: timedelta | None = None
    default_args: dict[str, Any] = field(default_factory=dict)
    aws_conn_id: str = "aws_default"
    region: str | None = None
    doc_md: str | None = None

    def task(self, task_id: str) -> TaskSpec:
        return next(task for task in self.tasks if task.task_id == task_id)


@dataclass(frozen=True, kw_only=True)
class OperatorTask:
    """One Airflow task to build: an operator by dotted path and its keyword arguments."""

    task_id: str
    operator: str
    kwargs: dict[str, Any]
    upstream: tuple[str, ...] = ()
    group: str | None = None


@dataclass(frozen=True, kw_only=True)
class Teardown:
    """A teardown task and the setup tasks it belongs to (the cluster lifecycle)."""

    task_id: str
    setups: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class LoweredPipeline:
    """The pipeline as operator tasks: the input of the dag-factory configuration."""

    spec: PipelineSpec
    tasks: tuple[OperatorTask, ...]
    teardowns: tuple[Teardown, ...]
