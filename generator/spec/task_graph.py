"""The task graph of an expanded spec, as the lowering wires it: each task's direct and transitive upstream tasks."""

from __future__ import annotations

from typing import Any


def task_graph(spec: dict[str, Any]) -> dict[str, list[str]]:
    """Each task's direct upstream tasks, as the lowering wires them: a group stands for its last tasks."""
    tasks: dict[str, dict[str, Any]] = spec["tasks"]
    members: dict[str, list[str]] = {}
    for task_id, task in tasks.items():
        if task.get("group"):
            members.setdefault(task["group"], []).append(task_id)
    last = {
        group: [t for t in ids if not any(t in tasks[other].get("depends_on", []) for other in ids)]
        for group, ids in members.items()
    }
    return {
        task_id: [
            dep
            for entry in task.get("depends_on", [])
            for dep in (last.get(entry, [entry]) if entry not in tasks else [entry])
            if dep in tasks and dep != task_id
        ]
        for task_id, task in tasks.items()
    }


def upstream_closure(graph: dict[str, list[str]]) -> dict[str, set[str]] | None:
    """Transitive upstream tasks of each task, or None when the graph has a cycle (DG303 says so)."""
    memo: dict[str, set[str]] = {}
    for root in graph:
        stack, entered = [root], {root}
        while stack:
            node = stack[-1]
            waiting = [parent for parent in graph[node] if parent not in memo]
            if waiting:
                if any(parent in entered for parent in waiting):
                    return None
                stack.extend(waiting)
                entered.update(waiting)
                continue
            stack.pop()
            memo[node] = {found for parent in graph[node] for found in (parent, *memo[parent])}
    return memo
