"""Phase 2b, validate and complete: cleanups declared with ``cleans_up``.

A task with ``cleans_up: [SETUP, ...]`` removes what those tasks made (a staging table, a temporary
prefix, an application).  It is built as an Airflow teardown of them: it runs after all the work that
follows its setups, whatever that work's state, as long as one setup succeeded (when none did there is
nothing to remove, and it is skipped), and Airflow leaves it out of the run's state, so a run whose work
failed still ends FAILED.  :func:`cleanup_work` gives the work each cleanup waits for (the normaliser adds
it to ``depends_on``); :func:`check_cleanups` says what cannot be a cleanup:

* DG319: a ``cleans_up`` entry that is not another task of the pipeline, or is a cleanup itself;
* DG320: a cleanup that tasks other than cleanups depend on (they would run after a failure), or that sets
  ``trigger_rule``, has ``run_if`` or is mapped at run time (a cleanup may follow another: drop the table,
  then delete its bucket; a cleanup on a cluster runs before the cluster's teardown, which waits for it);
* DG321: a task right after a setup with a rule other than ``all_success`` (Airflow refuses it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from generator.core.diagnostics import Diagnostic
from generator.core.spec_values import did_you_mean
from generator.spec.task_graph import task_graph, upstream_closure

At = Callable[..., dict[str, Any]]


def _cleanups(tasks: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    return {task_id: list(task["cleans_up"]) for task_id, task in tasks.items() if task.get("cleans_up")}


def check_cleanups(spec: dict[str, Any], graph: dict[str, list[str]], at: At) -> Iterator[Diagnostic]:
    tasks: dict[str, dict[str, Any]] = spec["tasks"]
    cleanups = _cleanups(tasks)
    setups = {setup for named in cleanups.values() for setup in named}
    for task_id, named in cleanups.items():
        for index, setup in enumerate(named):
            where = at(("tasks", task_id, "cleans_up", index))
            if setup not in tasks or setup == task_id:
                what = "itself" if setup == task_id else f"'{setup}', which is not a task of this pipeline"
                yield Diagnostic(
                    code="DG319",
                    **where,
                    message=f"task '{task_id}' cleans up after {what}",
                    hint=(setup != task_id and did_you_mean(setup, tasks))
                    or "name the tasks that make what this task removes",
                )
            elif setup in cleanups:
                yield Diagnostic(
                    code="DG319",
                    **where,
                    message=f"task '{task_id}' cleans up after '{setup}', which is a cleanup itself",
                    hint=f"name the tasks that make what '{task_id}' removes",
                )
        task = tasks[task_id]
        for key, why in (
            ("trigger_rule", "a cleanup runs when its work is done, whatever its state"),
            ("run_if", "a cleanup runs whenever one of the tasks it cleans up after succeeded"),
        ):
            if key in task:
                yield Diagnostic(
                    code="DG320",
                    **at(("tasks", task_id, key)),
                    message=f"cleanup '{task_id}' cannot set {key}: {why}",
                    hint=f"remove {key}",
                )
        if isinstance(task.get("for_each"), dict) and "output_of" in task["for_each"]:
            yield Diagnostic(
                code="DG320",
                **at(("tasks", task_id, "for_each")),
                message=f"cleanup '{task_id}' cannot be mapped over another task's output",
                hint="clean up the whole prefix or table in one task",
            )
        for other, deps in graph.items():
            if task_id in deps and other not in cleanups:  # a cleanup may follow another (drop, then delete)
                yield Diagnostic(
                    code="DG320",
                    **at(("tasks", other, "depends_on")),
                    message=f"task '{other}' depends on cleanup '{task_id}': it would run after a failure too",
                    hint=f"let '{other}' depend on the work '{task_id}' runs after; a cleanup is a last task",
                )
    for task_id, deps in graph.items():
        rule = tasks[task_id].get("trigger_rule", "all_success")
        after = [dep for dep in deps if dep in setups]
        if after and rule != "all_success" and task_id not in cleanups:
            yield Diagnostic(
                code="DG321",
                **at(("tasks", task_id, "trigger_rule")),
                message=f"task '{task_id}' runs right after '{after[0]}', which a cleanup cleans up after, with "
                f"trigger_rule {rule}: Airflow requires all_success right after such a task",
                hint=f"keep all_success, or let '{task_id}' depend on a task after '{after[0]}'",
            )


def cleanup_work(spec: dict[str, Any]) -> dict[str, list[str]]:
    """Per cleanup, the last tasks of its work (its setups and all that runs after them) it does not yet follow."""
    tasks: dict[str, dict[str, Any]] = spec["tasks"]
    cleanups = _cleanups(tasks)
    if not cleanups:
        return {}
    graph = task_graph(spec)
    ancestors = upstream_closure(graph) or {}
    out: dict[str, list[str]] = {}
    for task_id, setups in cleanups.items():
        work = {t for t in tasks if t not in cleanups and (t in setups or set(setups) & ancestors[t])}
        lasts = [t for t in tasks if t in work and not any(t in graph[child] for child in work)]
        extra = [t for t in lasts if t not in ancestors[task_id]]
        if extra:
            out[task_id] = extra
    return out
