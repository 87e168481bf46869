"""Phase 5, build in a task process: the DAG straight from a dag-factory configuration, without dag-factory.

A task process (Airflow's parsing context names its DAG) builds one DAG and
runs one of its tasks.  Importing dag-factory costs it 0.6 s (its builder
imports the HTTP provider with aiohttp, and common.sql) where the DAG itself
builds in milliseconds, so here the configuration the compiler emits is built
as dag-factory's ``DagBuilder.build`` builds it: the same DAG arguments and
defaults, callbacks, dates, tags, task groups, task order, mapped tasks and
dependencies.  ``tests/test_direct_build.py`` holds it to that: every spec of
the repository builds the same serialized DAG, with the same callbacks, both
ways, in both lanes.

Only what the compiler emits is built here; a configuration with anything
else (a key dag-factory gives a meaning this module does not reproduce, an
HTTP or SQL operator dag-factory rewrites the arguments of) is refused by
:func:`supports` and dag-factory builds it.
"""

from __future__ import annotations

import ast
import types
from functools import partial
from typing import Any

# What build() reproduces of DagBuilder: the DAG keys the compiler emits ...
DAG_KEYS = frozenset(
    {
        "default_args",
        "description",
        "doc_md",
        "schedule",
        "catchup",
        "tags",
        "is_paused_upon_creation",
        "start_date",
        "timezone",
        "end_date",
        "max_active_runs",
        "max_active_tasks",
        "dagrun_timeout",
        "params",
        "on_failure_callback",
        "on_success_callback",
        "sla_miss_callback",
        "task_groups",
        "tasks",
    }
)
GROUP_KEYS = frozenset({"tooltip"})
# ... and the task keys DagBuilder rewrites that this module does not (it passes every other key on as is)
DAGFACTORY_TASK_KEYS = frozenset(
    {
        "partial",
        "decorator",
        "execution_date_fn",
        "execution_delta",
        "execution_date_fn_name",
        "execution_date_fn_file",
        "variables_as_arguments",
        "inlets",
        "python_callable_name",
        "python_callable_file",
        "success_check_file",
        "success_check_name",
        "success_check_lambda",
        "failure_check_file",
        "failure_check_name",
        "failure_check_lambda",
        "response_check_name",
        "response_check_file",
        "response_check_lambda",
    }
)
CALLBACKS = ("on_execute_callback", "on_success_callback", "on_failure_callback", "on_retry_callback")
TASK_CALLBACKS = (*CALLBACKS, "on_skipped_callback")
# operators whose arguments DagBuilder rewrites by class (HttpOperator, HttpSensor, SqlSensor): only the
# HttpSensor's response_check_lambda (the http_wait type's check) is reproduced
REWRITTEN_OPERATORS = ("airflow.providers.http.", "airflow.providers.common.sql.sensors.")
HTTP_SENSOR = "airflow.providers.http.sensors.http.HttpSensor"
RESPONSE_CHECK = "response_check_lambda"
PYTHON_OPERATORS = frozenset(
    f"{module}.{name}"
    for module, names in (
        ("airflow.providers.standard.operators.python", ("PythonOperator", "BranchPythonOperator")),
        ("airflow.providers.standard.sensors.python", ("PythonSensor",)),
        ("airflow.operators.python", ("PythonOperator", "BranchPythonOperator")),
        ("airflow.sensors.python", ("PythonSensor",)),
    )
    for name in names
)


def _callback_keys(values: dict[str, Any]) -> bool:
    return any(f"{name}_{part}" in values for name in TASK_CALLBACKS for part in ("name", "file"))


