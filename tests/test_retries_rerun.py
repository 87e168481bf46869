"""Retries re-run the work (issue 14.3): a retried failed execution starts a new one; nothing is started twice.

The operators of ``step_function``, ``emr_notebook``, ``emr_serverless_job`` and ``emr_eks_job``
(:mod:`generator.runtime`) run here in-process against the real local emulator, each try from a
freshly built DAG (what every try of a deployed task gets), with the try numbers Airflow gives:

* an execution failing on try 1 and succeeding on try 2: exactly two executions, the task succeeds;
* a retry after a lost start response adopts the execution: exactly one;
* a retry while the earlier execution is still running adopts it: exactly one;
* a cleared task (Airflow raises ``max_tries``) starts afresh, even after a success.

The last section does the same through ``dagen run --local`` (real Airflow's dag.test()).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from generator.compile.build import airflow_major, build_dag
from generator.compile.pipelines import process
from generator.core.provider_profile import installed_profile
from generator.local.emulator import DUMMY_KEY, LocalAws
from generator.local.resource_provider import ResourceProvider
from generator.runtime.tries import next_step, tries_of_this_run

REPO = Path(__file__).resolve().parent.parent
RUN_ID = "manual__2024-01-01T00:00:00+00:00"
RETRIES = 2
SPEC = """\
description: Every task type whose work a retry must run again.
schedule: null
start_date: 2024-01-01
params:
  machine: {default: none, type: string}
  cluster_id: {default: none, type: string}
  editor_id: {default: none, type: string}
  application_id: {default: none, type: string}
  virtual_cluster_id: {default: none, type: string}
clusters:
  shared: {existing_cluster_id: "{{ params.cluster_id }}"}
