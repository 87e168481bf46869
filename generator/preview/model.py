"""The stable summary of a built DAG: what ``dagen preview`` shows, in every format.

Everything here is read from the Airflow DAG object that
:func:`generator.compile.build.build_dag` returns -- the very object the loader puts in
MWAA's DAG bag -- not from the spec: task graph, operator classes, trigger
rules, setup/teardown marks, the resolved operator arguments, params, the
schedule and the clusters' RunJobFlow requests.  The spec is consulted only to
say which spec task (and type) each Airflow task came from.

The summary is plain data with no lane-specific details (operator classes are
named by class, not module path; trigger rules and durations are strings), so
its renderings are identical under Airflow 2 and 3 and can be diffed.
"""

from __future__ import annotations

import enum
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from generator.compile.dagfactory_config import materialise
from generator.compile.pipelines import process
from generator.core.diagnostics import Diagnostic, sorted_unique
from generator.core.lowering_context import LowerContext, create_cluster_task_id, terminate_cluster_task_id
from generator.core.model import PipelineSpec
from generator.core.provider_profile import ProviderProfile
from generator.preview.schedule import describe_schedule, next_runs
from generator.spec.normalise import format_duration
from generator.task_types import TASK_TYPES

FORMAT_NAME = "dagen-preview"
FORMAT_VERSION = 1
CLUSTER_CREATE = "cluster create"
CLUSTER_TERMINATE = "cluster terminate"
# Keyword arguments every operator receives that say where it is, not what it does
# (params are shown once, for the DAG).
_PLACEMENT_ARGUMENTS = frozenset({"dag", "task_group", "task_id", "params"})
_EMR_ROLES = {"MASTER": "primary", "CORE": "core", "TASK": "task"}


