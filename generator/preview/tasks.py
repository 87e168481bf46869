"""The tasks section of a preview: each Airflow task of the DAG, where it came from and what it received.

Tasks are read from the built DAG (graph, operator class, trigger rule,
setup/teardown marks, the arguments the operator was constructed with); the
spec is lowered again, as the compiler lowers it (the task's type, then its
control flow), only to say which spec task (and type) or pipeline cluster each
one came from, and what control flow it carries: the condition a ``run_if``
check tests, a branch's paths, the fan-out a task is a member of, what a
mapped task is mapped over.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from generator.compile.constructed import materialise
from generator.compile.control_flow import around, for_lowering
from generator.core.conditions import condition_text, map_items_task_id, run_if_task_id
from generator.core.lowering_context import LowerContext, create_cluster_task_id, terminate_cluster_task_id
from generator.core.model import PipelineSpec, TaskSpec
from generator.core.provider_profile import ProviderProfile
from generator.preview.values import plain
from generator.resources.emr_cluster import CREATE_RETRY, TERMINATE_RETRY
from generator.resources.kinds import OTHER_KINDS, teardown_task_id
from generator.task_types import TASK_TYPES

CLUSTER_CREATE = "cluster create"
CLUSTER_TERMINATE = "cluster terminate"
CLUSTER_DELETE = "cluster delete"
RUN_IF_CHECK = "run_if check"  # run_if_<task>: skips the task when its run_if does not hold
MAP_ITEMS = "map items"  # <task>_items: the items a mapped task is mapped over
# Keyword arguments every operator receives that say where it is, not what it does
# (params are shown once, for the DAG).
_PLACEMENT_ARGUMENTS = frozenset({"dag", "task_group", "task_id", "params"})


@dataclass(frozen=True, kw_only=True)
class BranchPreview:
    """A branch's choice: each path (the spec task that starts it) and its condition, as one line each."""

    paths: dict[str, str]
    otherwise: tuple[str, ...] = ()  # the paths taken when no condition holds (none: every path is skipped)

    def to_json(self) -> dict[str, Any]:
        return {"paths": dict(self.paths), "otherwise": list(self.otherwise)}


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
    retry: str | None = None  # what a retry of the task does, when its type says (its module's RETRY)
    condition: str | None = None  # a run_if check: what it tests (condition_text)
    branch: BranchPreview | None = None  # a branch task: its paths
    fan_out: str | None = None  # a member of a static for_each: the spec task it was expanded from
    item: str | None = None  # ... and its item: the value, or a matrix's fields (category=Books, region=eu)
    mapped_over: str | None = None  # a mapped task: the spec task whose output it is mapped over
    max_items: int | None = None  # ... the most items it may be mapped over
    if_empty: str | None = None  # ... and what no item does: "skip" the task (and what needs it) or "fail"
    cleanup: bool = False  # a teardown with no setups: a last task with trigger_rule all_done
    group: str | None = None  # the task group it is in (drawn as a box; its id already starts with GROUP.)

    @property
    def mapped(self) -> bool:
        return self.mapped_over is not None

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
            "retry": self.retry,
            "condition": self.condition,
            "branch": self.branch.to_json() if self.branch is not None else None,
            "fan_out": self.fan_out,
            "item": self.item,
            "mapped_over": self.mapped_over,
            "max_items": self.max_items,
            "if_empty": self.if_empty,
            "cleanup": self.cleanup,
        }


@dataclass(frozen=True, kw_only=True)
class Origin:
    """Where an Airflow task came from: what the lowering says of it (the built DAG says the rest)."""

    kind: str = ""
    spec_task: str | None = None
    cluster: str | None = None
    retry: str | None = None
    flow: dict[str, Any] = field(default_factory=dict)  # TaskPreview's control-flow fields it has


def _branch(task: TaskSpec) -> BranchPreview:
    paths = {path: condition_text(condition) for path, condition in task.settings["paths"].items()}
    return BranchPreview(paths=paths, otherwise=tuple(task.settings.get("otherwise", ())))


