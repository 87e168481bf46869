"""Control flow as compiled and built: conditions, branches, trigger rules, fan-out, fragments (both lanes).

The spec using every construct is tests/local_run/control_flow.yaml (run by
test_local_run_control_flow); its DAG as MWAA's loader builds it is a golden
graph.  The runtime callables are checked on their own with the values
Airflow renders.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from airflow.exceptions import AirflowException

from generator.compile.build import airflow_major, build_dag
from generator.compile.pipelines import process
from generator.core.provider_profile import installed_profile
from generator.runtime.conditions import chosen_paths, truthy
from generator.runtime.fan_out import fill, mapped_values
from tests.airflow_compat import dagbag, graph

GOLDEN = Path(__file__).parent / "expected" / "graphs" / "control_flow.yaml"  # DAGEN_UPDATE_GOLDEN=1


@pytest.fixture(scope="module")
def control_flow(repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    dags = tmp_path_factory.mktemp("bundle") / "dags"
    dags.mkdir()
    shutil.copy(repo / "dags" / "pipelines_loader.py", dags)
    shutil.copytree(repo / "tests" / "local_run", dags / "pipelines")
    bag = dagbag(dags)
    assert bag.import_errors == {}
    return bag.dags["control_flow"]


def test_every_construct_builds_the_golden_graph(control_flow: Any) -> None:
    shape = graph(control_flow)
    if os.environ.get("DAGEN_UPDATE_GOLDEN") and airflow_major() >= 3:
        GOLDEN.write_text(yaml.safe_dump(shape, sort_keys=True), encoding="utf-8")
    assert shape == yaml.safe_load(GOLDEN.read_text(encoding="utf-8"))


def test_a_condition_is_a_short_circuit_that_skips_only_its_task(control_flow: Any) -> None:
    check = control_flow.get_task("run_if_landed")
    assert check.ignore_downstream_trigger_rules is False
    assert check.downstream_task_ids == {"landed"}
    assert check.op_args == ['{"s3_exists": "s3://dagen-flow-landing/{{ ds }}/_SUCCESS", "aws_conn_id": "aws_default"}']
    assert control_flow.get_task("run_if_weekday_report").op_args == [
        '{"python": "lib.flow_checks.is_weekday", "kwargs": {}}'
    ]


def test_a_branch_follows_each_paths_first_task(control_flow: Any) -> None:
    (paths,) = control_flow.get_task("route").op_args
    assert paths == (
        '{"paths": [{"when": {"expression": {{ (params.full_refresh) | tojson }}}, "tasks": ["full_reload"]}, '
        '{"when": {"expression": {{ (not params.full_refresh) | tojson }}}, "tasks": ["incremental"]}], '
        '"otherwise": []}'
    )


def test_a_mapped_task_expands_over_the_values_its_items_task_makes(control_flow: Any) -> None:
    mapped = control_flow.get_task("load_file")
    assert type(mapped).__name__ == "MappedOperator"
    assert set(mapped.expand_input.value) == {"payload"}
    assert mapped.partial_kwargs["function_name"] == "load-file"
    items = control_flow.get_task("load_file_items")
    assert items.op_args == [
        '{"file": "@@dagen:item@@", "day": {{ (ds) | tojson }}}',
        "list_files",
        10,
        "skip",
        "load_file",
    ]


def test_a_matrix_makes_one_step_per_combination_run_at_once(control_flow: Any) -> None:
    steps = {
        task_id: control_flow.get_task(task_id).steps[0] for task_id in control_flow.task_ids if "rank_" in task_id
    }
    assert {task_id: step["HadoopJarStep"]["Args"][-6:] for task_id, step in steps.items()} == {
        f"rank_{category}_{region}": ["--category", category, "--region", region, "--day", "{{ ds }}"]
        for category in ("Books", "Toys")
        for region in ("eu", "us")
    }
    create = control_flow.get_task("create_etl")
    assert create.job_flow_overrides["StepConcurrencyLevel"] == 4


def _compiled(tmp_path: Path, text: str) -> dict[str, Any]:
    spec = tmp_path / "fan_out.yaml"
    spec.write_text('start_date: 2024-01-01\nschedule: "@daily"\n' + text, encoding="utf-8")
    (result,) = process([spec], profile=installed_profile(), airflow_major=airflow_major())
    assert result.diagnostics == [] and result.config is not None
    return result.config["tasks"]  # type: ignore[no-any-return]


FAN_OUT_CASES = {
    "a list, typed where the placeholder is alone": (
        "tasks:\n  count:\n    type: python\n    callable: lib.count\n    for_each: [3, 7]\n"
        "    kwargs: {days: '{{ item }}', label: 'last {{ item }} days'}\n",
        {
            "count_3": '{"days": 3, "label": "last 3 days"}',
            "count_7": '{"days": 7, "label": "last 7 days"}',
        },
    ),
    "a param's default, values made safe for ids": (
        "params:\n  shops: {default: ['Books & Co', Toys.eu], type: array}\n"
        "tasks:\n  count:\n    type: python\n    callable: lib.count\n    for_each: {param: shops}\n"
        "    kwargs: {shop: '{{ item }}'}\n",
        {"count_Books_Co": '{"shop": "Books & Co"}', "count_Toys_eu": '{"shop": "Toys.eu"}'},
    ),
}


@pytest.mark.parametrize("case", sorted(FAN_OUT_CASES))
def test_static_fan_out_members(tmp_path: Path, case: str) -> None:
    text, expected = FAN_OUT_CASES[case]
    tasks = _compiled(tmp_path, text)
    assert {task_id: task["op_args"][1] for task_id, task in tasks.items()} == expected


def test_depends_on_names_a_whole_fan_out_or_one_member(tmp_path: Path) -> None:
    tasks = _compiled(
        tmp_path,
        "tasks:\n"
        "  extract:\n    type: glue_job\n    job_name: extract\n    for_each: [eu, us]\n"
        "  load:\n    type: glue_job\n    job_name: load\n    for_each: [eu, us]\n"
        "    depends_on: ['extract_{{ item }}']\n"
        "  report:\n    type: glue_job\n    job_name: report\n    depends_on: [load]\n"
        "  audit:\n    type: glue_job\n    job_name: audit\n    depends_on: [extract_us]\n",
    )
    assert {task_id: task["dependencies"] for task_id, task in tasks.items()} == {
        "extract_eu": [],
        "extract_us": [],
        "load_eu": ["extract_eu"],
        "load_us": ["extract_us"],
        "report": ["load_eu", "load_us"],
        "audit": ["extract_us"],
    }


def test_fragments_under_x_keys_are_merged_and_ignored(tmp_path: Path) -> None:
    tasks = _compiled(
        tmp_path,
        "x-load: &load\n  type: glue_job\n  job_name: load\n  retries: 4\n"
        "tasks:\n  load_eu:\n    <<: *load\n    arguments: {'--region': eu}\n  load_us:\n    <<: *load\n",
    )
    assert {task_id: (task["job_name"], task["retries"]) for task_id, task in tasks.items()} == {
        "load_eu": ("load", 4),
        "load_us": ("load", 4),
    }


# ---------------------------------------------------------------------------------------- the runtime side

TRUTHY = {"true": True, "True": True, " yes ": True, "1": True, "false": False, "0": False, "no": False}
TRUTHY.update({"None": False, "": False, "null": False, "off": False, "anything": True})


@pytest.mark.parametrize("text", sorted(TRUTHY))
def test_a_rendered_expression_is_true_or_false(text: str) -> None:
    assert truthy(text) is TRUTHY[text]


def test_typed_values_are_true_or_false_as_python_says() -> None:
    assert [truthy(value) for value in (True, False, None, 0, 2, [], ["a"], {})] == [
        True,
        False,
        False,
        False,
        True,
        False,
        True,
        False,
    ]


def _paths(*conditions: Any, otherwise: tuple[str, ...] = ()) -> str:
    paths = [{"when": {"expression": value}, "tasks": [f"path_{index}"]} for index, value in enumerate(conditions)]
    return json.dumps({"paths": paths, "otherwise": list(otherwise)})


BRANCH_CASES = {
    "one path holds": (_paths(True, False), ["path_0"]),
    "several paths hold": (_paths(True, "yes"), ["path_0", "path_1"]),
    "none holds, otherwise": (_paths(False, "no", otherwise=("path_1",)), ["path_1"]),
    "none holds, no otherwise": (_paths(False, 0), []),
}


@pytest.mark.parametrize("case", sorted(BRANCH_CASES))
def test_a_branch_takes_every_path_whose_condition_holds(case: str) -> None:
    paths, chosen = BRANCH_CASES[case]
    assert chosen_paths(paths) == chosen


FILL_CASES = {
    "whole mark keeps the type": ({"n": "@@dagen:item@@"}, 3, {"n": 3}),
    "mark inside text": (["--file", "s3://b/@@dagen:item@@"], "a.csv", ["--file", "s3://b/a.csv"]),
    "a field of a dict item": ({"r": "@@dagen:item.region@@"}, {"region": "eu"}, {"r": "eu"}),
    "JSON text gets a JSON value": ('{"file": "@@dagen:item@@", "n": 1}', {"k": [1]}, '{"file": {"k": [1]}, "n": 1}'),
}


@pytest.mark.parametrize("case", sorted(FILL_CASES))
def test_the_item_fills_the_mapped_argument(case: str) -> None:
    value, item, expected = FILL_CASES[case]
    assert fill(value, item, "load") == expected


class _TaskInstance:
    def __init__(self, value: Any) -> None:
        self.value = value

    def xcom_pull(self, *, task_ids: str) -> Any:
        assert task_ids == "list_files"
        return self.value


MAPPING_ERRORS = {
    "not a list": ("part-0.csv", "load is mapped over the output of list_files, which returned str, not a list"),
    "empty, if_empty fail": (
        [],
        "load is mapped over the output of list_files, which returned no items (if_empty: fail)",
    ),
    "too long": (
        ["a", "b", "c"],
        "load is mapped over the output of list_files: 3 items, more than max_items 2 "
        "(raise for_each.max_items, or make the list shorter)",
    ),
}


@pytest.mark.parametrize("case", sorted(MAPPING_ERRORS))
def test_a_list_that_cannot_be_mapped_fails_with_the_reason(case: str) -> None:
    value, message = MAPPING_ERRORS[case]
    with pytest.raises(AirflowException, match=re.escape(message)):
        mapped_values("@@dagen:item@@", "list_files", 2, "fail", "load", ti=_TaskInstance(value))


def test_each_item_makes_one_value_and_none_makes_none() -> None:
    two = _TaskInstance(["a", "b"])
    assert mapped_values(["--f", "@@dagen:item@@"], "list_files", 5, "skip", "load", ti=two) == [
        ["--f", "a"],
        ["--f", "b"],
    ]
    assert mapped_values("@@dagen:item@@", "list_files", 5, "skip", "load", ti=_TaskInstance([])) == []


# ---------------------------------------------------------------------------------------- the docs


def test_every_example_of_the_control_flow_page_validates_and_builds(repo: Path, tmp_path: Path) -> None:
    page = (repo / "docs" / "control-flow.md").read_text(encoding="utf-8")
    examples = re.findall(r"```yaml\n(.*?)```", page, re.DOTALL)
    assert len(examples) == 7
    for index, example in enumerate(examples):
        spec = tmp_path / f"example_{index}.yaml"
        spec.write_text('start_date: 2024-01-01\nschedule: "@daily"\n' + example, encoding="utf-8")
        (result,) = process([spec], profile=installed_profile(), airflow_major=airflow_major())
        assert result.diagnostics == [], example
        assert result.config is not None
        dag = build_dag(result.dag_id, result.config)
        assert dag.task_ids, example


MAPPED_TYPES = """
params:
  app: {default: 00fabcdexample01}
