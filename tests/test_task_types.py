"""Lowering and validation rules of the task types of issue 9 that need neither AWS nor a DAG run."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import requests
from jsonschema import Draft202012Validator

from generator.compile.build import airflow_major
from generator.compile.lower import lower
from generator.compile.pipelines import process
from generator.core.provider_profile import LEGACY, MODERN
from generator.runtime import pipeline_modules
from generator.spec.files_beside import FileProblem, read_beside
from generator.task_types import TASK_TYPES, generic_operator, http_wait, python
from generator.task_types.athena_query import SQL_FILE

SPEC_HEAD = 'start_date: 2024-01-01\nschedule: "@daily"\ntasks:\n'


def compile_tasks(tmp_path: Path, tasks: str, profile: Any = MODERN) -> dict[str, Any]:
    spec = tmp_path / "one_off.yaml"
    spec.write_text(SPEC_HEAD + tasks, encoding="utf-8")
    (result,) = process([spec], profile=profile, airflow_major=3)
    assert result.spec is not None, result.diagnostics
    return {task.task_id: task for task in lower(result.spec, profile).tasks}


def diagnostics(tmp_path: Path, tasks: str) -> list[str]:
    spec = tmp_path / "one_off.yaml"
    spec.write_text(SPEC_HEAD + tasks, encoding="utf-8")
    (result,) = process([spec], profile=MODERN, airflow_major=3, root=tmp_path)
    return [d.text() for d in result.diagnostics]


def test_python_task_uses_the_lanes_python_operator(tmp_path: Path) -> None:
    task = "  report:\n    type: python\n    callable: lib.reports.publish\n    kwargs: {day: '{{ ds }}'}\n"
    modern = compile_tasks(tmp_path, task)["report"]
    legacy = compile_tasks(tmp_path, task, LEGACY)["report"]
    assert modern.operator == "airflow.providers.standard.operators.python.PythonOperator"
    assert legacy.operator == "airflow.operators.python.PythonOperator"
    assert (
        modern.kwargs
        == legacy.kwargs
        == {
            "python_callable": "generator.task_types.python.run_pipeline_callable",
            "op_args": ["lib.reports.publish", '{"day": {{ (ds) | tojson }}}'],
        }
    )


@pytest.fixture
def pipelines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A bundle's pipelines/ folder with a module, and an import path the test may change."""
    folder = tmp_path / "dags" / "pipelines"
    (folder / "dagen_test_lib").mkdir(parents=True)
    (folder / "dagen_test_lib" / "__init__.py").write_text("")
    (folder / "dagen_test_lib" / "jobs.py").write_text(
        "def publish(table, ds):\n    return f'{table} {ds}'\n\n"
        "def everything(**context):\n    return sorted(context)\n\nNOT_A_FUNCTION = 1\n"
    )
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "modules", dict(sys.modules))
    return folder