def _task_origins(task: TaskSpec, ctx: LowerContext) -> dict[str, Origin]:
    """The Airflow tasks of one spec task: its type's, then the check and items task its control flow adds."""
    module = TASK_TYPES[task.type]
    lowered = module.lower(for_lowering(task), ctx)
    ops = around(task, lowered, ctx)
    member: dict[str, Any] = {"fan_out": task.fan_out, "item": _item_text(task.item)} if task.fan_out else {}
    out: dict[str, Origin] = {}
    for index, op in enumerate(ops):
        flow: dict[str, Any] = dict(member)
        cluster = task.cluster
        if task.run_if is not None and op.task_id == run_if_task_id(task.task_id):
            kind, cluster = RUN_IF_CHECK, None
            flow["condition"] = condition_text(task.run_if)
        elif task.map_over is not None and op.task_id == map_items_task_id(task.task_id):
            kind, cluster = MAP_ITEMS, None
        else:
            kind = task.type if op.task_id == lowered[0].task_id else f"{task.type} wait"
            if task.type == "branch":
                flow["branch"] = _branch(task)
        last = index == len(ops) - 1
        if last and task.map_over is not None:
            flow.update(mapped_over=task.map_over, max_items=task.max_items, if_empty=task.if_empty)
        retry = getattr(module, "RETRY", None) if last else None
        out[ctx.airflow_id(task, op.task_id)] = Origin(
            kind=kind, spec_task=task.task_id, cluster=cluster, retry=retry, flow=flow
        )
    return out


def _item_text(item: Any) -> str:
    """A fan-out member's item in one line: ``Books``, or ``category=Books, region=eu`` for a matrix."""
    if isinstance(item, dict):
        return ", ".join(f"{field}={value}" for field, value in item.items())
    return str(item)


def _origins(spec: PipelineSpec, profile: ProviderProfile) -> dict[str, Origin]:
    """Airflow task id -> its origin, by lowering each spec task as the compiler does."""
    ctx = LowerContext(spec=spec, profile=profile)
    out: dict[str, Origin] = {}
    for task in spec.tasks:
        out.update(_task_origins(task, ctx))
    for cluster in spec.clusters:
        if "existing_cluster_id" in cluster.settings:
            continue
        name = cluster.name
        if cluster.kind in OTHER_KINDS:
            module = OTHER_KINDS[cluster.kind]
            out[create_cluster_task_id(name)] = Origin(kind=CLUSTER_CREATE, cluster=name, retry=module.CREATE_RETRY)
            delete = Origin(kind=CLUSTER_DELETE, cluster=name, retry=module.DELETE_RETRY)
            out[teardown_task_id(name, cluster.kind)] = delete
            continue
        out[create_cluster_task_id(name)] = Origin(kind=CLUSTER_CREATE, cluster=name, retry=CREATE_RETRY)
        out[terminate_cluster_task_id(name)] = Origin(kind=CLUSTER_TERMINATE, cluster=name, retry=TERMINATE_RETRY)
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


def task_previews(
    dag: Any, *, spec: PipelineSpec, config: dict[str, Any], profile: ProviderProfile
) -> tuple[TaskPreview, ...]:
    """The DAG's tasks in dependency order (``spec``/``config`` only name each task's origin)."""
    origins = _origins(spec, profile)
    default_args = config.get("default_args", {})
    ordered = _dependency_order(dag)
    position = {task.task_id: index for index, task in enumerate(ordered)}
    tasks = []
    for task in ordered:
        origin = origins.get(task.task_id, Origin())
        setups = tuple(sorted(up.task_id for up in task.upstream_list if up.is_setup)) if task.is_teardown else ()
        compiled = config["tasks"].get(task.task_id, {})
        fallback = materialise(
            {**default_args, **{k: v for k, v in compiled.items() if k not in ("operator", "dependencies")}}
        )
        tasks.append(
            TaskPreview(
                task_id=task.task_id,
                kind=origin.kind,
                spec_task=origin.spec_task,
                cluster=origin.cluster,
                operator=type(task).__name__,
                role=_role(task),
                setups=setups,
                fails_run=bool(task.is_teardown and getattr(task, "on_failure_fail_dagrun", False)),
                trigger_rule=_trigger_rule(task),
                upstream=tuple(sorted(task.upstream_task_ids, key=position.__getitem__)),
                downstream=tuple(sorted(task.downstream_task_ids, key=position.__getitem__)),
                arguments=_arguments(task, fallback),
                retry=origin.retry,
                cleanup=bool(task.is_teardown and not setups),
                group=getattr(task.task_group, "group_id", None),
                **origin.flow,
            )
        )
    return tuple(tasks)