clusters:
  etl:
    release_label: emr-7.5.0
    applications: [Spark]
    instance_groups:
      primary: {instance_type: m5.xlarge}
tasks:
  list_days:
    type: python
    callable: lib.days.recent
  step:
    type: emr_step
    cluster: etl
    depends_on: [list_days]
    for_each: {output_of: list_days}
    spark: {script: s3://jobs-bucket/day.py, args: [--day, "{{ item }}"]}
  serverless:
    type: emr_serverless_job
    depends_on: [list_days]
    for_each: {output_of: list_days}
    application_id: "{{ params.app }}"
    execution_role_arn: arn:aws:iam::123456789012:role/emr-serverless-job
    spark: {entry_point: s3://jobs-bucket/day.py, args: ["{{ item }}"]}
  glue:
    type: glue_job
    depends_on: [list_days]
    for_each: {output_of: list_days}
    job_name: day
    arguments: {"--day": "{{ item }}"}
  invoke:
    type: lambda_invoke
    depends_on: [list_days]
    for_each: {output_of: list_days}
    function_name: day
    payload: {day: "{{ item }}"}
  query:
    type: athena_query
    depends_on: [list_days]
    for_each: {output_of: list_days}
    database: sales
    query: "SELECT count(*) FROM orders WHERE day = '{{ item }}'"
    output_location: s3://results-bucket/athena/
  call:
    type: python
    depends_on: [list_days]
    for_each: {output_of: list_days, if_empty: fail}
    callable: lib.days.load
    kwargs: {day: "{{ item }}"}
"""


def test_every_mappable_type_builds_a_mapped_task(tmp_path: Path) -> None:
    spec = tmp_path / "mapped.yaml"
    spec.write_text('start_date: 2024-01-01\nschedule: "@daily"\n' + MAPPED_TYPES, encoding="utf-8")
    (result,) = process([spec], profile=installed_profile(), airflow_major=airflow_major())
    assert result.diagnostics == [] and result.config is not None
    dag = build_dag(result.dag_id, result.config)
    mapped = {
        task.task_id: sorted(task.expand_input.value) for task in dag.tasks if type(task).__name__ == "MappedOperator"
    }
    assert mapped == {
        "step": ["steps"],
        "serverless": ["job_driver"],
        "glue": ["script_args"],
        "invoke": ["payload"],
        "query": ["query"],
        "call": ["op_args"],
    }
    assert {task_id: sorted(dag.get_task(task_id).upstream_task_ids) for task_id in mapped} == {
        task_id: [f"{task_id}_items"] for task_id in mapped
    }
    # on a cluster, the items are made once the cluster is up (create_etl waits for list_days)
    assert sorted(dag.get_task("step_items").upstream_task_ids) == ["create_etl"]
    assert sorted(dag.get_task("create_etl").upstream_task_ids) == ["list_days"]
    assert dag.get_task("call_items").op_args[1:] == ["list_days", 256, "fail", "call"]


def test_control_flow_inside_a_task_group(tmp_path: Path) -> None:
    """A group prefixes Airflow's ids: the branch follows, and the mapping expands over, the prefixed ids."""
    spec = tmp_path / "grouped.yaml"
    spec.write_text(
        "start_date: 2024-01-01\ngroups:\n  g: {description: grouped}\n"
        "params:\n  full: {default: false, type: boolean}\n"
        "tasks:\n"
        "  list_files: {type: python, callable: lib.f.listing, group: g}\n"
        "  load: {type: lambda_invoke, function_name: x, group: g, depends_on: [list_files],\n"
        "         for_each: {output_of: list_files}, payload: {f: '{{ item }}'}, run_if: '{{ params.full }}'}\n"
        "  route: {type: branch, group: g, depends_on: [load], paths: {a: '{{ params.full }}', b: '{{ 1 }}'}}\n"
        "  a: {type: glue_job, job_name: a, group: g, depends_on: [route]}\n"
        "  b: {type: glue_job, job_name: b, group: g, depends_on: [route]}\n"
        "  join: {type: glue_job, job_name: j, group: g, depends_on: [a, b]}\n"
        "  tidy: {type: glue_job, job_name: t, depends_on: [g], trigger_rule: all_done}\n",
        encoding="utf-8",
    )
    (result,) = process([spec], profile=installed_profile(), airflow_major=airflow_major())
    assert result.diagnostics == [] and result.config is not None
    shape = graph(build_dag(result.dag_id, result.config))
    assert {task_id: (row["operator"], row["upstream"], row["trigger_rule"]) for task_id, row in shape.items()} == {
        "g.list_files": ("PythonOperator", [], "all_success"),
        "g.run_if_load": ("ShortCircuitOperator", ["g.list_files"], "all_success"),
        "g.load_items": ("PythonOperator", ["g.run_if_load"], "all_success"),
        "g.load": ("MappedOperator", ["g.load_items"], "all_success"),
        "g.route": ("BranchPythonOperator", ["g.load"], "all_success"),
        "g.a": ("GlueJobOperator", ["g.route"], "all_success"),
        "g.b": ("GlueJobOperator", ["g.route"], "all_success"),
        "g.join": ("GlueJobOperator", ["g.a", "g.b"], "none_failed_min_one_success"),
        "tidy": ("GlueJobOperator", ["g.join"], "all_done_setup_success"),
    }
    assert shape["tidy"]["role"] == "teardown"
    assert [
        path["tasks"] for path in json.loads(_rendered(result.config["tasks"]["route"]["op_args"][0]))["paths"]
    ] == [
        ["g.a"],
        ["g.b"],
    ]


def _rendered(text: str) -> str:
    """The JSON a branch gets, with each ``{{ (...) | tojson }}`` replaced by ``true`` (as if rendered)."""
    return re.sub(r"\{\{.*?\}\}", "true", text)
