"""Phase 2b, validate: rules across fields that JSON Schema cannot express.

Runs on a merged, schema-valid spec: references and cycles in the task graph,
ids the generator will add, unused clusters, dates, Jinja syntax and the
params and variables templates read, and each task type's own ``check``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jinja2
from jinja2 import meta, nodes

from generator.core.conditions import map_items_task_id, run_if_task_id
from generator.core.diagnostics import Diagnostic
from generator.core.lowering_context import create_cluster_task_id, terminate_cluster_task_id
from generator.core.spec_values import did_you_mean, strings
from generator.core.value_formats import is_templated
from generator.resources.emr_cluster_schema import check_cluster
from generator.resources.kinds import DEFAULT_KIND, check_other_kind, check_runs_on, kind_of, teardown_task_id
from generator.spec.airflow_rules import AIRFLOW_RULES
from generator.spec.control_flow_checks import control_flow_diagnostics
from generator.task_types import TASK_TYPES

At = Callable[..., dict[str, Any]]

# Names Airflow puts in the template context (3.x, plus those 2.10 still has).
TEMPLATE_CONTEXT = frozenset(
    """conn dag dag_run data_interval_end data_interval_start ds ds_nodash expanded_ti_count inlet_events inlets
    logical_date macros map_index_template outlet_events outlets params prev_data_interval_end_success
    prev_data_interval_start_success prev_end_date_success prev_start_date_success run_id start_date task
    task_instance task_instance_key_str test_mode ti triggering_asset_events ts ts_nodash ts_nodash_with_tz var
    conf execution_date next_ds next_ds_nodash next_execution_date prev_ds prev_ds_nodash prev_execution_date
    prev_execution_date_success templates_dict tomorrow_ds tomorrow_ds_nodash triggering_dataset_events
    yesterday_ds yesterday_ds_nodash""".split()
)
# Free text that Airflow never renders.
_NOT_TEMPLATED_KEYS = frozenset({"description", "doc_md"})


@lru_cache(maxsize=1)
def _jinja() -> jinja2.Environment:
    return jinja2.Environment()  # noqa: S701 - only parses templates; Airflow renders them


def _params_read(tree: nodes.Template) -> Iterator[str]:
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        if isinstance(node.node, nodes.Name) and node.node.name == "params":
            if isinstance(node, nodes.Getattr):
                yield node.attr
            elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                yield node.arg.value


@dataclass(frozen=True)
class _TemplateFacts:
    """What one template string says about itself, independent of the spec it is in."""

    syntax_error: str | None
    unknown_names: tuple[str, ...]
    params_read: tuple[str, ...]


MAX_TEMPLATE_NESTING = 50


def _nesting(text: str) -> int:
    depth = deepest = 0
    for character in text:
        if character in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif character in ")]}":
            depth = max(0, depth - 1)
    return deepest


@lru_cache(maxsize=4096)
def _template_facts(text: str) -> _TemplateFacts:
    # Specs repeat the same templates ({{ ds }}, {{ params.bucket }}...): each distinct string is parsed once.
    if _nesting(text) > MAX_TEMPLATE_NESTING:  # Jinja's parser recurses once per bracket
        return _TemplateFacts(
            syntax_error=f"brackets are nested more than {MAX_TEMPLATE_NESTING} deep", unknown_names=(), params_read=()
        )
    try:
        tree = _jinja().parse(text)
    except jinja2.TemplateSyntaxError as error:
        return _TemplateFacts(syntax_error=error.message or str(error), unknown_names=(), params_read=())
    # `item` is a for_each item: replaced when the spec is compiled, or mapped at run time (spec.fan_out checks it)
    unknown = tuple(sorted(meta.find_undeclared_variables(tree) - TEMPLATE_CONTEXT - {"item"}))
    return _TemplateFacts(syntax_error=None, unknown_names=unknown, params_read=tuple(_params_read(tree)))


def check_templates(spec: dict[str, Any], at: At) -> Iterator[Diagnostic]:
    declared = set(spec.get("params", {}))
    for pointer, text in strings(spec, (), _NOT_TEMPLATED_KEYS):
        if not is_templated(text):
            continue
        facts = _template_facts(text)
        if facts.syntax_error is not None:
            yield Diagnostic(
                code="DG404",
                **at(pointer),
                message=f"invalid Jinja template: {facts.syntax_error}",
                hint="templates look like {{ params.name }} or {{ ds }}",
            )
            continue
        for name in facts.unknown_names:
            yield Diagnostic(
                code="DG408",
                **at(pointer),
                message=f"the template reads '{name}', which Airflow does not provide",
                hint=did_you_mean(name, TEMPLATE_CONTEXT)
                or "use params.NAME for runtime parameters and var.value.NAME for Variables",
            )
        for name in facts.params_read:
            if name not in declared:
                yield Diagnostic(
                    code="DG405",
                    **at(pointer),
                    message=f"the template reads params.{name}, but the pipeline declares no such param",
                    hint=did_you_mean(name, declared)
                    or f"declare it under params: with a default, e.g. params: {{{name}: {{default: ...}}}}",
                )


def check_params(spec: dict[str, Any], at: At) -> Iterator[Diagnostic]:
    """Airflow validates param defaults when it builds the DAG; fail here first, located."""
    from jsonschema import Draft202012Validator, FormatChecker

    for name, param in spec.get("params", {}).items():
        schema = {key: value for key, value in param.items() if key not in ("default", "description")}
        if not schema:
            continue
        for error in Draft202012Validator(schema, format_checker=FormatChecker()).iter_errors(param["default"]):
            yield Diagnostic(
                code="DG409",
                **at(("params", name, "default")),
                message=f"the default of param '{name}' is invalid: {error.message}",
                hint="fix the default or the param's type/enum/minimum/maximum/format",
            )


def _find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """A dependency cycle as a path of task ids, or None (iterative DFS, three colours)."""
    colour = dict.fromkeys(graph, 0)
    for root in graph:
        if colour[root]:
            continue
        stack: list[tuple[str, Iterator[str]]] = [(root, iter(graph[root]))]
        colour[root] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                colour[node] = 2
                stack.pop()
            elif child in graph and colour[child] == 1:
                path = [entry for entry, _ in stack]
                return [*path[path.index(child) :], child]
            elif child in graph and colour[child] == 0:
                colour[child] = 1
                stack.append((child, iter(graph[child])))
    return None


def check_groups(spec: dict[str, Any], at: At) -> Iterator[Diagnostic]:
    groups: dict[str, Any] = spec.get("groups", {})
    tasks: dict[str, dict[str, Any]] = spec["tasks"]
    for task_id, task in tasks.items():
        group = task.get("group")
        if group is not None and group not in groups:
            yield Diagnostic(
                code="DG307",
                **at(("tasks", task_id, "group")),
                message=f"task '{task_id}' is in group '{group}', which is not defined under groups",
                hint=did_you_mean(group, groups) or "define it under groups:",
            )
    used = {task.get("group") for task in tasks.values()}
    for name in groups:
        if name in tasks:
            yield Diagnostic(
                code="DG304",
                **at(("groups", name), key=True),
                message=f"group '{name}' has the same name as a task",
                hint="depends_on could not tell them apart: rename one",
            )
        elif name not in used:
            yield Diagnostic(
                code="DG308",
                **at(("groups", name), key=True),
                message=f"group '{name}' has no task",
                hint=f"set `group: {name}` on its tasks, or remove it",
            )


def check_notifications(spec: dict[str, Any], at: At) -> Iterator[Diagnostic]:
    for event, targets in spec.get("notifications", {}).items():
        for index, target in enumerate(targets):
            kinds = [kind for kind in ("sns", "email", "callback") if kind in target]
            if len(kinds) != 1:
                yield Diagnostic(
                    code="DG521",
                    **at(("notifications", event, index)),
                    message="a notification target must set exactly one of sns, email, callback; this one sets "
                    f"{' and '.join(kinds) if kinds else 'none'}",
                    hint="write one list entry per target",
                )


def check_sla(spec: dict[str, Any], at: At) -> Iterator[Diagnostic]:
    told = "on_sla_miss" in spec.get("notifications", {})
    if "sla" in spec and not told:
        yield Diagnostic(
            code="DG410",
            **at(("sla",)),
            message=f"sla {spec['sla']} is set but nobody is told when a run misses it",
            hint="add notifications: {on_sla_miss: [{sns: TOPIC_ARN}]} (or email/callback targets)",
        )
    elif told and "sla" not in spec:
        yield Diagnostic(
            code="DG410",
            **at(("notifications", "on_sla_miss"), key=True),
            message="notifications.on_sla_miss is set but the pipeline has no sla to miss",
            hint="add e.g. sla: 3h (how long after its logical date a run should have finished)",
        )
    schedule = spec.get("schedule")
    if "sla" in spec and not isinstance(schedule, str):
        kind = "an asset schedule" if isinstance(schedule, dict) else "no schedule"
        yield Diagnostic(
            code="DG411",
            **at(("sla",)),
            message=f"sla {spec['sla']} counts from a scheduled run's logical date, but the pipeline has {kind}",
            hint="give the pipeline a cron or preset schedule, or remove sla (dagrun_timeout limits any run)",
        )


def _group_members(spec: dict[str, Any]) -> dict[str, list[str]]:
    members: dict[str, list[str]] = {name: [] for name in spec.get("groups", {})}
    for task_id, task in spec["tasks"].items():
        if task.get("group") in members:
            members[task["group"]].append(task_id)
    return members


def check_graph(spec: dict[str, Any], at: At) -> Iterator[Diagnostic]:
    tasks: dict[str, dict[str, Any]] = spec["tasks"]
    clusters: dict[str, Any] = spec.get("clusters", {})
    members = _group_members(spec)
    for task_id, task in tasks.items():
        for index, dependency in enumerate(task.get("depends_on", [])):
            pointer = ("tasks", task_id, "depends_on", index)
            if dependency in members and dependency not in tasks:
                continue  # a group: its tasks, checked below for cycles
            if dependency == task_id:
                yield Diagnostic(
                    code="DG306",
                    **at(pointer),
                    message=f"task '{task_id}' depends on itself",
                    hint="remove it from its own depends_on",
                )
            elif dependency not in tasks:
                yield Diagnostic(
                    code="DG301",
                    **at(pointer),
                    message=f"task '{task_id}' depends on '{dependency}', which is not a task or group of this "
                    "pipeline",
                    hint=did_you_mean(dependency, [*tasks, *members]) or f"tasks: {', '.join(tasks)}",
                )
        cluster = task.get("cluster")
        if cluster is not None and cluster not in clusters:
            yield Diagnostic(
                code="DG302",
                **at(("tasks", task_id, "cluster")),
                message=f"task '{task_id}' runs on cluster '{cluster}', which is not defined under clusters",
                hint=did_you_mean(cluster, clusters)
                or (f"clusters: {', '.join(clusters)}" if clusters else "define it under clusters:"),
            )

    used = {task.get("cluster") for task in tasks.values()}
    for name in clusters:
        if name not in used:
            yield Diagnostic(
                code="DG305",
                **at(("clusters", name), key=True),
                message=f"cluster '{name}' is not used by any task",
                hint="remove it, or set `cluster: " + name + "` on its tasks",
            )

    graph = {
        task_id: [m for d in task.get("depends_on", []) if d != task_id for m in members.get(d, [d])]
        for task_id, task in tasks.items()
    }
    cycle = _find_cycle(graph)
    if cycle:
        yield Diagnostic(
            code="DG303",
            **at(("tasks", cycle[0], "depends_on")),
            message=f"dependency cycle: {' -> '.join(reversed(cycle))}",
            hint="a pipeline is a DAG: remove one of these depends_on entries",
        )

    generated: dict[str, str] = {}
    for name, cluster in clusters.items():
        if "existing_cluster_id" in cluster:
            continue
        generated[create_cluster_task_id(name)] = f"creates cluster '{name}'"
        if kind_of(cluster) == DEFAULT_KIND:
            generated[terminate_cluster_task_id(name)] = f"terminates cluster '{name}'"
        else:
            generated[teardown_task_id(name, kind_of(cluster))] = f"deletes cluster '{name}'"
    for task_id, task in tasks.items():
        if task.get("run_if") is not None:
            generated[run_if_task_id(task_id)] = f"checks the run_if of '{task_id}'"
        if isinstance(task.get("for_each"), dict) and "output_of" in task["for_each"]:
            generated[map_items_task_id(task_id)] = f"makes the items '{task_id}' is mapped over"
        type_ids = getattr(TASK_TYPES.get(task.get("type", "")), "generated_task_ids", None)  # e.g. lambda_invoke
        generated.update(type_ids(task_id, task) if type_ids else {})
    for task_id in tasks:
        if task_id in generated:
            yield Diagnostic(
                code="DG304",
                **at(("tasks", task_id), key=True),
                message=f"task id '{task_id}' collides with the generated task that {generated[task_id]}",
                hint="rename the task",
            )


def semantic_diagnostics(spec: dict[str, Any], at: At) -> list[Diagnostic]:
    """Every semantic problem of one merged, schema-valid pipeline."""
    out: list[Diagnostic] = []
    for name, cluster in spec.get("clusters", {}).items():
        out.extend(
            check_cluster(name, cluster, at)
            if kind_of(cluster) == DEFAULT_KIND
            else check_other_kind(name, cluster, at)
        )
    out.extend(check_runs_on(spec["tasks"], spec.get("clusters", {}), at))
    for task_id, task in spec["tasks"].items():
        type_check = getattr(TASK_TYPES[task["type"]], "check", None)
        if type_check is not None:
            out.extend(type_check(task_id, task, at))
    out.extend(check_groups(spec, at))
    out.extend(check_graph(spec, at))
    out.extend(check_notifications(spec, at))
    out.extend(check_sla(spec, at))
    out.extend(control_flow_diagnostics(spec, at))
    for rule in AIRFLOW_RULES:
        out.extend(rule(spec, at))
    out.extend(check_params(spec, at))
    out.extend(check_templates(spec, at))
    return out
