"""The human report of a ``dagen run --local``, rendered from the JSON report the child writes.

Tasks (state, duration, try; a member of a mapped task is a row ``TASK[INDEX]``),
what happened in the emulator (clusters, steps, executions, job runs, queries, Redshift
statements, EMR Serverless applications and EMR on EKS virtual clusters,
invocations, messages, objects, the objects ``--absent`` withheld, HTTP requests,
emails, asset events, lost responses, connections the network guard refused),
the outcome and the run's logical date, why each failed task failed, and notes on
options that named nothing of the run.  A run succeeded only when no task failed
(:func:`succeeded`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from generator.local.network_guard import REFUSED


def _fmt_seconds(value: float) -> str:
    return f"{value:.1f}s"


def render_report(
    report: dict[str, Any], *, fail: Sequence[str], flaky: Sequence[str], absent: Sequence[str] = ()
) -> list[str]:
    """The human report: tasks, then what happened in the emulator, then the outcome."""
    lines = [f"{report['dag_id']} on a local AWS emulator at {report['endpoint_url']}"]
    for name, (value, note) in report.get("variables", {}).items():
        lines.append(f"  var {name} = {value}  ({note})")
    if report.get("buckets"):
        lines.append(f"  buckets: {', '.join(report['buckets'])}")
    for named in report.get("named_resources", []):
        lines.append(f"  {named}")
    for endpoint in report.get("endpoints", []):
        lines.append(f"  {endpoint}")
    if fail or flaky or absent:
        injected = [f"--fail {task}" for task in fail] + [f"--flaky {task}" for task in flaky]
        injected += [f"--absent {uri}" for uri in absent]
        lines.append(f"  injected: {' '.join(injected)}")
    if report.get("sla_not_evaluated"):
        lines.append(f"  sla {report['sla_not_evaluated']}: not evaluated (the scheduler checks SLAs; none runs here)")
    lines.append("")
    width = max([len("task"), *(len(row["task_id"]) for row in report["tasks"])])
    lines.append(f"  {'task':<{width}}  {'state':<15} {'duration':>8}  try")
    for row in report["tasks"]:
        duration = _fmt_seconds(row["duration"])
        lines.append(f"  {row['task_id']:<{width}}  {row['state']:<15} {duration:>8}  {row['try_number']:>3}")
    lines.append("")
    lines.append("  emulator:")
    emulator = report["emulator"]
    for cluster in emulator["clusters"]:
        by = f"by {cluster['origin']}" if cluster["origin"] else "made for the run"
        lines.append(f"    cluster {cluster['id']} {cluster['name']}: {cluster['state']}  ({by})")
    for step in emulator["steps"]:
        cause = f": {step['cause']}" if step["cause"] else ""
        lines.append(f"    step {step['id']} {step['name']} on {step['cluster']}: {step['state']}{cause}")
    for execution in emulator["notebook_executions"]:
        cause = f": {execution['cause']}" if execution["cause"] else ""
        lines.append(
            f"    notebook execution {execution['id']} {execution['path']} on {execution['cluster']}: "
            f"{execution['state']}{cause}"
        )
    for execution in emulator["executions"]:
        how = " (completed by the emulator)" if execution["completed_by_emulator"] else ""
        cause = f": {execution['cause']}" if execution["cause"] else ""
        lines.append(f"    execution {execution['name']}: {execution['state']}{how}{cause}")
    for job_run in emulator["job_runs"]:
        cause = f": {job_run['cause']}" if job_run["cause"] else ""
        lines.append(f"    glue job run {job_run['job']} {job_run['id'][:12]}: {job_run['state']}{cause}")
    for crawl in emulator["crawls"]:
        lines.append(f"    crawl of {crawl['crawler']}: {crawl['state']}")
    for kind, key in (("EMR Serverless", "serverless_job_runs"), ("EMR on EKS", "eks_job_runs")):
        for run in emulator.get(key, []):
            cause = f": {run['cause']}" if run["cause"] else ""
            lines.append(f"    {kind} job run {run['id']} {run['entry_point']} on {run['on']}: {run['state']}{cause}")
    for query in emulator.get("queries", []):
        cause = f": {query['cause']}" if query["cause"] else ""
        lines.append(
            f"    athena query {query['id'][:8]} by {query['origin']} ({query['workgroup']}): {query['state']}{cause}"
        )
    for statement in emulator.get("statements", []):
        cause = f": {statement['cause']}" if statement["cause"] else ""
        what = f"batch of {len(statement['sqls'])}" if len(statement["sqls"]) > 1 else "statement"
        lines.append(
            f"    redshift {what} {statement['id'][:8]} on {statement['on']} by {statement['origin']}: "
            f"{statement['state']}{cause}"
        )
    for run in emulator.get("dq_evaluations", []):
        cause = f": first rule FAILED: {run['cause']}" if run["cause"] else ""
        lines.append(
            f"    glue data quality run of {', '.join(run['rulesets'])} on {run['table']} by {run['origin']}: "
            f"{run['state']}{cause}"
        )
    for kind, key in (
        ("EMR Serverless application", "applications"),
        ("EMR on EKS virtual cluster", "virtual_clusters"),
    ):
        for resource in emulator.get(key, []):
            by = f"by {resource['origin']}" if resource["origin"] else "made for the run"
            lines.append(f"    {kind} {resource['id']} {resource['name']}: {resource['state']}  ({by})")
    for invocation in emulator.get("invocations", []):
        cause = f": {invocation['cause']}" if invocation["cause"] else ""
        lines.append(
            f"    lambda {invocation['function']} {invocation['invocation_type']} by {invocation['origin']}: "
            f"{invocation['state']}{cause}"
        )
    for message in emulator.get("messages", []):
        by = message["origin"] or "the DAG run"
        said = message["subject"] or next(iter((message["message"] or "").strip().splitlines()), "")[:60]
        lines.append(f"    sns {message['topic'].rsplit(':', 1)[-1]}: {said!r} (by {by})")
    for item in emulator.get("objects", []):
        by = f"put for {item['provided_for']}" if item["provided_for"] else f"by {item['origin'] or 'the DAG run'}"
        lines.append(f"    object {item['uri']} ({by})")
    withheld = report.get("absent", {}).get("withheld", [])
    for item in withheld:
        lines.append(f"    object {item['uri']} withheld from {item['for_task']} (--absent {item['absent']})")
    for request in emulator.get("http_requests", []):
        lines.append(
            f"    http {request['conn_id']} {request['method']} {request['path']}: {request['status']} "
            f"(by {request['origin']})"
        )
    for message in emulator.get("emails", []):
        by = message["origin"] or "the DAG run"
        lines.append(f"    email to {', '.join(message['to'])}: {message['subject']!r} (by {by}; recorded, not sent)")
    for event in report.get("asset_events", []):
        lines.append(f"    asset {event['uri']} updated by {event['task_id']}")
    for origin, action in report.get("lost_responses", []):
        lines.append(f"    lost the response of {origin}'s {action} (--flaky)")
    for refused in _refused(report):
        lines.append(f"    network: refused {refused['target']} (by {refused['origin'] or 'the DAG run'})")
    lines.append("")
    timings = report["timings"]
    failed = failed_tasks(report)
    if report["state"] == "success" and not failed:
        verdict = "succeeded"
    elif report["state"] == "success":
        verdict = "FAILED (Airflow marked it success: a teardown alone decided the run state)"
    else:
        verdict = report["state"].upper()
    logical_date = report.get("logical_date")
    lines.append(f"DAG run {verdict}" + (f": logical date {logical_date}" if logical_date else ""))
    lines.append(
        f"time: DAG run {_fmt_seconds(timings['dag_test'])}, "
        f"whole local run {_fmt_seconds(timings['wall'])} (emulator and Airflow start-up included)"
    )
    lines.extend(_failures(report))
    lines.extend(_unmatched(report, fail=fail, absent=absent))
    return lines


def _unmatched(report: dict[str, Any], *, fail: Sequence[str], absent: Sequence[str]) -> list[str]:
    """Notes on options that named nothing of this run: a ``--fail TASK[INDEX]`` beyond the items the task
    mapped, an ``--absent`` URI no task waited for or checked (a key rendered differently, another date)."""
    rows = {row["task_id"].rpartition(".")[2] for row in report["tasks"]} | {row["task_id"] for row in report["tasks"]}
    lines = [
        f"note: --fail {task}: no such member ran (the task mapped fewer items)"
        for task in fail
        if task.endswith("]") and task not in rows
    ]
    used = {item["absent"] for item in report.get("absent", {}).get("withheld", [])}
    lines.extend(
        f"note: --absent {uri}: no s3_wait task or run_if s3_exists check looked there (nothing was withheld)"
        for uri in absent
        if uri not in used
    )
    return lines


def failed_tasks(report: dict[str, Any]) -> list[str]:
    return [row["task_id"] for row in report["tasks"] if row["state"] == "failed"]


def succeeded(report: dict[str, Any]) -> bool:
    """The DAG run succeeded and no task failed (Airflow may call a run whose teardown succeeded a success)."""
    return report["state"] == "success" and not failed_tasks(report)


def _refused(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The network guard's refusals, one per target and task (a resolution and a connect count once)."""
    seen = {(item["target"], item["origin"]): item for item in report.get("network", {}).get("refused", [])}
    return list(seen.values())


