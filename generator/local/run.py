"""One pipeline run in real Airflow against the local AWS emulator (the worker of ``dagen run --local``).

``dagen run`` (:mod:`generator.local.command`) validates the input, prepares an
isolated Airflow home and starts ``python -m generator.local.run REQUEST`` with
an environment that can only reach the emulator.  This process then:

1. guards the network (:mod:`generator.local.network_guard`: loopback only, in this
   process and the Python processes its tasks start) and starts the emulator
   (:mod:`generator.local.emulator`) on 127.0.0.1;
2. creates what the pipeline refers to (:mod:`generator.local.resources`), starts
   the loopback HTTP and SMTP endpoints it talks to (:mod:`generator.local.endpoints`)
   and exports the Airflow Variables and connections that point at them
   (``AIRFLOW_VAR_*``, ``AIRFLOW_CONN_*``: environment only, never a metadata DB;
   every AWS client and connection goes to the emulator, :mod:`generator.local.connections`),
   and ``DAGEN_PIPELINES_DIR`` for ``python`` tasks and callbacks;
3. builds the DAG exactly as the loader does (``pipelines.process`` +
   ``build.build_dag``), then only retunes the built tasks: every poll, waiter
   and retry delay becomes about a second, and callbacks tell the emulator
   which task is calling (a member of a mapped task as ``TASK[INDEX]``; and put
   the objects an ``s3_wait`` task waits for or a ``run_if: {s3_exists: ...}``
   check reads, unless ``--absent`` names them, :mod:`generator.local.sensor_objects`)
   and record each failure; the DAG's shape is untouched (``--target mwaa-serverless``:
   dag-factory builds the workflow instead, :mod:`generator.local.serverless_run`);
4. runs it with ``dag.test()`` (deferrable triggers run inline) at the logical
   date asked for (``--logical-date``; else now) and writes a JSON report: the
   logical date, each task's final state, duration and try (one row per member of
   a mapped task), what happened in the emulator, the objects withheld, and every
   socket call the network guard allowed or refused.  The emulator is stopped
   whatever happens.

Under Airflow 3, ``dag.test()`` needs the DAG in a bundle; the run's DAGs folder
holds one file that calls :func:`bundle_dag`, the same build.
"""

from __future__ import annotations

import copy
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from generator.compile.dagfactory_config import airflow_task_id
from generator.compile.pipelines import MWAA, MWAA_SERVERLESS
from generator.local.asset_events import asset_events
from generator.local.child import exit_on_interrupt
from generator.local.connections import emulator_environment
from generator.local.emulator import LocalAws
from generator.local.emulator.shared import member_id, split_member
from generator.local.endpoints import LocalEndpoints
from generator.local.network_guard import NetworkGuard
from generator.local.progress import announce
from generator.local.workflow_dag import workflow_dag, workflow_order
from generator.spec.normalise import format_duration

REQUEST_ENV = "DAGEN_LOCAL_RUN_REQUEST"
FAST_SECONDS = 1
# Every attribute through which the lane's operators, sensors and triggers poll.
POLL_ATTRIBUTES = ("poke_interval", "waiter_delay", "job_poll_interval", "poll_interval", "sleep_time")
INJECTED_CAUSE = "injected by dagen run --fail {task}"


@dataclass
class RunRequest:
    """What the parent asks for (written as JSON into the run folder)."""

    spec_path: str
    root: str
    dag_id: str
    region: str
    conn_id: str
    report_path: str
    params: dict[str, Any] = field(default_factory=dict)  # overrides only (--param)
    fail: list[str] = field(default_factory=list)  # spec task ids, or TASK[INDEX]: one member of a mapped task
    flaky: list[str] = field(default_factory=list)
    logical_date: str | None = None  # ISO date-time with its offset (--logical-date); None: now
    absent: list[str] = field(default_factory=list)  # S3 URIs (a prefix ends in /) never provided (--absent)
    target: str = MWAA  # or MWAA_SERVERLESS: the workflow dag-factory loads (generator.local.serverless_run)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> RunRequest:
        return cls(**json.loads(Path(path).read_text(encoding="utf-8")))