def supports(config: dict[str, Any]) -> bool:
    """Whether :func:`build` builds ``config`` (a materialised configuration) as dag-factory would."""
    default_args = config.get("default_args", {})  # DAG_KEYS has no DAG-level callback _name/_file key
    if (
        not DAG_KEYS.issuperset(config)
        or _callback_keys(default_args)
        or {"start_date", "end_date"} & set(default_args)
    ):
        return False
    if any(not GROUP_KEYS.issuperset(group) for group in config.get("task_groups", {}).values()):
        return False
    for task in config.get("tasks", {}).values():
        operator = task.get("operator")
        if not isinstance(operator, str) or (operator.startswith(REWRITTEN_OPERATORS) and operator != HTTP_SENSOR):
            return False
        allowed = {RESPONSE_CHECK} if operator == HTTP_SENSOR else set()
        if DAGFACTORY_TASK_KEYS.intersection(task) - allowed or any(name in task for name in TASK_CALLBACKS):
            return False
        if _callback_keys(task):
            return False
    return True


def _import(path: str) -> Any:
    from importlib import import_module

    module, _, name = path.rpartition(".")
    return getattr(import_module(module), name)


def _callback(value: Any) -> Any:
    """DagBuilder.set_callback: a dotted path, or ``{callback: path, **arguments}`` (a notifier is constructed)."""
    if isinstance(value, str):
        return _import(value)
    arguments = {key: sub for key, sub in value.items() if key != "callback"}
    function = _import(value["callback"])
    return function(**arguments) if hasattr(function, "notify") else partial(function, **arguments)


def _date(value: Any, timezone: str) -> Any:
    """dagfactory.utils.get_datetime for the ISO dates the compiler emits."""
    import pendulum

    return pendulum.parse(value).replace(tzinfo=pendulum.timezone(timezone))


def _airflow() -> tuple[Any, Any, Any, tuple[int, int]]:
    try:
        from airflow.sdk.definitions.dag import DAG
        from airflow.sdk.definitions.taskgroup import TaskGroup
    except ImportError:
        from airflow.models.dag import DAG  # type: ignore[no-redef]
        from airflow.utils.task_group import TaskGroup  # type: ignore[no-redef]
    from airflow import configuration
    from airflow.version import version

    major, minor = (int(part) for part in version.split(".")[:2])
    return DAG, TaskGroup, configuration.conf, (major, minor)


def _dag_arguments(dag_id: str, config: dict[str, Any], conf: Any, version: tuple[int, int]) -> dict[str, Any]:
    """The DAG's arguments, with DagBuilder's defaults where the configuration is silent."""
    default_args = dict(config.get("default_args", {}))
    for name in CALLBACKS:
        if name in default_args:
            default_args[name] = _callback(default_args[name])
    timezone = config.get("timezone", "UTC")
    schedule = config.get("schedule")
    arguments: dict[str, Any] = {
        "dag_id": dag_id,
        "dag_display_name": dag_id,
        "description": config.get("description"),
        "max_active_tasks": config.get("max_active_tasks", conf.getint("core", "max_active_tasks_per_dag")),
        "catchup": config.get("catchup", conf.getboolean("scheduler", "catchup_by_default")),
        "max_active_runs": config.get("max_active_runs", conf.getint("core", "max_active_runs_per_dag")),
        "dagrun_timeout": config.get("dagrun_timeout"),
    }
    if version[0] < 3:
        arguments["default_view"] = conf.get("webserver", "dag_default_view")
        arguments["orientation"] = conf.get("webserver", "dag_orientation")
    arguments.update(template_searchpath=None, render_template_as_native_obj=False)
    if version < (3, 1):
        sla_miss = config.get("sla_miss_callback")
        arguments["sla_miss_callback"] = _callback(sla_miss) if sla_miss else None
    for name in ("on_success_callback", "on_failure_callback"):
        arguments[name] = _callback(config[name]) if config.get(name) else None
    arguments.update(
        default_args=default_args,
        doc_md=config.get("doc_md"),
        access_control=None,
        is_paused_upon_creation=config.get("is_paused_upon_creation"),
        schedule=None if isinstance(schedule, str) and schedule.strip().lower() == "none" else schedule,
        params=config.get("params"),
        start_date=_date(config["start_date"], timezone) if config.get("start_date") else None,
        end_date=_date(config["end_date"], timezone) if config.get("end_date") else None,
    )
    return arguments