task_defaults: {retries: 2, poll_interval: 1s, timeout: 1m}
tasks:
  curate:
    type: step_function
    state_machine_arn: "{{ params.machine }}"
    input: {bucket: curated}
  report:
    type: emr_notebook
    cluster: shared
    editor_id: "{{ params.editor_id }}"
    notebook_path: report.ipynb
    params: {DAY: "{{ ds }}"}
    tags: {team: analytics}
  serverless:
    type: emr_serverless_job
    application_id: "{{ params.application_id }}"
    execution_role_arn: arn:aws:iam::123456789012:role/emr-serverless-job
    spark: {entry_point: s3://jobs/etl.py}
  eks:
    type: emr_eks_job
    virtual_cluster_id: "{{ params.virtual_cluster_id }}"
    execution_role_arn: arn:aws:iam::123456789012:role/emr-eks-job
    release_label: emr-7.5.0-latest
    spark: {entry_point: s3://jobs/etl.py}
"""
# A state machine moto really runs, that stays RUNNING long enough for a retry to find it running.
SLOW = {"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 60, "End": True}}}

try:
    from airflow.sdk.exceptions import TaskDeferred  # Airflow 3
except ImportError:
    from airflow.exceptions import TaskDeferred  # type: ignore[no-redef,attr-defined]  # Airflow 2


# ----------------------------------------------------------------------------- the rule, alone


@pytest.mark.parametrize(
    ("try_number", "max_tries", "expected"),
    [
        (1, 2, [1]),  # the first try
        (3, 2, [1, 2, 3]),  # the last retry sees every earlier try
        (4, 5, [4]),  # cleared after try 3 (max_tries = 3 + retries): a fresh start
        (6, 5, [4, 5, 6]),  # ... and its retries see only the tries since the clear
    ],
)
def test_the_tries_of_this_run_are_those_since_the_last_clear(
    try_number: int, max_tries: int, expected: list[int]
) -> None:
    ti = types.SimpleNamespace(try_number=try_number, max_tries=max_tries)
    assert list(tries_of_this_run(ti, RETRIES)) == expected


@pytest.mark.parametrize(
    ("states", "current", "expected"),
    [
        ({}, 1, ("start", 1)),
        ({1: "FAILED"}, 2, ("start", 2)),
        ({1: "FAILED", 2: "TIMED_OUT"}, 3, ("start", 3)),
        ({1: "RUNNING"}, 2, ("wait", 1)),  # a lost start response, a lost worker
        ({1: "SUCCEEDED"}, 2, ("done", 1)),  # the work ended after its try did
        ({1: "FAILED", 2: "RUNNING"}, 3, ("wait", 2)),
        ({1: "FAILED", 2: "FAILED"}, 2, ("failed", 2)),  # this try's own execution failed: never started twice
    ],
)
def test_a_try_adopts_what_succeeded_or_runs_and_starts_only_after_failures(
    states: dict[int, str], current: int, expected: tuple[str, int]
) -> None:
    unsuccessful = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})
    assert next_step(states, current, succeeded=frozenset({"SUCCEEDED"}), unsuccessful=unsuccessful) == expected


def test_a_step_functions_execution_name_is_new_per_try_and_run_and_one_step_functions_accepts() -> None:
    from generator.runtime.step_function import execution_arn, execution_name
    from generator.runtime.tries import try_key

    def name(run_id: str, try_number: int, task_id: str = "curate") -> str:
        return execution_name(task_id, try_key("movielens", run_id, task_id, -1, try_number))

    run_id = "manual__2024-05-01T10:00:00.123456+00:00"
    names = {name(run_id, 1), name(run_id, 2), name("scheduled__2024-05-02T00:00:00+00:00", 1)}
    assert len(names) == 3 and name(run_id, 1) == name(run_id, 1)  # deterministic: every try can name the others
    for each in names | {name(run_id, 1, "publish." + "t" * 200)}:
        assert len(each) <= 80 and re.fullmatch(r"[A-Za-z0-9_.-]+", each), each
    machine = "arn:aws:states:eu-west-1:123456789012:stateMachine:curate"
    assert execution_arn(machine + ":prod", "x") == execution_arn(machine, "x")  # an alias runs the machine
    assert execution_arn(machine, "x") == "arn:aws:states:eu-west-1:123456789012:execution:curate:x"


# ----------------------------------------------------------------------------- in-process, on the emulator


class Run:
    """One DAG run of the spec on the emulator: each ``attempt`` is one try of a task, built afresh."""

    def __init__(self, aws: LocalAws, spec: Path, params: dict[str, str]) -> None:
        self.aws, self.spec, self.params = aws, spec, params
        self.pushed: dict[tuple[str, int], dict[str, Any]] = {}

    def task(self, task_id: str, try_number: int, max_tries: int) -> tuple[Any, dict[str, Any]]:
        (result,) = process([self.spec], profile=installed_profile(), airflow_major=airflow_major())
        assert result.config is not None, result.diagnostics
        task = build_dag(result.dag_id, result.config).get_task(task_id)
        pushed = self.pushed.setdefault((task_id, try_number), {})
        ti = types.SimpleNamespace(
            dag_id=result.dag_id,
            task_id=task_id,
            map_index=-1,
            try_number=try_number,
            max_tries=max_tries,
            xcom_push=lambda key, value, **_: pushed.__setitem__(key, value),
        )
        context = {
            "ti": ti,
            "task_instance": ti,
            "run_id": RUN_ID,
            "ds": "2024-01-01",
            "params": dict(self.params),
            "dag_run": types.SimpleNamespace(start_date=None),
        }
        task.render_template_fields(context)
        return task, context

    def attempt(self, task_id: str, try_number: int, *, max_tries: int = RETRIES, origin: str | None = None) -> Any:
        """One try: its calls are ``origin``'s (default: the task id with the try number)."""
        self.aws.attribute_to(origin or f"{task_id}#{try_number}")
        return self.task(task_id, try_number, max_tries)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalAws]:
    with LocalAws() as emulator:
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            monkeypatch.setenv(name, DUMMY_KEY)
        monkeypatch.setenv("AWS_DEFAULT_REGION", emulator.region)
        extra = {"endpoint_url": emulator.endpoint_url, "region_name": emulator.region}
        monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps({"conn_type": "aws", "extra": extra}))
        yield emulator


@pytest.fixture
def run(aws: LocalAws, tmp_path: Path) -> Run:
    spec = tmp_path / "retries_rerun.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    provider = ResourceProvider(aws, {})
    params = {
        "machine": provider.pass_state_machine("machine"),
        "cluster_id": provider.emr_cluster("shared"),
        "editor_id": provider.editor("editor_id"),
        "application_id": provider.application("serverless"),
        "virtual_cluster_id": provider.virtual_cluster("eks"),
    }
    aws.client("emr-serverless").start_application(applicationId=params["application_id"])
    return Run(aws, spec, params)


def deferred(task: Any, context: dict[str, Any]) -> Any:
    with pytest.raises(TaskDeferred) as raised:
        task.execute(context)
    return raised.value