_EMULATOR: LocalAws | None = None
_ERRORS: dict[str, list[str]] = {}
_SPANS: dict[str, list[float]] = {}  # row id -> [first start, last end] (Airflow 2's dag.test keeps no dates)
_ABSENT: list[str] = []  # --absent URIs
_WITHHELD: list[dict[str, str]] = []  # the objects --absent kept from the tasks that wait for or check them


def _ti_id(ti: Any) -> str:
    return member_id(ti.task_id, getattr(ti, "map_index", None))


def _attribute_calls(context: Any) -> None:
    """on_execute_callback: the emulator's calls from now on are this task's (dag.test runs tasks one at a time).

    A member of a mapped task calls as ``TASK[INDEX]`` (a fault on ``TASK`` applies to every member).  It runs
    after the task's templates are rendered: an ``s3_wait`` task's object, or the object a ``run_if:
    {s3_exists: ...}`` check reads, is put at the key it rendered for this run (unless ``--absent`` names it).
    """
    origin = _ti_id(context["ti"])
    _SPANS.setdefault(origin, [time.monotonic(), time.monotonic()])
    announce(origin, "running")  # the progress lines of dagen run (generator.local.progress)
    if _EMULATOR is not None:
        from generator.local.sensor_objects import provide_objects

        _EMULATOR.attribute_to(origin)
        provide_objects(_EMULATOR, context["task"], origin, absent=_ABSENT, withheld=_WITHHELD)


def _record_end(context: Any, state: str = "success") -> None:
    span = _SPANS.get(_ti_id(context["ti"]))
    if span is not None:
        span[1] = time.monotonic()
    announce(_ti_id(context["ti"]), state, span)
    if _EMULATOR is not None:  # what follows (the next task, the DAG's own callbacks) is not this task's
        _EMULATOR.attribute_to(None)


def _record_error(context: Any, state: str = "failed") -> None:
    """on_failure/on_retry callback: keep the error of each failed try for the report."""
    _record_end(context, state)
    error = context.get("exception")
    if error is not None:
        _ERRORS.setdefault(_ti_id(context["ti"]), []).append(f"{type(error).__name__}: {error}")


def _record_retry(context: Any) -> None:
    _record_error(context, "up_for_retry")


def _fresh(callback: Any) -> Any:
    """The callback, copied for each call.

    A notifier renders its templates in place; in a deployment every try runs with a freshly parsed DAG,
    but dag.test() shares one DAG, so a notifier shared by all tasks (``default_args``) would keep the
    first task's rendered subject.
    """

    def call(context: Any) -> Any:
        return copy.deepcopy(callback)(context)

    call.__name__ = getattr(callback, "__name__", type(callback).__name__)
    return call


def _callbacks(existing: Any, extra: Any) -> list[Any]:
    if existing is None:
        return [extra]
    return [*(_fresh(callback) for callback in (existing if isinstance(existing, list) else [existing])), extra]


def speed_up(dag: Any) -> None:
    """Poll, wait and retry about every second; attribute emulator calls to tasks.  No task or edge changes."""
    for task in dag.tasks:
        for attribute in POLL_ATTRIBUTES:
            if hasattr(task, attribute):
                setattr(task, attribute, FAST_SECONDS)
        task.retry_delay = timedelta(seconds=FAST_SECONDS)
        task.max_retry_delay = timedelta(seconds=2 * FAST_SECONDS)
        task.on_execute_callback = _callbacks(task.on_execute_callback, _attribute_calls)
        task.on_failure_callback = _callbacks(task.on_failure_callback, _record_error)
        task.on_retry_callback = _callbacks(task.on_retry_callback, _record_retry)
        task.on_success_callback = _callbacks(task.on_success_callback, _record_end)


