"""What a run did in the emulator: every resource its calls created, final state and origin, as plain data."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from generator.local.emulator.shared import ACCOUNT_ID, plain

if TYPE_CHECKING:
    from generator.local.emulator.server import LocalAws


def _entry_point(driver: Any) -> str | None:
    """The script of a job run's driver (EMR Serverless ``sparkSubmit``, EMR on EKS ``sparkSubmitJobDriver``)."""
    driver = plain(driver) or {}
    spark = driver.get("sparkSubmit") or driver.get("sparkSubmitJobDriver") or {}
    return spark.get("entryPoint")


def snapshot_of(emulator: LocalAws) -> dict[str, list[dict[str, Any]]]:
    """Every resource the run created, its final state and who created it (plain data)."""
    from moto.emr.models import emr_backends

    out: dict[str, list[dict[str, Any]]] = {
        "clusters": [],
        "steps": [],
        "notebook_executions": [],
        "executions": [],
        "job_runs": [],
        "crawls": [],
        "serverless_job_runs": [],
        "eks_job_runs": [],
        "queries": [],
        "statements": [],
        "dq_evaluations": [],
        "applications": [],
        "virtual_clusters": [],
        "invocations": [],
        "messages": [],
        "objects": [],
    }
    emr = emr_backends[ACCOUNT_ID][emulator.region]
    for record in emulator.records_of("cluster"):
        cluster = emr.clusters[record.id]
        out["clusters"].append(
            {
                "id": record.id,
                "name": cluster.name,
                "state": cluster.state,
                "origin": record.origin,
                "tags": dict(cluster._tags),
                "step_concurrency": cluster.step_concurrency_level,
            }
        )
    for record in emulator.records_of("step"):
        step = record.obj
        out["steps"].append(
            {
                "id": record.id,
                "cluster": record.parent,
                "name": step.name,
                "state": step.state,
                "args": list(step.args),
                "origin": record.origin,
                "cause": step.failure_cause if step.state == "FAILED" else None,
            }
        )
    for record in emulator.records_of("notebook_execution"):
        execution = record.obj
        out["notebook_executions"].append(
            {
                "id": record.id,
                "cluster": record.parent,
                "editor_id": execution.request.get("EditorId"),
                "path": execution.request.get("RelativePath"),
                "params": json.loads(execution.request.get("NotebookParams") or "{}"),
                "state": execution.state,
                "origin": record.origin,
                "cause": execution.reason,
            }
        )
    for record in emulator.records_of("execution"):
        execution = record.obj
        out["executions"].append(
            {
                "arn": record.id,
                "name": execution.name,
                "state_machine": record.parent,
                "state": str(getattr(execution.status, "value", execution.status)),
                "input": json.loads(execution.execution_input or "{}"),
                "origin": record.origin,
                "completed_by_emulator": bool(getattr(execution, "completed_by_emulator", False)),
                "cause": execution.cause,
            }
        )
    for record in emulator.records_of("job_run"):
        run = record.obj
        out["job_runs"].append(
            {
                "id": record.id,
                "job": record.parent,
                "state": str(run.status),
                "arguments": dict(run.arguments or {}),
                "origin": record.origin,
                "cause": getattr(run, "failure_cause", None) if run.status == "FAILED" else None,
            }
        )
    for record in emulator.records_of("crawl"):
        state = str(record.obj.status)
        out["crawls"].append(
            {
                "crawler": record.parent,
                "state": "SUCCEEDED" if state == "COMPLETED" else state,
                "origin": record.origin,
                "cause": None,
            }
        )
    for kind, key in (("serverless_job_run", "serverless_job_runs"), ("eks_job_run", "eks_job_runs")):
        for record in emulator.records_of(kind):
            run = record.obj
            state = run.state
            out[key].append(
                {
                    "id": record.id,
                    # the application, or the virtual cluster
                    "on": record.parent,
                    "name": run.name,
                    "state": state,
                    "entry_point": _entry_point(run.job_driver),
                    "origin": record.origin,
                    "cause": run.failure_cause if state == "FAILED" else None,
                }
            )
    for record in emulator.records_of("query"):
        query = record.obj
        state = str(query.status)
        out["queries"].append(
            {
                "id": record.id,
                "workgroup": record.parent,
                "query": query.query,
                "database": (plain(query.context) or {}).get("Database"),
                "output_location": query.output_location,
                "state": state,
                "origin": record.origin,
                "cause": query.failure_cause if state == "FAILED" else None,
            }
        )
    for record in emulator.records_of("statement"):
        statement = record.obj
        out["statements"].append(
            {
                "id": record.id,
                "on": record.parent,  # the cluster identifier, or the workgroup
                "sqls": list(statement.sqls),
                "state": statement.status,
                "origin": record.origin,
                "cause": statement.cause if statement.status == "FAILED" else None,
            }
        )
    for record in emulator.records_of("dq_evaluation"):
        run = record.obj
        out["dq_evaluations"].append(
            {
                "id": record.id,
                "table": record.parent,  # DATABASE.TABLE
                "rulesets": list(run.rules),
                "state": run.status,
                "origin": record.origin,
                "cause": run.cause,  # the first rule fails with it (the run itself succeeds)
            }
        )
    for kind, key in (("serverless_application", "applications"), ("virtual_cluster", "virtual_clusters")):
        for record in emulator.records_of(kind):
            out[key].append(
                {"id": record.id, "name": record.obj.name, "state": record.obj.state, "origin": record.origin}
            )
    for record in emulator.records_of("invocation"):
        invocation = record.obj
        out["invocations"].append(
            {
                "id": record.id,
                "function": invocation.function,
                "qualifier": invocation.qualifier,
                "invocation_type": invocation.invocation_type,
                "payload": invocation.payload,
                "state": invocation.state,
                "origin": record.origin,
                "cause": invocation.cause,
            }
        )
    for record in emulator.records_of("message"):
        out["messages"].append({"id": record.id, "topic": record.parent, **record.obj, "origin": record.origin})
    for record in emulator.records_of("object"):
        out["objects"].append(
            {"uri": record.id, "origin": record.origin, "provided_for": emulator.provided.get(record.id)}
        )
    return out