def trigger_event(deferral: Any) -> dict[str, Any] | None:
    """Run the provider's trigger as the triggerer does; ``None`` when it raises (providers 9.0 on failure)."""

    async def first() -> Any:
        async for event in deferral.trigger.run():
            return event

    try:
        return dict(asyncio.run(first()).payload)
    except Exception:  # noqa: BLE001 - the triggerer fails the task on any trigger error
        return None


def resumed(task: Any, context: dict[str, Any], deferral: Any) -> Any:
    """Resume the task after its trigger, as Airflow does; raises as the try fails."""
    event = trigger_event(deferral)
    if event is None:
        raise RuntimeError("the trigger failed")
    return getattr(task, deferral.method_name)(context, event)


def records(aws: LocalAws, kind: str) -> list[Any]:
    return [record.obj for record in aws.records_of(kind)]


# -- Step Functions


def test_a_failed_execution_is_started_again_by_the_retry(run: Run) -> None:
    run.aws.fail("curate#1", "injected: try 1 fails")
    task, context = run.attempt("curate", 1)
    with pytest.raises(Exception, match="FAILED|failed"):
        resumed(task, context, deferred(task, context))
    task, context = run.attempt("curate", 2)
    deferral = deferred(task, context)
    assert deferral.trigger.serialize()[0].startswith("airflow.providers.amazon.")  # all the triggerer imports
    arn = resumed(task, context, deferral)
    first, second = records(run.aws, "execution")
    assert (str(first.status), str(second.status)) == ("FAILED", "SUCCEEDED")
    assert arn == second.execution_arn != first.execution_arn
    assert run.pushed[("curate", 2)]["output"] == {"bucket": "curated"}  # what the old _wait sensor pushed


def test_a_retry_after_a_lost_start_response_adopts_the_execution(run: Run) -> None:
    run.aws.lose_first_response("curate#1")
    task, context = run.attempt("curate", 1)
    with pytest.raises(Exception, match="response was lost"):
        task.execute(context)
    task, context = run.attempt("curate", 2)
    arn = _finish(task, context)
    (execution,) = records(run.aws, "execution")
    assert arn == execution.execution_arn and str(execution.status) == "SUCCEEDED"
    assert execution.name.startswith("curate-")


def _finish(task: Any, context: dict[str, Any]) -> Any:
    """Execute one try to its end: it adopts a finished execution at once, or waits for it in the trigger."""
    try:
        return task.execute(context)
    except TaskDeferred as deferral:
        return resumed(task, context, deferral)


def test_a_retry_while_the_execution_still_runs_waits_for_it(run: Run) -> None:
    machine = run.aws.client("stepfunctions").create_state_machine(
        name="slow", definition=json.dumps(SLOW), roleArn="arn:aws:iam::123456789012:role/dagen-local"
    )["stateMachineArn"]
    run.params["machine"] = machine
    task, context = run.attempt("curate", 1)
    first = deferred(task, context)  # try 1 waits, then its worker is lost
    task, context = run.attempt("curate", 2)
    second = deferred(task, context)
    (execution,) = records(run.aws, "execution")
    assert second.trigger.serialize()[1]["execution_arn"] == first.trigger.serialize()[1]["execution_arn"]
    assert str(execution.status) == "RUNNING"


def test_a_cleared_task_runs_its_execution_again_even_after_a_success(run: Run) -> None:
    task, context = run.attempt("curate", 1)
    assert _finish(task, context)
    task, context = run.attempt("curate", 2, max_tries=1 + RETRIES)  # cleared after try 1
    _finish(task, context)
    assert [str(execution.status) for execution in records(run.aws, "execution")] == ["SUCCEEDED", "SUCCEEDED"]


def test_a_retry_after_a_success_it_did_not_see_starts_nothing(run: Run) -> None:
    task, context = run.attempt("curate", 1)
    arn = _finish(task, context)  # the execution succeeded, then try 1 was lost before it ended
    task, context = run.attempt("curate", 2)
    assert task.execute(context) == arn  # no deferral: the result is there
    assert len(records(run.aws, "execution")) == 1
    assert run.pushed[("curate", 2)]["output"] == {"bucket": "curated"}


# -- EMR notebooks


def poke_until_done(task: Any, context: dict[str, Any], pokes: int = 10) -> bool:
    """Poke as Airflow's reschedules do; True once the execution finished (a failed one raises)."""
    for _ in range(pokes):
        if task.poke(context):
            return True
    return False