def _called_with_the_dag(dag: Any, callback: Any) -> Any:
    def call(context: Any) -> Any:
        return callback({**context, "dag": dag})

    call.__name__ = getattr(callback, "__name__", type(callback).__name__)
    return call


def give_dag_callbacks_the_dag(dag: Any) -> None:
    """Airflow 3's dag.test() hands the DAG's own callbacks a SerializedDAG, which cannot render a notifier's
    templates (apache/airflow#64649: they fail with ``'SerializedDAG' object has no attribute
    'get_template_env'``).  In a deployment the DAG processor runs them with the DAG it parsed: give them the
    DAG this run built.  Airflow 2 already does."""
    for attribute in ("on_success_callback", "on_failure_callback"):
        callbacks = getattr(dag, attribute, None)
        if callbacks:
            listed = callbacks if isinstance(callbacks, list) else [callbacks]
            setattr(dag, attribute, [_called_with_the_dag(dag, callback) for callback in listed])


def _process(request: RunRequest) -> Any:
    from generator.compile.build import airflow_major
    from generator.compile.pipelines import process
    from generator.core.provider_profile import installed_profile

    result = process(
        [Path(request.spec_path)], profile=installed_profile(), airflow_major=airflow_major(), root=Path(request.root)
    )[0]
    if not result.ok:  # the parent validated the spec; only a file changed since can get here
        raise RuntimeError("\n".join(d.text() for d in result.diagnostics))
    return result


def build_local_dag(request: RunRequest) -> Any:
    """The pipeline's DAG, built by the loader's code path (the workflow by dag-factory's), then retuned."""
    from generator.compile.build import build_dag

    if request.target == MWAA_SERVERLESS:
        return workflow_dag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"], request.dag_id)  # retuned by the DAG file
    result = _process(request)
    return retune(build_dag(result.dag_id, result.config))


def retune(dag: Any) -> Any:
    """What a local run changes in a built DAG: it is sped up, and on Airflow 3 its callbacks get the DAG and
    its SLA is left to the (absent) scheduler."""
    from generator.compile.build import airflow_major

    speed_up(dag)
    if airflow_major() >= 3:
        give_dag_callbacks_the_dag(dag)
        # An SLA is the scheduler's business (no scheduler runs here), and Airflow 3's dag.test() cannot even
        # finish a run of a DAG with a Deadline Alert: it looks the alerts up by the ids only the DAG
        # processor gives them.  The run report says the SLA was not evaluated.
        dag.deadline = None
    return dag


def bundle_dag() -> Any:
    """What the run's DAG file calls (Airflow 3's dag.test() reads the DAG from a bundle)."""
    return build_local_dag(RunRequest.load(os.environ[REQUEST_ENV]))


def package_parent() -> str:
    """The folder holding the ``generator`` package (a run's DAG file puts it on ``sys.path``)."""
    return str(Path(__file__).resolve().parents[2])


def bundle_file_text() -> str:
    return (
        "# Airflow DAG file of a `dagen run --local` run: builds the one pipeline DAG of this run.\n"
        "import sys\n\n"
        f"sys.path.insert(0, {package_parent()!r})\n"
        "from generator.local.run import bundle_dag  # noqa: E402\n\n"
        "dag = bundle_dag()\n"
    )


def pipelines_folder_of(spec_path: str | Path) -> Path:
    """Where ``python`` tasks and callbacks find their modules: the ``pipelines/`` folder holding the spec
    (the loader's convention, subfolders included), else the spec's own folder."""
    spec = Path(spec_path).resolve()
    return next((folder for folder in spec.parents if folder.name == "pipelines"), spec.parent)


def _export_environment(aws: LocalAws, request: RunRequest, config: dict[str, Any], variables: dict[str, str]) -> None:
    from generator.runtime.pipeline_modules import PIPELINES_ENV

    for name, value in variables.items():
        os.environ[f"AIRFLOW_VAR_{name.upper()}"] = value
    os.environ.setdefault(PIPELINES_ENV, str(pipelines_folder_of(request.spec_path)))
    os.environ.update(emulator_environment(aws, config, request.conn_id))


