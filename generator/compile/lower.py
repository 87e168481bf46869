"""Phase 4, lower: :class:`PipelineSpec` -> operator tasks, edges and the cluster lifecycle.

Each task type lowers its own tasks (see :mod:`generator.task_types`); this
module wires them:

* a task that depends on another waits for that task's *exit* (its ``_wait``
  sensor when it has one);
* each cluster gets ``create_<cluster>`` before its first tasks and
  ``terminate_<cluster>`` after its last, a setup/teardown pair: the teardown
  runs even when a step failed, and the run is still marked failed;
* ``create_<cluster>`` waits for the upstream tasks that all of the cluster's
  first tasks share, so a cluster is not paid for while it cannot be used;
* ``StepConcurrencyLevel`` is the widest set of the cluster's steps that the
  graph lets run at once;
* the pair is retry-safe (:mod:`generator.runtime.emr_cluster`, named here by
  path only): each cluster is tagged ``dagen:dag-id``, ``dagen:cluster`` and
  ``dagen:run-id`` (the schema reserves the ``dagen:`` prefix), a retried
  ``create_<cluster>`` adopts the live cluster of its run carrying them instead
  of starting another, and ``terminate_<cluster>`` terminates every live cluster
  of the run carrying them, besides the one ``create_<cluster>`` returned;
* an entry of another ``kind`` (an EMR Serverless application, an EMR on EKS virtual cluster, a
  Redshift cluster: :mod:`generator.resources.kinds`) is wired the same way, its module building the pair
  (``create_<name>`` and ``delete_<name>``), its tasks getting its id from the create task's XCom.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from typing import Any

from generator.compile.control_flow import around, cleanup_setups, cleanups, follow_lists, for_lowering, join_rules
from generator.core.conditions import run_if_task_id
from generator.core.lowering_context import LowerContext, create_cluster_task_id, terminate_cluster_task_id
from generator.core.model import LoweredPipeline, OperatorTask, PipelineSpec, TaskSpec, Teardown
from generator.core.provider_profile import ProviderProfile
from generator.core.templating import json_with_templates, xcom_pull
from generator.core.value_formats import seconds
from generator.resources.emr_cluster import run_job_flow_request
from generator.resources.kinds import OTHER_KINDS, teardown_task_id
from generator.task_types import TASK_TYPES

CREATE_OPERATOR = "generator.runtime.emr_cluster.RetrySafeEmrCreateJobFlowOperator"
TERMINATE_OPERATOR = "generator.runtime.emr_cluster.RetrySafeEmrTerminateJobFlowOperator"
CLUSTER_START_TIMEOUT = 3600
TERMINATE_RETRIES = 3


def expanded_dependencies(spec: PipelineSpec) -> dict[str, list[str]]:
    """Each task's upstream tasks, a group in ``depends_on`` standing for its last tasks."""
    members: dict[str, list[str]] = defaultdict(list)
    for task in spec.tasks:
        if task.group:
            members[task.group].append(task.task_id)
    last_of_group = {
        group: [
            task_id
            for task_id in ids
            if not any(task_id in spec.task(other).depends_on for other in ids if other != task_id)
        ]
        for group, ids in members.items()
    }
    return {
        task.task_id: list(dict.fromkeys(d for dep in task.depends_on for d in last_of_group.get(dep, [dep])))
        for task in spec.tasks
    }


def _ancestors(spec: PipelineSpec, dependencies: dict[str, list[str]]) -> dict[str, set[str]]:
    """Every task's transitive upstream tasks (O(n^2); iterative: a chain of 1000 tasks is 1000 deep)."""
    memo: dict[str, set[str]] = {}
    for task in spec.tasks:
        stack = [task.task_id]
        while stack:
            task_id = stack[-1]
            waiting = [parent for parent in dependencies[task_id] if parent not in memo]
            if waiting:
                stack.extend(waiting)  # the graph is acyclic (validated): this ends
                continue
            stack.pop()
            memo[task_id] = {found for parent in dependencies[task_id] for found in (parent, *memo[parent])}
    return memo


def widest_parallel_set(members: list[str], ancestors: dict[str, set[str]]) -> int:
    """Size of the largest set of ``members`` no two of which are ordered (Dilworth: n - max matching)."""
    match: dict[str, str] = {}

    def augment(task: str, seen: set[str]) -> bool:
        for later in members:
            if task in ancestors[later] and later not in seen:
                seen.add(later)
                if later not in match or augment(match[later], seen):
                    match[later] = task
                    return True
        return False

    matched = sum(1 for task in members if augment(task, set()))
    return max(1, len(members) - matched)


