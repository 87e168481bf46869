"""The tasks section of a preview: each Airflow task of the DAG, where it came from and what it received.

Tasks are read from the built DAG (graph, operator class, trigger rule,
setup/teardown marks, the arguments the operator was constructed with); the
spec is lowered again only to say which spec task (and type) or pipeline
cluster each one came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from generator.compile.dagfactory_config import materialise
from generator.core.lowering_context import LowerContext, create_cluster_task_id, terminate_cluster_task_id
from generator.core.model import PipelineSpec
from generator.core.provider_profile import ProviderProfile
from generator.preview.values import plain
from generator.resources.emr_cluster import CREATE_RETRY, TERMINATE_RETRY
from generator.task_types import TASK_TYPES

CLUSTER_CREATE = "cluster create"
CLUSTER_TERMINATE = "cluster terminate"
# Keyword arguments every operator receives that say where it is, not what it does
# (params are shown once, for the DAG).
_PLACEMENT_ARGUMENTS = frozenset({"dag", "task_group", "task_id", "params"})


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
        }


Origin = tuple[str, str | None, str | None, str | None]  # kind, spec task, cluster, retry


def _origins(spec: PipelineSpec, profile: ProviderProfile) -> dict[str, Origin]:
    """Airflow task id -> (kind, spec task, cluster, retry), by lowering each spec task as the compiler does."""
    ctx = LowerContext(spec=spec, profile=profile)
    out: dict[str, Origin] = {}
    for task in spec.tasks:
        module = TASK_TYPES[task.type]
        lowered = module.lower(task, ctx)
        for index, op in enumerate(lowered):
            kind = task.type if index == 0 else f"{task.type} wait"
            retry = getattr(module, "RETRY", None) if index == len(lowered) - 1 else None
            out[ctx.airflow_id(task, op.task_id)] = (kind, task.task_id, task.cluster, retry)
    for cluster in spec.clusters:
        if "existing_cluster_id" in cluster.settings:
            continue
        out[create_cluster_task_id(cluster.name)] = (CLUSTER_CREATE, None, cluster.name, CREATE_RETRY)
        out[terminate_cluster_task_id(cluster.name)] = (CLUSTER_TERMINATE, None, cluster.name, TERMINATE_RETRY)
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
        kind, spec_task, cluster, retry = origins.get(task.task_id, ("", None, None, None))
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
                retry=retry,
            )
        )
    return tuple(tasks)