def test_pipelines_folder_is_found_as_the_loader_finds_it(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    (bundle / "pipelines").mkdir(parents=True)
    assert pipeline_modules.pipelines_folder(str(bundle / "pipelines_loader.py")) == bundle / "pipelines"
    repo = tmp_path / "repo"
    (repo / "pipelines").mkdir(parents=True)
    (repo / "dags").mkdir()
    assert pipeline_modules.pipelines_folder(str(repo / "dags" / "pipelines_loader.py")) == repo / "pipelines"
    elsewhere = tmp_path / "run" / "dag.py"
    with pytest.raises(ImportError, match="no pipelines/ folder beside .*run/dag.py or its folder"):
        pipeline_modules.pipelines_folder(str(elsewhere))
    with pytest.MonkeyPatch.context() as patch:  # a runner whose DAG file is elsewhere names the folder
        patch.setenv("DAGEN_PIPELINES_DIR", str(repo / "pipelines"))
        assert pipeline_modules.pipelines_folder(str(elsewhere)) == repo / "pipelines"


def test_run_pipeline_callable_passes_kwargs_and_the_context_it_asks_for(pipelines: Path) -> None:
    dag = types.SimpleNamespace(fileloc=str(pipelines.parent / "pipelines_loader.py"))
    context = {"dag": dag, "ds": "2024-01-01", "ti": object()}
    assert python.run_pipeline_callable("dagen_test_lib.jobs.publish", '{"table": "t"}', **context) == "t 2024-01-01"
    # spec kwargs win over context values of the same name; **context gets everything
    names = python.run_pipeline_callable("dagen_test_lib.jobs.everything", '{"ds": "mine"}', **context)
    assert names == ["dag", "ds", "ti"]


def test_callables_come_only_from_modules_under_pipelines(pipelines: Path) -> None:
    with pytest.raises(ImportError, match=r"'json' is .*json.*, not a module under"):
        pipeline_modules.import_pipeline_callable("json.dumps", pipelines)
    with pytest.raises(ImportError, match="has no function 'NOT_A_FUNCTION'"):
        pipeline_modules.import_pipeline_callable("dagen_test_lib.jobs.NOT_A_FUNCTION", pipelines)
    with pytest.raises(ModuleNotFoundError):
        pipeline_modules.import_pipeline_callable("dagen_test_lib.missing.publish", pipelines)


def test_validating_never_imports_user_code(tmp_path: Path) -> None:
    """Validating and compiling import neither a custom_module operator nor a python callable.

    (dag-factory imports such an operator when the loader builds the DAG; a callable is imported when its task
    runs.)
    """
    (tmp_path / "boom_module.py").write_text("raise SystemExit('imported!')\n")
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        SPEC_HEAD + "  custom:\n    type: operator\n    operator: boom_module.BoomOperator\n    custom_module: true\n"
        "  call:\n    type: python\n    callable: boom_module.run\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "generator", "compile", str(spec)],
        cwd=tmp_path,  # boom_module is importable from here, if anything tried
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "operator: boom_module.BoomOperator" in done.stdout and "imported!" not in done.stdout + done.stderr


def test_compiling_imports_neither_airflow_nor_the_runtime_operators() -> None:
    """The compiler names the runtime operators by path only: lowering every seed imports no Airflow."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from generator.compile.lower import lower\n"
        "from generator.compile.pipelines import process\n"
        "from generator.core.provider_profile import MODERN\n"
        "results = process([Path('pipelines')], profile=MODERN, airflow_major=3, root=Path())\n"
        "paths = {t.operator for r in results for t in lower(r.spec, MODERN).tasks}\n"
        "assert any(p.startswith('generator.runtime.') for p in paths), paths\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'airflow' or m.startswith('generator.runtime'))\n"
        "assert loaded == [], loaded\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=Path(__file__).parent.parent
    )
    assert done.returncode == 0, done.stderr


def test_operator_checks_without_airflow_are_form_allow_list_and_reserved_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(generic_operator, "_airflow_installed", lambda: False)
    tasks = (
        "  typo:\n    type: operator\n    operator: airflow.providers.amazon.aws.operators.sns.SnsPublishOperator\n"
        "    arguments: {target_arn: 'arn:aws:sns:us-east-1:123456789012:t', mesage: hi}\n"
        "  reserved:\n    type: operator\n    operator: airflow.providers.amazon.aws.operators.sns.SnsPublishOperator\n"
        "    arguments: {retries: 2}\n"
    )
    assert diagnostics(tmp_path, tasks) == [
        "one_off.yaml:11:17: DG510 argument 'retries' of operator task 'reserved' is reserved\n"
        "    hint: use the task's retries key"
    ]  # the misspelt argument is only caught where the signature can be read


def test_amazon_operators_get_the_pipelines_connection_unless_they_name_one(tmp_path: Path) -> None:
    head = "aws: {conn_id: aws_data}\n"
    spec = tmp_path / "one_off.yaml"
    spec.write_text(
        head + SPEC_HEAD + "  sns:\n    type: operator\n"
        "    operator: airflow.providers.amazon.aws.operators.sns.SnsPublishOperator\n"
        "    arguments: {target_arn: 'arn:aws:sns:us-east-1:123456789012:t', message: hi}\n"
        "  own:\n    type: operator\n"
        "    operator: airflow.providers.amazon.aws.operators.sns.SnsPublishOperator\n"
        "    arguments: {target_arn: 'arn:aws:sns:us-east-1:123456789012:t', message: hi, aws_conn_id: other}\n"
        "  http:\n    type: operator\n    operator: airflow.providers.http.sensors.http.HttpSensor\n"
        "    arguments: {endpoint: health}\n"
        "  transform:\n    type: operator\n"
        "    operator: airflow.providers.amazon.aws.operators.s3.S3FileTransformOperator\n"
        "    arguments: {source_s3_key: 's3://a/in', dest_s3_key: 's3://b/out', transform_script: cp,"
        " dest_aws_conn_id: aws_out}\n",
        encoding="utf-8",
    )
    (result,) = process([spec], profile=MODERN, airflow_major=3)
    assert result.spec is not None, result.diagnostics
    tasks = {task.task_id: task.kwargs for task in lower(result.spec, MODERN).tasks}
    assert tasks["sns"]["aws_conn_id"] == "aws_data"
    assert tasks["own"]["aws_conn_id"] == "other"
    assert tasks["http"] == {"endpoint": "health"}
    # a transfer's own connection parameters (this lane's provider: Airflow 2's has no aws_conn_id there)
    connections = {key: value for key, value in tasks["transform"].items() if key.endswith("aws_conn_id")}
    assert connections == {
        "source_aws_conn_id": "aws_data",
        "dest_aws_conn_id": "aws_out",
        **({"aws_conn_id": "aws_data"} if airflow_major() >= 3 else {}),
    }


@pytest.mark.parametrize(
    ("key", "wildcard", "expected"),
    [("in/{{ ds }}/*.csv", None, True), ("in/a*b", False, False), ("in/_SUCCESS", None, False), ("in/x", True, True)],
)
def test_s3_wait_wildcard_follows_the_key_unless_told(tmp_path: Path, key: str, wildcard: Any, expected: bool) -> None:
    option = "" if wildcard is None else f"\n    wildcard: {str(wildcard).lower()}"
    task = f"  landed:\n    type: s3_wait\n    bucket: landing\n    key: '{key}'{option}\n"
    kwargs = compile_tasks(tmp_path, task)["landed"].kwargs
    assert kwargs["wildcard_match"] is expected
    assert kwargs["mode"] == "reschedule" and "deferrable" not in kwargs


def test_lambda_read_timeout_is_the_tasks_timeout_up_to_the_lambda_limit(tmp_path: Path) -> None:
    tasks = compile_tasks(
        tmp_path,
        "  quick:\n    type: lambda_invoke\n    function_name: f\n    timeout: 45s\n"
        "  default:\n    type: lambda_invoke\n    function_name: f\n",  # the default timeout is 6h
    )
    assert tasks["quick"].kwargs["botocore_config"] == {"read_timeout": 45, "retries": {"total_max_attempts": 1}}
    assert tasks["default"].kwargs["botocore_config"]["read_timeout"] == 960


def response(status: int, body: bytes) -> requests.Response:
    out = requests.Response()
    out.status_code, out._content = status, body
    return out


@pytest.mark.parametrize(
    ("check", "status", "body", "ready"),
    [
        ({}, 200, b"", True),
        ({"status": [200]}, 202, b"{}", False),
        ({"body_contains": "DONE"}, 200, b"state=DONE", True),
        ({"body_contains": "DONE"}, 200, b"state=RUNNING", False),
        ({"json": {"path": "items.1.state", "equals": "OK"}}, 200, b'{"items": [{}, {"state": "OK"}]}', True),
        ({"json": {"path": "items.-1.state", "equals": "OK"}}, 200, b'{"items": [{}, {"state": "OK"}]}', True),
        ({"json": {"path": "items.2.state", "equals": "OK"}}, 200, b'{"items": [{}, {"state": "OK"}]}', False),
        ({"json": {"path": "ready", "equals": True}}, 200, b'{"ready": 1}', False),  # JSON true is not 1
        ({"json": {"path": "count", "equals": 3}}, 200, b'{"count": 3.0}', True),
        ({"json": {"path": "state", "equals": "OK"}}, 200, b"<html>OK</html>", False),  # not JSON: not ready
    ],
)
def test_response_check_is_declarative(check: dict, status: int, body: bytes, ready: bool) -> None:
    assert http_wait.response_ready(response(status, body), check) is ready
    # the same through the lambda dag-factory compiles, as the sensor calls it
    function = eval(http_wait.response_check_lambda(check), {})  # noqa: S307 - the compiler's own one-liner
    assert function(response(status, body)) is ready


def test_response_check_lambda_embeds_the_check_as_one_literal() -> None:
    import ast

    hostile = {"body_contains": "') or __import__('os').system('echo pwned') or ('"}
    tree = ast.parse(http_wait.response_check_lambda(hostile), mode="eval")
    call = tree.body.body  # type: ignore[attr-defined]  # lambda response: <call>
    assert [type(arg).__name__ for arg in call.args] == ["Name", "Constant"]  # response, one string constant


@pytest.mark.parametrize(
    ("path", "valid"),
    [
        ("daily.sql", True),
        ("sql/daily.sql", True),
        ("./sql/daily.sql", True),
        ("sql/2024.daily.sql", True),
        ("../shared/daily.sql", False),
        ("sql/../../daily.sql", False),
        ("/etc/daily.sql", False),
        ("daily.txt", False),
        ("daily.SQL", False),  # dagen deploy uploads *.sql
        (".hidden/daily.sql", False),  # dagen deploy skips hidden files
        ("sql/.daily.sql", False),
        ("sql\\daily.sql", False),
        ("{{ ds }}.sql", False),  # read when compiling: never rendered
        ("sql/daily\n.sql", False),
    ],
)
def test_query_file_paths_stay_inside_the_specs_folder(path: str, valid: bool) -> None:
    assert Draft202012Validator(SQL_FILE).is_valid(path) is valid


def test_read_beside(tmp_path: Path) -> None:
    folder = tmp_path / "pipelines"
    (folder / "sql").mkdir(parents=True)
    (folder / "sql" / "daily.sql").write_text("SELECT {{ ds }}", encoding="utf-8")
    (tmp_path / "outside.sql").write_text("SELECT 1", encoding="utf-8")
    (folder / "link.sql").symlink_to(tmp_path / "outside.sql")
    (folder / "inside_link.sql").symlink_to(folder / "sql" / "daily.sql")
    (folder / "loop.sql").symlink_to(folder / "loop.sql")
    assert read_beside(folder, "sql/daily.sql") == b"SELECT {{ ds }}"
    assert read_beside(folder, "./inside_link.sql") == b"SELECT {{ ds }}"  # a link inside the folder is fine
    assert read_beside(folder, "missing.sql") == FileProblem("does not exist beside the spec", "")
    assert read_beside(folder, "link.sql") == FileProblem(
        "leads outside the spec's folder",
        "only the spec's folder is deployed with it: put the file there instead of linking to it",
    )
    assert isinstance(read_beside(folder, "loop.sql"), FileProblem)
    assert read_beside(folder, "sql") == FileProblem(
        "cannot be read (not a regular file)",  # a directory, a FIFO or a device is never opened for reading
        "the file is read when the spec is compiled: make it a readable UTF-8 text file",
    )


def test_every_example_of_the_task_types_page_is_valid(repo: Path, tmp_path: Path) -> None:
    import re

    page = (repo / "docs" / "task-types.md").read_text(encoding="utf-8")
    examples = re.findall(r"```yaml\n(.*?)```", page, re.DOTALL)
    documented = {match for example in examples for match in re.findall(r"^\s+type: (\w+)$", example, re.MULTILINE)}
    assert documented == set(TASK_TYPES)
    for index, example in enumerate(examples):
        for name in re.findall(r"query_file: (\S+)", example):  # the SQL files an example reads beside it
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_text("SELECT 1\n", encoding="utf-8")
        spec = tmp_path / f"example_{index}.yaml"
        spec.write_text('start_date: 2024-01-01\nschedule: "@daily"\n' + example, encoding="utf-8")
        (result,) = process([spec], profile=MODERN, airflow_major=3)
        assert result.diagnostics == [], example