def _common_kwargs(task: TaskSpec) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if task.retries is not None:
        out["retries"] = task.retries
    if task.retry_delay is not None:
        out["retry_delay"] = task.retry_delay
    if task.execution_timeout is not None:
        out["execution_timeout"] = task.execution_timeout
    if task.description:
        out["doc_md"] = task.description
    return out


def lower(spec: PipelineSpec, profile: ProviderProfile) -> LoweredPipeline:
    ctx = LowerContext(spec=spec, profile=profile)
    dependencies = expanded_dependencies(spec)
    ancestors = _ancestors(spec, dependencies)
    branches = {task.task_id for task in spec.tasks if task.type == "branch"}
    tasks: dict[str, OperatorTask] = {}
    upstream: dict[str, list[str]] = defaultdict(list)
    entry: dict[str, str] = {}
    exit_: dict[str, str] = {}

    for task in spec.tasks:
        lowered = around(task, TASK_TYPES[task.type].lower(for_lowering(task), ctx), ctx)
        common = _common_kwargs(task)
        for index, op in enumerate(lowered):
            kwargs = {**op.kwargs, **common}
            if index == 0 and task.trigger_rule not in (None, "all_success"):
                kwargs["trigger_rule"] = task.trigger_rule
            if task.outlets and index == len(lowered) - 1:
                kwargs["outlets"] = list(task.outlets)  # the data is there when the last task of the work ends
            tasks[op.task_id] = OperatorTask(task_id=op.task_id, operator=op.operator, kwargs=kwargs, group=task.group)
            if index:
                upstream[op.task_id].append(lowered[index - 1].task_id)
        entry[task.task_id], exit_[task.task_id] = lowered[0].task_id, lowered[-1].task_id

    on_cluster: dict[str, list[TaskSpec]] = defaultdict(list)
    for task in spec.tasks:
        if task.cluster is not None:
            on_cluster[task.cluster].append(task)

    # Plain dependencies: the entry of a task waits for the exit of each task it depends on.
    direct: dict[str, list[str]] = {task_id: list(deps) for task_id, deps in dependencies.items()}

    teardowns = []
    for cluster in spec.clusters:
        if "existing_cluster_id" in cluster.settings:
            continue  # a running cluster: the pipeline neither creates nor terminates it
        members = on_cluster[cluster.name]
        member_ids = {task.task_id for task in members}
        firsts = [task for task in members if not set(dependencies[task.task_id]) & member_ids]
        shared_external = set.intersection(*(set(dependencies[task.task_id]) - member_ids for task in firsts))
        create_id = create_cluster_task_id(cluster.name)
        terminate_id = teardown_task_id(cluster.name, cluster.kind)
        if cluster.kind in OTHER_KINDS:
            # another kind of managed resource (an EMR Serverless application...): its module builds the pair
            poll = min(task.poll_interval for task in members)
            identity = {"dagen:dag-id": spec.dag_id, "dagen:cluster": cluster.name, "dagen:run-id": "{{ run_id }}"}
            module = OTHER_KINDS[cluster.kind]
            create, delete = module.lifecycle(
                cluster.name, cluster.settings, identity=identity, poll=poll, aws=ctx.aws(), seconds=seconds
            )
            tasks[create_id] = OperatorTask(task_id=create_id, operator=module.CREATE_OPERATOR, kwargs=create)
            delete = {module.ID_KWARG: xcom_pull(create_id), **delete, "retries": TERMINATE_RETRIES}
            tasks[terminate_id] = OperatorTask(task_id=terminate_id, operator=module.DELETE_OPERATOR, kwargs=delete)
        else:
            _emr_pair(tasks, ctx, cluster.settings, cluster.name, members, ancestors)

        upstream[create_id].extend(exit_[dep] for dep in sorted(shared_external))
        if len(firsts) == 1 and firsts[0].run_if is not None:  # a skipped first task starts no cluster
            upstream[create_id].append(run_if_task_id(firsts[0].task_id))
        for task in firsts:
            # a branch keeps its edge: it must be able to skip the task itself
            direct[task.task_id] = [d for d in direct[task.task_id] if d not in shared_external or d in branches]
            upstream[entry[task.task_id]].append(create_id)
        lasts = [task for task in members if not any(task.task_id in dependencies[other.task_id] for other in members)]
        upstream[terminate_id].extend(exit_[task.task_id] for task in lasts)
        teardowns.append(Teardown(task_id=terminate_id, setups=(create_id,)))

    for task_id, deps in direct.items():
        upstream[entry[task_id]].extend(exit_[dep] for dep in deps)
    for cleanup in cleanups(spec, dependencies):
        setups = cleanup_setups(cleanup, exit_, ctx)
        teardowns.append(Teardown(task_id=ctx.airflow_id(cleanup, entry[cleanup.task_id]), setups=setups))

    wired = {
        task_id: OperatorTask(
            task_id=task_id,
            operator=op.operator,
            kwargs=op.kwargs,
            upstream=tuple(dict.fromkeys(upstream[task_id])),
            group=op.group,
        )
        for task_id, op in tasks.items()
    }
    for branch_id, paths in follow_lists(spec, wired, entry, ctx).items():
        branch = wired[entry[branch_id]]
        wired[branch.task_id] = dataclasses.replace(
            branch, kwargs={**branch.kwargs, "op_args": [json_with_templates(paths)]}
        )
    ordered = _topological(wired)
    fixed = {op.task_id for op in ordered if "trigger_rule" in op.kwargs}
    fixed |= {teardown.task_id.rpartition(".")[2] for teardown in teardowns}
    joins = join_rules(ordered, {entry[branch] for branch in branches}, fixed)
    ordered = tuple(
        dataclasses.replace(op, kwargs={**op.kwargs, "trigger_rule": joins[op.task_id]}) if op.task_id in joins else op
        for op in ordered
    )
    return LoweredPipeline(spec=spec, tasks=ordered, teardowns=tuple(teardowns))