def fail_tasks_whose_trigger_fails() -> None:
    """Airflow 2.10's dag.test() loops forever when an inline trigger raises (the task is never marked failed).

    Do what the triggerer does instead: resume the task with ``next_method="__fail__"``, so
    it fails through its normal path (retries, callbacks).  Airflow 3 already does this.
    """
    import airflow.models.dag as dag_module
    from airflow.exceptions import TaskDeferred

    def run_task(*, ti: Any, inline_trigger: bool = False, mark_success: bool = False, session: Any) -> None:
        while True:
            try:
                ti._run_raw_task(session=session, raise_on_defer=inline_trigger, mark_success=mark_success)
                break
            except TaskDeferred as deferred:
                try:
                    event = dag_module._run_inline_trigger(deferred.trigger)
                except Exception as error:  # noqa: BLE001 - any trigger error fails the task, as in the triggerer
                    ti.next_method = "__fail__"
                    ti.next_kwargs = {
                        "error": f"Trigger failure: {error}",
                        "traceback": [f"{type(error).__name__}: {error}"],
                    }
                else:
                    ti.next_method = deferred.method_name
                    ti.next_kwargs = {"event": event.payload} if event else deferred.kwargs
            session.merge(ti)
            session.commit()

    dag_module._run_task = run_task


def _state(value: Any) -> str:
    return str(getattr(value, "value", value) or "none")


def airflow_task_ids(config: dict[str, Any]) -> dict[str, str]:
    """Spec task id -> Airflow task id (a task in a group is ``GROUP.TASK`` in Airflow)."""
    return {task_id: airflow_task_id(task_id, task) for task_id, task in (config.get("tasks") or {}).items()}


def _map_index(ti: Any) -> int:
    index = getattr(ti, "map_index", None)
    return -1 if index is None else int(index)


def _task_rows(dag_run: Any, order: list[str]) -> list[dict[str, Any]]:
    """One row per task instance, in ``order``: a mapped task has one per member (``load_file[0]``...), in
    index order, or its one unexpanded instance (``load_file``, skipped when it mapped no items)."""
    rows = []
    by_id: dict[str, list[Any]] = {}
    for ti in dag_run.get_task_instances():
        by_id.setdefault(ti.task_id, []).append(ti)
    for task_id in order:
        instances = by_id.get(task_id, [])
        members = sorted((ti for ti in instances if _map_index(ti) >= 0), key=_map_index)
        for ti in members or instances[:1]:
            row_id = member_id(task_id, _map_index(ti))
            span = _SPANS.get(row_id)
            duration = span[1] - span[0] if span else 0.0
            rows.append(
                {
                    "task_id": row_id,
                    "map_index": _map_index(ti),
                    "state": _state(ti.state),
                    "duration": round(float(duration or 0.0), 2),
                    "try_number": int(ti.try_number or 0),
                    "errors": list(_ERRORS.get(row_id, [])),
                }
            )
    return rows


def airflow_member(airflow_ids: dict[str, str], name: str) -> str:
    """``TASK`` or ``TASK[INDEX]`` (spec ids, checked by the command) with Airflow's task id (``GROUP.TASK``)."""
    parts = split_member(name)
    assert parts is not None
    task_id, index = parts
    return member_id(airflow_ids.get(task_id, task_id), index)


def _logical_date_of(dag_run: Any) -> str | None:
    value = getattr(dag_run, "logical_date", None) or getattr(dag_run, "execution_date", None)
    return value.isoformat() if value is not None else None


def _test(dag: Any, request: RunRequest, major: int) -> Any:
    """``dag.test()`` at the requested logical date (Airflow 2.10 calls it ``execution_date``)."""
    conf = dict(request.params) or None
    when = None if request.logical_date is None else datetime.fromisoformat(request.logical_date)
    if when is None:
        return dag.test(run_conf=conf)
    if major >= 3:
        return dag.test(logical_date=when, run_conf=conf)
    return dag.test(execution_date=when, run_conf=conf)


