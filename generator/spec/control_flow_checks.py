"""Phase 2b, validate: the control-flow rules of an expanded spec (branches, trigger rules, XCom reads, maps).

* a branch's paths are tasks that depend on it, and every task that depends on it is one of its paths;
* a trigger rule never lets a failed run look successful (DG315) nor runs a task on a cluster that did not
  start (DG316); ``all_done`` on a last task is a cleanup, whose state Airflow leaves out of the run's;
* ``xcom_pull(task_ids=...)`` names a task that runs before the reader;
* ``for_each: {output_of: TASK}`` maps over a task upstream of it, with a type that can be mapped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from generator.core.conditions import CLUSTER_SAFE_RULES, RUNS_AFTER_FAILURE, cleanup_ids, run_if_task_id
from generator.core.diagnostics import Diagnostic
from generator.core.lowering_context import create_cluster_task_id
from generator.core.spec_values import did_you_mean, strings
from generator.spec.cleanups import check_cleanups
from generator.spec.task_graph import task_graph, upstream_closure
from generator.task_types import MAPPABLE_TYPES

At = Callable[..., dict[str, Any]]
_XCOM_PULL = re.compile(r"xcom_pull\(\s*(?:task_ids\s*=\s*)?(?:(['\"])(?P<one>[^'\"]+)\1|\[(?P<many>[^\]]*)\])")
_QUOTED = re.compile(r"(['\"])([^'\"]+)\1")


def check_branches(spec: dict[str, Any], graph: dict[str, list[str]], at: At) -> Iterator[Diagnostic]:
    tasks: dict[str, dict[str, Any]] = spec["tasks"]
    for task_id, task in tasks.items():
        if task["type"] != "branch":
            continue
        for path in task["paths"]:
            if path not in tasks:
                yield Diagnostic(
                    code="DG313",
                    **at(("tasks", task_id, "paths", path), key=True),
                    message=f"branch '{task_id}' has path '{path}', which is not a task of this pipeline",
                    hint=did_you_mean(path, tasks) or "a path names the first task after the branch",
                )
            elif task_id not in graph[path]:
                yield Diagnostic(
                    code="DG313",
                    **at(("tasks", task_id, "paths", path), key=True),
                    message=f"branch '{task_id}' has path '{path}', which does not depend on it",
                    hint=f"add '{task_id}' to the depends_on of '{path}': a path starts right after its branch",
                )
        for other, deps in graph.items():
            if task_id in deps and other not in task["paths"]:
                yield Diagnostic(
                    code="DG314",
                    **at(("tasks", other, "depends_on")),
                    message=f"task '{other}' depends on branch '{task_id}' but is not one of its paths: it would "
                    "always be skipped",
                    hint=f"add '{other}' under the paths of '{task_id}', or make it depend on a task of a path",
                )


def check_trigger_rules(spec: dict[str, Any], graph: dict[str, list[str]], at: At) -> Iterator[Diagnostic]:
    tasks: dict[str, dict[str, Any]] = spec["tasks"]
    for task_id, task in tasks.items():
        rule = task.get("trigger_rule")
        if rule is not None and task.get("cluster") and rule not in CLUSTER_SAFE_RULES:
            yield Diagnostic(
                code="DG316",
                **at(("tasks", task_id, "trigger_rule")),
                message=f"task '{task_id}' runs on cluster '{task['cluster']}' with trigger_rule {rule}: it would "
                "run when the cluster failed to start (Airflow runs what follows a cluster's setup only on "
                "all_success)",
                hint="a task on a cluster keeps all_success (a join after a branch needs no rule: it gets one); "
                "put cleanup or alert work in a task without `cluster:`",
            )
    children: dict[str, list[str]] = {t: [] for t in tasks}
    for task_id, deps in graph.items():
        for dep in deps:
            children[dep].append(task_id)
    cleanups = cleanup_ids({task_id: task.get("trigger_rule") for task_id, task in tasks.items()}, graph)
    tolerant = {t for t, task in tasks.items() if task.get("trigger_rule") in RUNS_AFTER_FAILURE} - cleanups
    visible: dict[str, bool] = {}

    def seen(task_id: str) -> bool:  # the task's failure reaches a last task (iterative: chains are long)
        stack = [task_id]
        while stack:
            node = stack[-1]
            pending = [c for c in children[node] if c not in visible and c not in tolerant and c not in cleanups]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            kept = [c for c in children[node] if c not in cleanups]
            visible[node] = not kept or any(c not in tolerant and visible[c] for c in kept)
        return visible[task_id]

    for task_id in tasks:
        if task_id not in tolerant:
            continue
        hidden = next((parent for parent in graph[task_id] if not seen(parent)), None)
        if hidden is None:
            continue
        rule = tasks[task_id]["trigger_rule"]
        alert = rule in ("one_failed", "all_failed")
        yield Diagnostic(
            code="DG315",
            **at(("tasks", task_id, "trigger_rule")),
            message=f"with trigger_rule {rule}, '{task_id}' runs and succeeds after '{hidden}' failed, and no later "
            "task fails with it: Airflow would mark the failed run successful",
            hint="for alerts use notifications.on_task_failure or on_run_failure"
            if alert
            else "make it a last task (trigger_rule all_done on a last task is a cleanup, which keeps the run "
            "failed), or use none_failed_min_one_success for a join",
        )


def _xcom_names(text: str) -> Iterator[str]:
    for match in _XCOM_PULL.finditer(text):
        if match.group("one"):
            yield match.group("one")
        else:
            yield from (quoted.group(2) for quoted in _QUOTED.finditer(match.group("many") or ""))


def check_xcom_reads(spec: dict[str, Any], ancestors: dict[str, set[str]], at: At) -> Iterator[Diagnostic]:
    tasks: dict[str, dict[str, Any]] = spec["tasks"]
    clusters = {name for name, cluster in spec.get("clusters", {}).items() if "existing_cluster_id" not in cluster}
    for task_id, task in tasks.items():
        before = set(ancestors[task_id])
        if task.get("cluster") in clusters:
            before.add(create_cluster_task_id(task["cluster"]))
        if task.get("run_if") is not None:
            before.add(run_if_task_id(task_id))
        before |= {run_if_task_id(t) for t in ancestors[task_id] if tasks[t].get("run_if") is not None}
        known = {*tasks, *(create_cluster_task_id(c) for c in clusters), *before}
        for pointer, text in strings(task, ("tasks", task_id), frozenset({"description"})):
            if "xcom_pull" not in text:
                continue
            for name in _xcom_names(text):
                plain = name.rpartition(".")[2] if name.rpartition(".")[2] in tasks else name
                if plain not in known:
                    yield Diagnostic(
                        code="DG317",
                        **at(pointer),
                        message=f"'{task_id}' reads the XCom of '{name}', which is not a task of this pipeline",
                        hint=did_you_mean(plain, known) or f"tasks: {', '.join(list(tasks)[:10])}",
                    )
                elif plain not in before:
                    yield Diagnostic(
                        code="DG317",
                        **at(pointer),
                        message=f"'{task_id}' reads the XCom of '{plain}', which does not run before it",
                        hint=f"add '{plain}' to the depends_on of '{task_id}' (directly or through a task after it)",
                    )


def check_mapped_tasks(spec: dict[str, Any], ancestors: dict[str, set[str]], at: At) -> Iterator[Diagnostic]:
    tasks: dict[str, dict[str, Any]] = spec["tasks"]
    for task_id, task in tasks.items():
        for_each = task.get("for_each")
        if not isinstance(for_each, dict) or "output_of" not in for_each:
            continue
        source = for_each["output_of"]
        if task["type"] not in MAPPABLE_TYPES:
            yield Diagnostic(
                code="DG318",
                **at(("tasks", task_id, "for_each")),
                message=f"a {task['type']} task cannot be mapped over another task's output",
                hint=f"types that can: {', '.join(sorted(MAPPABLE_TYPES))}",
            )
        elif source not in tasks:
            yield Diagnostic(
                code="DG318",
                **at(("tasks", task_id, "for_each", "output_of")),
                message=f"task '{task_id}' maps over the output of '{source}', which is not a task of this pipeline",
                hint=did_you_mean(source, tasks) or "name the task whose return value is the list",
            )
        elif source not in ancestors[task_id]:
            yield Diagnostic(
                code="DG318",
                **at(("tasks", task_id, "for_each", "output_of")),
                message=f"task '{task_id}' maps over the output of '{source}', which does not run before it",
                hint=f"add '{source}' to the depends_on of '{task_id}'",
            )


def control_flow_diagnostics(spec: dict[str, Any], at: At) -> list[Diagnostic]:
    graph = task_graph(spec)
    out = [*check_branches(spec, graph, at)]
    ancestors = upstream_closure(graph)
    if ancestors is None:
        return out  # DG303 reports the cycle; the rules below need an acyclic graph
    out.extend(check_trigger_rules(spec, graph, at))
    out.extend(check_xcom_reads(spec, ancestors, at))
    out.extend(check_mapped_tasks(spec, ancestors, at))
    out.extend(check_cleanups(spec, graph, at))
    return out