def _failures(report: dict[str, Any]) -> list[str]:
    """Each failed task and why: its last error, and the emulator's cause for the work it (or its start task) ran."""
    lines = []
    emulator = report["emulator"]
    resources = [
        *(("step", item) for item in emulator["steps"]),
        *(("notebook execution", item) for item in emulator["notebook_executions"]),
        *(("execution", item) for item in emulator["executions"]),
        *(("glue job run", item) for item in emulator["job_runs"]),
        *(("EMR Serverless job run", item) for item in emulator.get("serverless_job_runs", [])),
        *(("EMR on EKS job run", item) for item in emulator.get("eks_job_runs", [])),
        *(("athena query", item) for item in emulator.get("queries", [])),
        *(("lambda invocation", item) for item in emulator.get("invocations", [])),
    ]
    for row in report["tasks"]:
        if row["state"] != "failed":
            continue
        starter = row["task_id"].removesuffix("_wait")
        causes = [
            f"{kind} {item.get('id') or item.get('name')} {item['state']}: {item['cause']}"
            for kind, item in resources
            if item["origin"] in (row["task_id"], starter) and item["cause"]
        ]
        causes.extend(
            REFUSED.format(target=item["target"]) for item in _refused(report) if item["origin"] == row["task_id"]
        )
        error = row["errors"][-1] if row["errors"] else "no error recorded"
        lines.append(f"failed: {row['task_id']} (try {row['try_number']}): {error}")
        lines.extend(f"    cause: {cause}" for cause in dict.fromkeys(causes))
    return lines