def run(request: RunRequest) -> dict[str, Any]:
    """Run the pipeline once on a fresh emulator; return the report (plain data)."""
    global _EMULATOR
    started = time.monotonic()
    aws = LocalAws(region=request.region)
    guard = NetworkGuard(origin=lambda: aws.origin).install()
    os.environ.update(guard.subprocess_environment())
    report: dict[str, Any] = {"dag_id": request.dag_id, "file": request.spec_path}
    endpoints: LocalEndpoints | None = None
    try:
        aws.start()
        _EMULATOR = aws
        report["endpoint_url"] = aws.endpoint_url
        result = _process(request)
        from generator.local.resources import create_local_resources

        params = {param.name: param.default for param in result.spec.params}
        params.update(request.params)
        resources = create_local_resources(aws, result.config, params)
        _export_environment(aws, request, result.config, resources.variables)
        endpoints = LocalEndpoints(result.config, lambda: aws.origin).start()
        os.environ.update(endpoints.environment())  # after the emulator's: the stand-ins' connections win
        airflow_ids = airflow_task_ids(result.config)
        for task_id in request.fail:
            aws.fail(airflow_member(airflow_ids, task_id), INJECTED_CAUSE.format(task=task_id))
        for task_id in request.flaky:
            aws.lose_first_response(airflow_member(airflow_ids, task_id))
        _ABSENT[:] = request.absent
        _WITHHELD.clear()
        report["variables"] = {name: [value, resources.notes[name]] for name, value in resources.variables.items()}
        report["buckets"] = resources.buckets
        report["named_resources"] = resources.named
        report["endpoints"] = list(endpoints.notes())
        report["skipped_resources"] = resources.skipped
        report["params"] = params
        if result.spec.sla is not None:
            report["sla_not_evaluated"] = format_duration(result.spec.sla.total_seconds())
        dag = build_local_dag(request)
        from generator.compile.build import airflow_major

        major = airflow_major()
        if major < 3:
            fail_tasks_whose_trigger_fails()
            # Airflow 2's dag.test() does not write the DAG to the metadata DB, so the datasets of its outlets
            # are unknown and their events dropped ("DatasetModel ... not found"); the DAG processor of a
            # deployment writes it when it parses the file.  Airflow 3's dag.test() does this itself.
            dag.sync_to_db()
        ready = time.monotonic()
        dag_run = _test(dag, request, major)
        finished = time.monotonic()
        report["state"] = _state(dag_run.state)
        report["logical_date"] = _logical_date_of(dag_run)
        report["absent"] = {"uris": list(request.absent), "withheld": [dict(item) for item in _WITHHELD]}
        order = list(airflow_ids.values())
        if request.target == MWAA_SERVERLESS:  # and the workflow's sensors, final check and notifications
            order = workflow_order(order, dag.task_ids)
        report["tasks"] = _task_rows(dag_run, order)
        report["emulator"] = {**aws.snapshot(), **endpoints.snapshot()}
        report["asset_events"] = asset_events(dag_run)
        report["lost_responses"] = [list(item) for item in aws.lost_responses]
        report["network"] = guard.snapshot()
        report["timings"] = {"setup": round(ready - started, 2), "dag_test": round(finished - ready, 2)}
    finally:
        _EMULATOR = None
        if endpoints is not None:
            endpoints.stop()
        aws.stop()
        guard.uninstall()
    report["timings"]["total"] = round(time.monotonic() - started, 2)
    return report


def main(argv: list[str] | None = None) -> int:
    exit_on_interrupt()
    request = RunRequest.load((sys.argv[1:] if argv is None else argv)[0])
    Path(request.report_path).write_text(json.dumps(run(request), indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    # The imported module, not this __main__ copy: the run's DAG file imports it (one emulator reference).
    from generator.local.run import main as module_main

    sys.exit(module_main())