def test_a_failed_notebook_execution_is_started_again_by_the_retry(run: Run) -> None:
    run.aws.fail("report#1", "injected: try 1 fails")
    task, context = run.attempt("report", 1)
    with pytest.raises(Exception, match="failed"):
        poke_until_done(task, context)
    task, context = run.attempt("report", 2)
    assert poke_until_done(task, context)
    first, second = records(run.aws, "notebook_execution")
    assert (first.state, second.state) == ("FAILED", "FINISHED")
    assert _tags(first)["dagen:try"] == "1" and _tags(second)["dagen:try"] == "2"
    assert _tags(second)["team"] == "analytics"  # the spec's own tags are kept
    assert _tags(first)["dagen:task-run"] == _tags(second)["dagen:task-run"]


def _tags(execution: Any) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in execution.describe()["Tags"]}


def test_a_notebook_retry_after_a_lost_start_response_adopts_the_execution(run: Run) -> None:
    run.aws.lose_first_response("report#1")
    task, context = run.attempt("report", 1)
    with pytest.raises(Exception, match="response was lost"):
        task.poke(context)
    task, context = run.attempt("report", 2)
    assert poke_until_done(task, context)
    (execution,) = records(run.aws, "notebook_execution")
    assert execution.state == "FINISHED" and _tags(execution)["dagen:try"] == "1"


def test_a_notebook_retry_while_the_execution_still_runs_waits_for_it(run: Run) -> None:
    task, context = run.attempt("report", 1)
    assert task.poke(context) is False  # started; then try 1's worker is lost
    task, context = run.attempt("report", 2)
    assert task.poke(context) is False  # still running: waited for, not started again
    assert len(records(run.aws, "notebook_execution")) == 1
    assert poke_until_done(task, context)
    (execution,) = records(run.aws, "notebook_execution")
    assert execution.state == "FINISHED"


def test_a_cleared_notebook_task_runs_again(run: Run) -> None:
    task, context = run.attempt("report", 1)
    assert poke_until_done(task, context)
    task, context = run.attempt("report", 2, max_tries=1 + RETRIES)
    assert poke_until_done(task, context)
    assert [execution.state for execution in records(run.aws, "notebook_execution")] == ["FINISHED", "FINISHED"]


# -- EMR Serverless and EMR on EKS job runs (single tasks whose client token used to hand a retry its failed run)

JOB_RUNS = {
    "serverless": ("serverless_job_run", "emr-serverless", "SUCCESS"),
    "eks": ("eks_job_run", "emr-containers", "COMPLETED"),
}


def _job_state(run: Run, task_id: str, job_run: Any) -> str:
    kind, service, _ = JOB_RUNS[task_id]
    client = run.aws.client(service)
    if task_id == "serverless":
        return str(
            client.get_job_run(applicationId=run.params["application_id"], jobRunId=job_run.id)["jobRun"]["state"]
        )
    return str(
        client.describe_job_run(id=job_run.id, virtualClusterId=run.params["virtual_cluster_id"])["jobRun"]["state"]
    )


def _until(predicate: Callable[[], bool]) -> None:
    for _ in range(10):
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("the job run never got there")


def _job_of(deferral: Any) -> str:
    return str(deferral.trigger.serialize()[1]["job_id"])


@pytest.mark.parametrize("task_id", sorted(JOB_RUNS))
def test_a_failed_job_run_is_started_again_by_the_retry(run: Run, task_id: str) -> None:
    kind, _, done = JOB_RUNS[task_id]
    run.aws.fail(f"{task_id}#1", "injected: try 1 fails")
    task, context = run.attempt(task_id, 1)
    first = deferred(task, context)
    (failed,) = records(run.aws, kind)
    _until(lambda: _job_state(run, task_id, failed) == "FAILED")  # what the trigger would see
    task, context = run.attempt(task_id, 2)
    second = deferred(task, context)
    failed, new = records(run.aws, kind)
    assert (_job_of(first), _job_of(second)) == (failed.id, new.id)
    _until(lambda: _job_state(run, task_id, new) == done)
    assert _job_state(run, task_id, failed) == "FAILED"


def _job_of_try(task: Any, context: dict[str, Any]) -> str:
    """The job run a try waits for (deferred) or returns (it already ended)."""
    try:
        return str(task.execute(context))
    except TaskDeferred as deferral:
        return _job_of(deferral)