def _emr_pair(
    tasks: dict[str, OperatorTask],
    ctx: LowerContext,
    settings: dict[str, Any],
    name: str,
    members: list[TaskSpec],
    ancestors: dict[str, set[str]],
) -> None:
    """``create_<name>`` and ``terminate_<name>`` of an EMR cluster."""
    spec = ctx.spec
    create_id, terminate_id = create_cluster_task_id(name), terminate_cluster_task_id(name)
    steps = [task.task_id for task in members if task.type == "emr_step"]
    identity = {"dagen:dag-id": spec.dag_id, "dagen:cluster": name, "dagen:run-id": "{{ run_id }}"}
    request = run_job_flow_request(
        cluster=settings,
        default_name=f"{spec.dag_id}-{name}",
        step_concurrency=widest_parallel_set(steps, ancestors) if steps else 1,
        tags=identity,
        seconds=seconds,
    )
    poll = min(task.poll_interval for task in members)
    tasks[create_id] = OperatorTask(
        task_id=create_id,
        operator=CREATE_OPERATOR,
        kwargs={
            **ctx.aws(),
            "emr_conn_id": None,  # never merge an `emr_default` connection's extra into the request
            "job_flow_overrides": request,
            "wait_for_completion": True,
            "deferrable": True,
            "waiter_delay": poll,
            "waiter_max_attempts": max(1, CLUSTER_START_TIMEOUT // poll),
            "doc_md": f"Create EMR cluster `{name}` and wait until it is ready.",
        },
    )
    tasks[terminate_id] = OperatorTask(
        task_id=terminate_id,
        operator=TERMINATE_OPERATOR,
        kwargs={
            **ctx.aws(),
            "job_flow_id": xcom_pull(create_id),
            "cluster_name": request["Name"],  # with the tags: how the run's clusters are found
            "cluster_tags": dict(identity),
            "deferrable": True,
            "waiter_delay": poll,
            "waiter_max_attempts": max(1, CLUSTER_START_TIMEOUT // poll),
            "retries": TERMINATE_RETRIES,
            "doc_md": f"Terminate EMR cluster `{name}`; runs even when its tasks failed.",
        },
    )


def _topological(tasks: dict[str, OperatorTask]) -> tuple[OperatorTask, ...]:
    """Tasks in dependency order, ties kept in definition order (stable output for reading and diffs)."""
    done: dict[str, OperatorTask] = {}
    while len(done) < len(tasks):
        for task_id, task in tasks.items():
            if task_id not in done and all(parent in done for parent in task.upstream):
                done[task_id] = task
                break
    return tuple(done.values())
