"""What the compiler emits must fit the operators installed in this lane.

Every keyword exists in the operator's signature (provider drift fails CI, not
production), and every value carrying a Jinja template goes to a templated field
(otherwise Airflow would pass ``{{ ... }}`` through unrendered).
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any

import pytest

from generator.compile.build import airflow_major
from generator.compile.pipelines import process
from generator.core.model import OperatorTask
from generator.core.provider_profile import installed_profile
from generator.task_types import TASK_TYPES
from tests.airflow_compat import dagbag, graph

SPECS = ["pipelines", "tests/specs", "tests/specs_features", "tests/local_run/control_flow.yaml"]


def lowered_tasks(repo: Path) -> list[OperatorTask]:
    from generator.compile.lower import lower

    results = process([repo / path for path in SPECS], profile=installed_profile(), airflow_major=airflow_major())
    assert all(result.spec is not None for result in results), [r.diagnostics for r in results]
    return [task for result in results for task in lower(result.spec, installed_profile()).tasks]


def operator_class(path: str) -> type:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def accepted_keywords(cls: type) -> set[str]:
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        names |= {
            p.name
            for p in inspect.signature(init).parameters.values()
            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "self"
        }
    return names


def templated(value: Any) -> bool:
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, dict):
        return any(templated(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(templated(v) for v in value)
    return False


@pytest.fixture(scope="module")
def tasks(repo: Path) -> list[OperatorTask]:
    return lowered_tasks(repo)


def lane_operators(name: str, module: Any) -> list[str]:
    """The operators a task type lowers to in this lane (some types pick one per provider line)."""
    profile = installed_profile()
    if name == "glue_crawler":
        return [op for op in module.OPERATORS if op.endswith("RunOperator") == profile.crawler_run_operator]
    if name == "python":
        return [module.python_operator(profile)]
    if name == "branch":
        return [module.BRANCH[profile.standard_provider]]
    return list(module.OPERATORS)


def test_every_task_type_is_exercised(repo: Path, tasks: list[OperatorTask]) -> None:
    emitted = {task.operator for task in tasks}
    for name, module in TASK_TYPES.items():
        assert set(lane_operators(name, module)) <= emitted, name
    # the escape hatch names no operator of its own: the specs must still use it
    results = process([repo / path for path in SPECS], profile=installed_profile(), airflow_major=airflow_major())
    used = {task.type for result in results if result.spec for task in result.spec.tasks}
    assert used == set(TASK_TYPES)


# Keys dag-factory consumes before it instantiates the operator (HttpSensor: the response check; a mapped
# task: what it expands over).
DAG_FACTORY_KEYS = {"response_check_lambda", "expand"}


def test_keywords_exist_in_operator_signatures(tasks: list[OperatorTask]) -> None:
    problems = []
    for task in tasks:
        unknown = set(task.kwargs) - accepted_keywords(operator_class(task.operator)) - DAG_FACTORY_KEYS
        if unknown:
            problems.append(f"{task.task_id}: {task.operator} has no {sorted(unknown)}")
    assert problems == []


# Keyword -> attribute where an operator stores an argument under another name (providers 9.0).
STORED_AS = {"state_machine_input": "input"}


def test_templates_only_go_to_templated_fields(tasks: list[OperatorTask]) -> None:
    problems = []
    for task in tasks:
        fields = set(operator_class(task.operator).template_fields)
        for key, value in task.kwargs.items():
            if templated(value) and key not in fields and STORED_AS.get(key) not in fields and key != "doc_md":
                problems.append(f"{task.task_id}.{key} is templated but {task.operator} does not render it")
    assert problems == []


def test_catalogue_builds(repo: Path, tmp_path: Path) -> None:
    import shutil

    dags = tmp_path / "dags"
    shutil.copytree(repo / "dags", dags)
    shutil.copytree(repo / "tests" / "specs", dags / "pipelines")
    bag = dagbag(dags)
    assert bag.import_errors == {}
    dag = bag.dags["catalogue"]
    assert "dagen:invalid-spec" not in dag.tags
    shape = graph(dag)
    assert shape["terminate_groups"]["role"] == "teardown"
    assert shape["terminate_fleets"]["upstream"] == ["create_fleets", "jar_step", "jar_step_2"]
    assert shape["create_groups"]["upstream"] == ["wait_for_nothing"]
    assert dag.params["limit"] == 20
    assert dag.get_task("glue_shell").run_job_kwargs == {"Timeout": 120, "MaxCapacity": 1}
    assert dag.get_task("spark_step").retries == 0
    assert dag.default_args["retries"] == 1