@pytest.mark.parametrize("task_id", sorted(JOB_RUNS))
def test_a_job_run_retry_after_a_lost_start_response_adopts_it(run: Run, task_id: str) -> None:
    kind = JOB_RUNS[task_id][0]
    run.aws.lose_first_response(f"{task_id}#1")
    task, context = run.attempt(task_id, 1)
    with pytest.raises(Exception, match="response was lost"):
        task.execute(context)
    task, context = run.attempt(task_id, 2)
    adopted = _job_of_try(task, context)
    (job_run,) = records(run.aws, kind)
    assert adopted == job_run.id


@pytest.fixture
def slow_job_runs() -> Iterator[None]:
    """Job runs that take ten polls per state (moto's state manager), so a retry finds one running."""
    from moto.moto_api import state_manager

    models = ("emr-serverless::job_run", "emr-containers::job_run")
    for model in models:
        state_manager.set_transition(model, {"progression": "manual", "times": 10})
    yield
    for model in models:
        state_manager.unset_transition(model)


@pytest.mark.parametrize("task_id", sorted(JOB_RUNS))
def test_a_job_run_retry_while_the_job_run_still_runs_waits_for_it(run: Run, task_id: str, slow_job_runs: None) -> None:
    kind = JOB_RUNS[task_id][0]
    task, context = run.attempt(task_id, 1)
    first = deferred(task, context)  # try 1 waits, then its worker is lost
    task, context = run.attempt(task_id, 2)
    second = deferred(task, context)
    (job_run,) = records(run.aws, kind)
    assert _job_of(first) == _job_of(second) == job_run.id
    assert _job_state(run, task_id, job_run) not in ("FAILED", "SUCCESS", "COMPLETED")


# ----------------------------------------------------------------------------- through dagen run --local


@pytest.fixture(scope="module")
def local_runs(request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """``local_runs(spec, *options)``: ``dagen run SPEC --local OPTIONS`` (real Airflow), made once per module."""
    from generator.local.command import run_local

    cache = request.config.cache
    assert cache is not None
    done: dict[tuple[str, ...], Any] = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAGEN_CACHE_DIR", str(cache.mkdir("dagen-local-run")))
        patch.chdir(REPO)

        def run_once(spec: str, flag: str, task: str) -> Any:
            key = (spec, flag, task)
            if key not in done:
                done[key] = run_local(spec, params=[], **{"fail": [], "flaky": [], flag: [task]})
            return done[key]

        yield run_once


def _report(outcome: Any) -> dict[str, Any]:
    assert outcome.report is not None, outcome.output
    return dict(outcome.report)


@pytest.mark.parametrize(
    ("spec", "task", "kind", "retries"),
    [
        ("tests/local_run/curate_only.yaml", "curate", "executions", 1),
        ("pipelines/emr_notebook_best_sellers.yaml", "find_best_sellers", "notebook_executions", 2),
    ],
)
def test_local_run_every_try_of_a_failing_task_starts_its_own_execution(
    local_runs: Callable[..., Any], spec: str, task: str, kind: str, retries: int
) -> None:
    report = _report(local_runs(spec, "fail", task))
    assert report["state"] == "failed"
    row = next(row for row in report["tasks"] if row["task_id"] == task)
    assert (row["state"], row["try_number"]) == ("failed", retries + 1)
    started = report["emulator"][kind]
    assert [item["state"] for item in started] == ["FAILED"] * (retries + 1)
    assert {item["origin"] for item in started} == {task}
    assert not any(row["task_id"].endswith("_wait") for row in report["tasks"])


@pytest.mark.parametrize(
    ("spec", "task", "kind", "done"),
    [
        ("tests/local_run/curate_only.yaml", "curate", "executions", "SUCCEEDED"),
        ("pipelines/emr_notebook_best_sellers.yaml", "find_best_sellers", "notebook_executions", "FINISHED"),
    ],
)
def test_local_run_a_retry_after_a_lost_start_response_adopts_the_execution(
    local_runs: Callable[..., Any], spec: str, task: str, kind: str, done: str
) -> None:
    report = _report(local_runs(spec, "flaky", task))
    assert report["state"] == "success"
    row = next(row for row in report["tasks"] if row["task_id"] == task)
    assert (row["state"], row["try_number"]) == ("success", 2)
    assert "response was lost" in row["errors"][0]
    (execution,) = report["emulator"][kind]
    assert execution["state"] == done