def plain(value: Any) -> Any:
    """An operator argument as JSON-ready data; templates stay the strings they are."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, timedelta):
        return format_duration(value.total_seconds())
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(key): plain(sub) for key, sub in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(sub) for sub in value]
    if isinstance(value, (set, frozenset)):
        return sorted((plain(sub) for sub in value), key=str)
    # Objects (callables, hooks...) have no stable text; their type is what matters to a reader.
    return f"<{type(value).__name__}>"


@dataclass(frozen=True, kw_only=True)
class TaskPreview:
    task_id: str
    kind: str  # the spec task's type (emr_step, emr_notebook wait...) or cluster create/terminate
    spec_task: str | None  # the spec task it was lowered from (None for cluster tasks)
    cluster: str | None  # the pipeline cluster it runs on or manages
    operator: str  # operator class name
    role: str  # "setup", "teardown" or "task"
    setups: tuple[str, ...]  # a teardown's setup tasks
    fails_run: bool  # a teardown whose failure fails the run (on_failure_fail_dagrun)
    trigger_rule: str
    upstream: tuple[str, ...]
    downstream: tuple[str, ...]
    arguments: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "type": self.kind,
            "spec_task": self.spec_task,
            "cluster": self.cluster,
            "operator": self.operator,
            "role": self.role,
            "setups": list(self.setups),
            "fails_run_on_failure": self.fails_run,
            "trigger_rule": self.trigger_rule,
            "upstream": list(self.upstream),
            "downstream": list(self.downstream),
            "arguments": self.arguments,
        }


@dataclass(frozen=True, kw_only=True)
class ClusterPreview:
    name: str  # the pipeline's key for it
    create_task: str | None  # None for an existing cluster: the pipeline neither creates nor terminates it
    terminate_task: str | None
    existing_cluster_id: str | None
    emr_name: str | None
    release: str | None
    applications: tuple[str, ...]
    instances: tuple[dict[str, Any], ...]
    idle_timeout: int | None  # seconds (AutoTerminationPolicy), None when disabled
    step_concurrency: int | None
    log_uri: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "create_task": self.create_task,
            "terminate_task": self.terminate_task,
            "existing_cluster_id": self.existing_cluster_id,
            "emr_name": self.emr_name,
            "release": self.release,
            "applications": list(self.applications),
            "instances": list(self.instances),
            "idle_timeout_seconds": self.idle_timeout,
            "step_concurrency": self.step_concurrency,
            "log_uri": self.log_uri,
        }


@dataclass(frozen=True, kw_only=True)
class ParamPreview:
    name: str
    default: Any
    schema: dict[str, Any]
    description: str | None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "default": self.default, "schema": self.schema, "description": self.description}


@dataclass(frozen=True, kw_only=True)
class SchedulePreview:
    expression: str | None  # cron or preset as the DAG holds it; None = manual only
    description: str
    timezone: str
    start_date: str | None
    end_date: str | None
    catchup: bool
    next_runs: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "expression": self.expression,
            "description": self.description,
            "timezone": self.timezone,
            "start_date": self.start_date,
            "end_date": self.end_date,
            "catchup": self.catchup,
            "next_runs": list(self.next_runs),
        }


@dataclass(frozen=True, kw_only=True)
class DagPreview:
    dag_id: str
    file: str
    description: str | None
    owner: str
    tags: tuple[str, ...]
    schedule: SchedulePreview
    max_active_runs: int
    max_active_tasks: int
    dagrun_timeout: str | None
    sla: str | None
    paused_on_creation: bool
    params: tuple[ParamPreview, ...]
    clusters: tuple[ClusterPreview, ...]
    tasks: tuple[TaskPreview, ...]  # dependency order, ties in the order the DAG holds them

    def task(self, task_id: str) -> TaskPreview | None:
        return next((task for task in self.tasks if task.task_id == task_id), None)

    @property
    def edges(self) -> list[tuple[str, str]]:
        return [(upstream, task.task_id) for task in self.tasks for upstream in task.upstream]

    def to_json(self) -> dict[str, Any]:
        return {
            "dag_id": self.dag_id,
            "file": self.file,
            "description": self.description,
            "owner": self.owner,
            "tags": list(self.tags),
            "schedule": self.schedule.to_json(),
            "max_active_runs": self.max_active_runs,
            "max_active_tasks": self.max_active_tasks,
            "dagrun_timeout": self.dagrun_timeout,
            "sla": self.sla,
            "paused_on_creation": self.paused_on_creation,
            "params": [param.to_json() for param in self.params],
            "clusters": [cluster.to_json() for cluster in self.clusters],
            "tasks": [task.to_json() for task in self.tasks],
        }


def document(previews: list[DagPreview], now: datetime) -> dict[str, Any]:
    """The ``--format json`` document."""
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "now": now.isoformat(),
        "dags": [preview.to_json() for preview in previews],
    }


def _origins(spec: PipelineSpec, profile: ProviderProfile) -> dict[str, tuple[str, str | None, str | None]]:
    """Airflow task id -> (kind, spec task, cluster), by lowering each spec task as the compiler does."""
    ctx = LowerContext(spec=spec, profile=profile)
    out: dict[str, tuple[str, str | None, str | None]] = {}
    for task in spec.tasks:
        for index, op in enumerate(TASK_TYPES[task.type].lower(task, ctx)):
            kind = task.type if index == 0 else f"{task.type} wait"
            out[ctx.airflow_id(task, op.task_id)] = (kind, task.task_id, task.cluster)
    for cluster in spec.clusters:
        if "existing_cluster_id" in cluster.settings:
            continue
        out[create_cluster_task_id(cluster.name)] = (CLUSTER_CREATE, None, cluster.name)
        out[terminate_cluster_task_id(cluster.name)] = (CLUSTER_TERMINATE, None, cluster.name)
    return out


def _dependency_order(dag: Any) -> list[Any]:
    """Tasks upstream-first; ties keep the DAG's own order (the compiler's), so output is stable."""
    tasks = list(dag.tasks)
    done: dict[str, Any] = {}
    while len(done) < len(tasks):
        ready = next(t for t in tasks if t.task_id not in done and set(t.upstream_task_ids) <= done.keys())
        done[ready.task_id] = ready
    return list(done.values())


def _arguments(task: Any, fallback: dict[str, Any]) -> dict[str, Any]:
    # Airflow records the keyword arguments each operator was constructed with, default_args
    # merged in (BaseOperator's metaclass, in Airflow 2.x and the 3.x Task SDK alike): exactly
    # what the operator received.  The compiled configuration is the fallback should it go.
    recorded = getattr(task, "_BaseOperator__init_kwargs", None)
    source = recorded if isinstance(recorded, dict) else fallback
    return {key: plain(value) for key, value in sorted(source.items()) if key not in _PLACEMENT_ARGUMENTS}


def _trigger_rule(task: Any) -> str:
    return str(getattr(task.trigger_rule, "value", task.trigger_rule))


def _role(task: Any) -> str:
    return "setup" if task.is_setup else "teardown" if task.is_teardown else "task"


def _instances(request: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    instances = request.get("Instances", {})
    out: list[dict[str, Any]] = []
    for group in instances.get("InstanceGroups", []):
        out.append(
            {
                "role": _EMR_ROLES.get(group.get("InstanceRole", ""), group.get("InstanceRole")),
                "instance_type": group.get("InstanceType"),
                "count": group.get("InstanceCount"),
                "market": group.get("Market", "ON_DEMAND"),
            }
        )
    for fleet in instances.get("InstanceFleets", []):
        out.append(
            {
                "role": _EMR_ROLES.get(fleet.get("InstanceFleetType", ""), fleet.get("InstanceFleetType")),
                "instance_types": [item.get("InstanceType") for item in fleet.get("InstanceTypeConfigs", [])],
                "on_demand_capacity": fleet.get("TargetOnDemandCapacity", 0),
                "spot_capacity": fleet.get("TargetSpotCapacity", 0),
            }
        )
    return tuple(out)


def _cluster(name: str, settings: dict[str, Any], dag: Any) -> ClusterPreview:
    if "existing_cluster_id" in settings:
        return ClusterPreview(
            name=name,
            create_task=None,
            terminate_task=None,
            existing_cluster_id=str(settings["existing_cluster_id"]),
            emr_name=None,
            release=None,
            applications=(),
            instances=(),
            idle_timeout=None,
            step_concurrency=None,
            log_uri=None,
        )
    create_id, terminate_id = create_cluster_task_id(name), terminate_cluster_task_id(name)
    request = plain(getattr(dag.get_task(create_id), "job_flow_overrides", None) or {})
    idle = request.get("AutoTerminationPolicy", {}).get("IdleTimeout")
    return ClusterPreview(
        name=name,
        create_task=create_id,
        terminate_task=terminate_id,
        existing_cluster_id=None,
        emr_name=request.get("Name"),
        release=request.get("ReleaseLabel"),
        applications=tuple(app.get("Name") for app in request.get("Applications", [])),
        instances=_instances(request),
        idle_timeout=idle,
        step_concurrency=request.get("StepConcurrencyLevel"),
        log_uri=request.get("LogUri"),
    )


def _schedule_expression(dag: Any) -> str | None:
    # Airflow 3 keeps what it was given as ``schedule``; Airflow 2 as ``schedule_interval``.
    value = dag.schedule if hasattr(dag, "schedule") else dag.schedule_interval
    return value if isinstance(value, str) else None


def _schedule(dag: Any, now: datetime) -> SchedulePreview:
    expression = _schedule_expression(dag)
    timezone = getattr(dag.timezone, "name", None) or str(dag.timezone)
    # Airflow 2 runs cron schedules as data intervals: a run starts when its interval ends.
    data_intervals = "DataInterval" in type(dag.timetable).__name__
    runs = next_runs(
        expression,
        now=now,
        timezone=timezone,
        start_date=dag.start_date,
        end_date=dag.end_date,
        data_intervals=data_intervals,
    )
    return SchedulePreview(
        expression=expression,
        description=describe_schedule(expression),
        timezone=timezone,
        start_date=plain(dag.start_date),
        end_date=plain(dag.end_date),
        catchup=bool(dag.catchup),
        next_runs=tuple(run.isoformat() for run in runs),
    )


def _params(dag: Any) -> tuple[ParamPreview, ...]:
    out = []
    for name in dag.params.keys():
        param = dag.params.get_param(name)
        out.append(
            ParamPreview(
                name=name, default=plain(param.value), schema=plain(param.schema), description=param.description
            )
        )
    return tuple(out)


def describe(
    dag: Any, *, spec: PipelineSpec, config: dict[str, Any], profile: ProviderProfile, now: datetime
) -> DagPreview:
    """The summary of one built DAG (``spec``/``config`` only name each task's origin)."""
    origins = _origins(spec, profile)
    default_args = config.get("default_args", {})
    ordered = _dependency_order(dag)
    position = {task.task_id: index for index, task in enumerate(ordered)}
    tasks = []
    for task in ordered:
        kind, spec_task, cluster = origins.get(task.task_id, ("", None, None))
        compiled = config["tasks"].get(task.task_id, {})
        fallback = materialise(
            {**default_args, **{k: v for k, v in compiled.items() if k not in ("operator", "dependencies")}}
        )
        tasks.append(
            TaskPreview(
                task_id=task.task_id,
                kind=kind,
                spec_task=spec_task,
                cluster=cluster,
                operator=type(task).__name__,
                role=_role(task),
                setups=tuple(sorted(up.task_id for up in task.upstream_list if up.is_setup))
                if task.is_teardown
                else (),
                fails_run=bool(task.is_teardown and getattr(task, "on_failure_fail_dagrun", False)),
                trigger_rule=_trigger_rule(task),
                upstream=tuple(sorted(task.upstream_task_ids, key=position.__getitem__)),
                downstream=tuple(sorted(task.downstream_task_ids, key=position.__getitem__)),
                arguments=_arguments(task, fallback),
            )
        )
    timeout = dag.dagrun_timeout
    return DagPreview(
        dag_id=dag.dag_id,
        file=spec.file,
        description=dag.description,
        owner=dag.owner,
        tags=tuple(sorted(dag.tags)),
        schedule=_schedule(dag, now),
        max_active_runs=dag.max_active_runs,
        max_active_tasks=dag.max_active_tasks,
        dagrun_timeout=format_duration(timeout.total_seconds()) if timeout is not None else None,
        sla=format_duration(spec.sla.total_seconds()) if spec.sla is not None else None,
        paused_on_creation=bool(dag.is_paused_upon_creation),
        params=_params(dag),
        clusters=tuple(_cluster(cluster.name, cluster.settings, dag) for cluster in spec.clusters),
        tasks=tuple(tasks),
    )


@dataclass
class PreviewRun:
    """What previewing some spec files gave: a summary per valid spec, or the diagnostics."""

    previews: list[DagPreview]
    diagnostics: list[Diagnostic]
    files: int
    invalid: dict[str, str]  # DAG id -> file, for the specs that did not build


@contextmanager
def _quiet_deprecations() -> Iterator[None]:
    """Silence Airflow's and dag-factory's own deprecation notices while importing and building.

    Airflow 3 logs warnings to stdout, where they would corrupt ``--format json``
    or an SVG; they are about Airflow's internals, never about the spec.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=PendingDeprecationWarning)
        warnings.filterwarnings("ignore", message=r"The `airflow\..*` attribute is deprecated", category=FutureWarning)
        warnings.filterwarnings("ignore", message=r"section/key \[.*\] has been deprecated", category=FutureWarning)
        yield


def preview_paths(paths: list[Path], *, now: datetime, root: Path | None = None) -> PreviewRun:
    """Process and build the specs exactly as the DAG loader does, then summarise each DAG.

    Same calls as :func:`generator.loader.airflow_loader.load_pipelines`: the installed
    provider's profile, the installed Airflow major, the same build.
    """
    with _quiet_deprecations():
        from generator.compile.build import airflow_major
        from generator.core.provider_profile import installed_profile
        from generator.loader.airflow_loader import build_or_diagnose

        profile = installed_profile()
        major = airflow_major()
    results = process(paths, profile=profile, airflow_major=major, root=root)
    previews: list[DagPreview] = []
    for result in results:
        if not result.ok:
            continue
        assert result.config is not None and result.spec is not None
        with _quiet_deprecations():
            dag = build_or_diagnose(result)  # the loader's own build, so a failure reads the same
        if dag is None:
            continue
        previews.append(describe(dag, spec=result.spec, config=result.config, profile=profile, now=now))
    diagnostics = sorted_unique(d for result in results for d in result.diagnostics)
    invalid = {result.dag_id: result.file for result in results if result.diagnostics}
    return PreviewRun(previews=previews, diagnostics=diagnostics, files=len(results), invalid=invalid)