def _in_order(tasks: dict[str, dict[str, Any]]) -> list[str]:
    """DagBuilder.topological_sort_tasks: Kahn's algorithm, ready tasks first come first built."""
    downstream: dict[str, list[str]] = {name: [] for name in tasks}
    waiting = dict.fromkeys(tasks, 0)
    for name, task in tasks.items():
        for upstream in task.get("dependencies", []):
            if upstream in tasks:
                downstream[upstream].append(name)
                waiting[name] += 1
    ready = [name for name, count in waiting.items() if not count]
    order = []
    while ready:
        current = ready.pop(0)
        order.append(current)
        for child in downstream[current]:
            waiting[child] -= 1
            if not waiting[child]:
                ready.append(child)
    if len(order) != len(tasks):
        raise ValueError("Cycle detected in task dependencies!")
    return order


def _task(dag: Any, name: str, task: dict[str, Any], group: Any, built: dict[str, Any]) -> Any:
    """DagBuilder.make_task for the keys the compiler emits."""
    arguments = {
        key: value for key, value in task.items() if key not in ("operator", "dependencies", "task_group_name")
    }
    arguments.update(task_id=name, dag=dag, **({"task_group": group} if group is not None else {}))
    operator = _import(task["operator"])
    python = any(f"{base.__module__}.{base.__qualname__}" in PYTHON_OPERATORS for base in operator.__mro__)
    if python and isinstance(arguments.get("python_callable"), str):  # also ShortCircuitOperator, a subclass
        arguments["python_callable"] = _import(arguments["python_callable"])
    if RESPONSE_CHECK in arguments:  # dagfactory.utils.get_python_callable_lambda
        check = arguments.pop(RESPONSE_CHECK)
        if check:
            code = compile(ast.parse(check), "lambda_expr_to_callable.py", "exec")
            arguments["response_check"] = types.LambdaType(code.co_consts[0], {})
    if arguments.get("outlets"):
        try:
            from airflow.sdk.definitions.asset import Asset as Dataset
        except ImportError:
            from airflow.datasets import Dataset  # type: ignore[no-redef]
        arguments["outlets"] = [Dataset(uri) if isinstance(uri, str) else uri for uri in arguments["outlets"]]
    expand = arguments.pop("expand", None)
    if not expand:
        return operator(**arguments)
    mapped = {}
    for key, value in expand.items():  # "<airflow task id>.output": that task's XCom
        upstream = value.split(".output")[0] if isinstance(value, str) and ".output" in value else None
        mapped[key] = built[upstream].output if upstream in built else value
    return operator.partial(**arguments).expand(**mapped)


def build(dag_id: str, config: dict[str, Any]) -> Any:
    """The DAG dag-factory's DagBuilder would build from ``config`` (one that :func:`supports`)."""
    dag_class, group_class, conf, version = _airflow()
    dag = dag_class(**_dag_arguments(dag_id, config, conf, version))
    tags = list(config.get("tags", []))
    if "dagfactory" not in tags:
        tags.append("dagfactory")
    dag.tags = tags
    dag.is_dagfactory_auto_generated = True
    groups = {
        name: group_class(group_id=name, dag=dag, **group) for name, group in config.get("task_groups", {}).items()
    }
    tasks: dict[str, dict[str, Any]] = config.get("tasks", {})
    built: dict[str, Any] = {}
    for name in _in_order(tasks):
        group = groups.get(tasks[name].get("task_group_name", ""))
        task = _task(dag, name, tasks[name], group, built)
        built[task.task_id] = task
    instances = {**built, **groups}
    for name, task in tasks.items():
        source = instances[_airflow_id(name, task)]
        for upstream in task.get("dependencies", []):
            source.set_upstream(instances[_airflow_id(upstream, tasks[upstream]) if upstream in tasks else upstream])
    return dag


def _airflow_id(name: str, task: dict[str, Any]) -> str:
    group = task.get("task_group_name")
    return f"{group}.{name}" if group else name
