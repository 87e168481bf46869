"""A task process builds its DAG without dag-factory: the same DAG, for every spec of the repository.

generator.compile.direct_build reproduces dag-factory's DagBuilder for the
configurations the compiler emits; here each spec that validates is built both
ways and the two DAGs compared as Airflow stores them for the scheduler, task
order and callbacks included (callbacks are not serialized, and a task process
runs them).  A configuration with anything else is left to dag-factory.
"""

from __future__ import annotations

import subprocess
import sys
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from generator.compile import direct_build
from generator.compile.build import airflow_major, build_dag
from generator.compile.constructed import materialise
from generator.compile.pipelines import process
from generator.core.provider_profile import installed_profile
from tests.airflow_compat import serialized

REPO = Path(__file__).resolve().parent.parent
HTTP = "airflow.providers.http"
SPECS = sorted(
    path.relative_to(REPO).as_posix()
    for pattern in (
        "pipelines/*.yaml",
        "tests/specs/*.yaml",
        "tests/provider_examples/*.yaml",
        "tests/local_run/*.yaml",
        "tests/cases/valid_*/pipeline.yaml",
    )
    for path in REPO.glob(pattern)
    if path.name != "defaults.yaml"
)


def _callback(value: Any) -> Any:
    """A callback as data: a notifier by class and state, a partial by function and arguments."""
    if isinstance(value, partial):
        return ("partial", value.func, value.args, value.keywords)
    if isinstance(value, list):
        return [_callback(item) for item in value]
    if hasattr(value, "notify"):
        return (type(value), vars(value))
    return value


def _callbacks(dag: Any) -> dict[str, Any]:
    names = ("on_success_callback", "on_failure_callback", "sla_miss_callback")
    found = {name: _callback(getattr(dag, name, None)) for name in names}
    found.update({f"default_args.{k}": _callback(v) for k, v in dag.default_args.items() if k.endswith("_callback")})
    for task in dag.tasks:
        for name in direct_build.TASK_CALLBACKS:
            found[f"{task.task_id}.{name}"] = _callback(getattr(task, name, None))
        check = getattr(task, "response_check", None)  # http_wait's check, compiled from its lambda
        found[f"{task.task_id}.response_check"] = check and (check.__code__.co_code, check.__code__.co_consts)
    return found


@pytest.mark.parametrize("spec", SPECS)
def test_the_direct_build_is_the_dagfactory_build(spec: str) -> None:
    (result,) = process([REPO / spec], profile=installed_profile(), airflow_major=airflow_major())
    if not result.ok:
        pytest.fail(f"{spec} does not validate: {[d.text() for d in result.diagnostics]}")
    config = materialise(result.config)
    for key in ("dagen_teardowns", "dagen_deadline"):
        config.pop(key, None)
    assert direct_build.supports(config), "a configuration the compiler emits must build without dag-factory"
    by_dagfactory = build_dag(result.dag_id, result.config)
    direct = build_dag(result.dag_id, result.config, direct=True)
    for dag in (direct, by_dagfactory):  # the file that called DAG(): the DagBag sets the loader's after the parse
        dag.fileloc = str(REPO / "dags" / "pipelines_loader.py")
    assert serialized(direct) == serialized(by_dagfactory)
    assert list(direct.task_dict) == list(by_dagfactory.task_dict)  # the order dag-factory made them in
    assert _callbacks(direct) == _callbacks(by_dagfactory)


@pytest.mark.parametrize(
    ("change", "supported"),
    [
        ({}, True),
        ({"user_defined_macros": {"x": 1}}, False),  # a DAG key dag-factory gives a meaning
        ({"on_failure_callback_name": "f", "on_failure_callback_file": "/f.py"}, False),
        ({"tasks": {"t": {"operator": f"{HTTP}.operators.http.HttpOperator"}}}, False),  # its data rewritten
        ({"tasks": {"t": {"operator": f"{HTTP}.sensors.http.HttpSensor", "response_check_name": "f"}}}, False),
        ({"tasks": {"t": {"operator": "x.Op", "python_callable_name": "f"}}}, False),
        ({"tasks": {"t": {"operator": "x.Op", "partial": {"a": 1}}}}, False),
        ({"task_groups": {"g": {"parent_group_name": "h"}}}, False),
    ],
)
def test_anything_else_is_left_to_dagfactory(change: dict[str, Any], supported: bool) -> None:
    config = {"schedule": "none", "tasks": {"t": {"operator": "x.Op", "dependencies": []}}, **change}
    assert direct_build.supports(config) is supported


def test_a_task_process_never_imports_dagfactory(tmp_path: Path) -> None:
    """The loader file parsed as a task process parses it: the DAG is built and dag-factory never imported."""
    probe = (
        "import sys; from tests.airflow_compat import dagbag; "
        "bag = dagbag(__import__('pathlib').Path('dags/pipelines_loader.py')); "
        "print(sorted(bag.dag_ids), bag.import_errors, 'dagfactory' in sys.modules)"
    )
    environment = {
        "_AIRFLOW_PARSING_CONTEXT_DAG_ID": "salary_batch_etl",
        "DAGEN_CACHE_DIR": str(tmp_path / "cache"),
        "AIRFLOW_HOME": str(tmp_path / "home"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, env=environment, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines()[-1] == "['salary_batch_etl'] {} False"
