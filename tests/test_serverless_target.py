"""``--target mwaa-serverless``: the seeds compile to workflows of the service's operators and keys only.

Every rule is read from ``generator/core/mwaa_serverless.py`` (never a copy).  Both lanes check the
workflows as data; on Airflow 3 (the service's) each also loads with dag-factory's own loader into a
real DagBag, and every argument is checked against the operator's signature.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator import cli
from generator.compile.build import airflow_major
from generator.compile.pipelines import MWAA, MWAA_SERVERLESS, SpecResult, process
from generator.compile.serverless_operators import NotServerless
from generator.compile.serverless_workflow import to_workflow, workflow_yaml
from generator.core import mwaa_serverless as rules
from generator.core.provider_profile import MODERN

SEEDS = ("emr_notebook_best_sellers", "movielens_emr_step_functions", "salary_batch_etl")
VALID_CASE = "tests/cases/valid_serverless_pipeline"
# Every spec of the repository: what validate --target mwaa-serverless accepts among them must compile.
ALL_SPECS = ("pipelines", "tests/specs", "tests/specs_features", "tests/local_run", VALID_CASE)


def serverless(repo: Path, *paths: str, target: str = MWAA_SERVERLESS) -> list[SpecResult]:
    return process([repo / path for path in paths], profile=MODERN, airflow_major=3, target=target)


@pytest.fixture(scope="module")
def workflows(repo: Path) -> dict[str, dict[str, Any]]:
    results = serverless(repo, "pipelines", VALID_CASE)
    assert [d.text() for r in results for d in r.diagnostics] == []
    return {result.dag_id: to_workflow(result.dag_id, result.config) for result in results if result.config}


def test_the_seeds_are_valid_for_the_target(workflows: dict[str, dict[str, Any]]) -> None:
    assert sorted(workflows) == sorted([*SEEDS, "pipeline", "every_listed_type"])


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {key for sub in value.values() for key in _keys(sub)}
    if isinstance(value, list):
        return {key for sub in value for key in _keys(sub)}
    return set()


def test_only_listed_operators_and_supported_keys(workflows: dict[str, dict[str, Any]]) -> None:
    for dag_id, workflow in workflows.items():
        assert set(workflow) <= set(rules.VALIDATED_DAG_KEYS) | set(rules.WORKFLOW_DAG_KEYS), dag_id
        assert not set(workflow) & set(rules.IGNORED_DAG_KEYS), dag_id
        assert set(workflow["default_args"]) <= set(rules.DEFAULT_ARGS_KEYS), dag_id
        assert not {key for key in _keys(workflow) if key.startswith("__")}, dag_id  # no dag-factory markers
        for task_id, task in workflow["tasks"].items():
            assert task["operator"] in rules.ALLOWED_OPERATORS, (dag_id, task_id)
            assert not task["operator"].startswith("generator."), (dag_id, task_id)
            retries, delay = task.get("retries", 0), task.get("retry_delay", 0)
            assert retries <= rules.MAX_RETRIES and delay <= rules.MAX_RETRY_DELAY_SECONDS, (dag_id, task_id)
        assert workflow["default_args"].get("retries", 0) <= rules.MAX_RETRIES
        assert workflow["default_args"].get("retry_delay", 0) <= rules.MAX_RETRY_DELAY_SECONDS


def _graph(workflow: dict[str, Any]) -> dict[str, tuple[str, list[str], str]]:
    return {
        task_id: (task["operator"].rpartition(".")[2], task["dependencies"], task.get("trigger_rule", "all_success"))
        for task_id, task in workflow["tasks"].items()
    }


SALARY_GRAPH = {
    "create_etl": ("EmrCreateJobFlowOperator", [], "all_success"),
    "create_etl_wait": ("EmrJobFlowSensor", ["create_etl"], "all_success"),
    "average_salaries": ("EmrAddStepsOperator", ["create_etl_wait"], "all_success"),
    "average_salaries_wait": ("EmrStepSensor", ["average_salaries"], "all_success"),
    "terminate_etl": ("EmrTerminateJobFlowOperator", ["average_salaries_wait"], "all_done"),
    "dagen_work_succeeded": ("EmptyOperator", ["average_salaries_wait"], "all_success"),
}


def test_salary_workflow(workflows: dict[str, dict[str, Any]]) -> None:
    workflow = workflows["salary_batch_etl"]
    assert _graph(workflow) == SALARY_GRAPH
    assert workflow["schedule"] == "0 0 * * *"
    assert workflow["start_date"] == "2024-01-01"
    assert workflow["default_args"] == {"owner": "data-platform", "retries": 2, "retry_delay": 300}
    assert workflow["params"] == {
        "data_bucket": "airflow-salary-prediction-de",
        "scripts_uri": "s3://airflow-salary-prediction-de/spark_jobs",
    }
    wait = workflow["tasks"]["average_salaries_wait"]
    assert (wait["mode"], wait["poke_interval"], wait["timeout"]) == ("reschedule", 30, 3 * 3600)
    assert wait["step_id"] == "{{ ti.xcom_pull(task_ids='average_salaries')[0] }}"
    assert workflow["tasks"]["average_salaries"]["wait_for_completion"] is False
    # the create task only calls RunJobFlow (a retry never starts a second cluster); its sensor waits
    assert workflow["tasks"]["create_etl"]["wait_for_completion"] is False
    cluster_wait = workflow["tasks"]["create_etl_wait"]
    assert (cluster_wait["job_flow_id"], cluster_wait["target_states"], cluster_wait["mode"]) == (
        "{{ ti.xcom_pull(task_ids='create_etl') }}",
        ["WAITING", "RUNNING"],
        "reschedule",
    )


def test_notebook_and_notifications(workflows: dict[str, dict[str, Any]]) -> None:
    notebook = _graph(workflows["emr_notebook_best_sellers"])
    assert notebook["find_best_sellers"][:2] == ("EmrStartNotebookExecutionOperator", ["create_notebooks_wait"])
    assert notebook["find_best_sellers_wait"][:2] == ("EmrNotebookExecutionSensor", ["find_best_sellers"])
    valid = workflows["pipeline"]
    assert valid["schedule"] == rules.PRESET_CRON["@daily"]
    work = ["landed", "create_etl", "create_etl_wait", "transform", "transform_wait", "report", "report_wait"]
    work += ["publish", "crawl"]
    assert _graph(valid) == {
        "landed": ("S3KeySensor", [], "all_success"),
        "create_etl": ("EmrCreateJobFlowOperator", ["landed"], "all_success"),
        "create_etl_wait": ("EmrJobFlowSensor", ["create_etl"], "all_success"),
        "transform": ("EmrAddStepsOperator", ["create_etl_wait"], "all_success"),
        "transform_wait": ("EmrStepSensor", ["transform"], "all_success"),
        "report": ("EmrStartNotebookExecutionOperator", ["transform_wait"], "all_success"),
        "report_wait": ("EmrNotebookExecutionSensor", ["report"], "all_success"),
        "terminate_etl": ("EmrTerminateJobFlowOperator", ["report_wait"], "all_done"),
        "publish": ("StepFunctionStartExecutionOperator", ["report_wait"], "all_success"),
        "crawl": ("GlueCrawlerOperator", ["publish"], "all_success"),
        "drop_temp": ("LambdaInvokeFunctionOperator", ["crawl"], "all_done"),  # a cleanup: out of the check
        "dagen_work_succeeded": ("EmptyOperator", ["crawl"], "all_success"),
        "dagen_notify_on_task_failure_1": ("SnsPublishOperator", work, "one_failed"),
    }
    notify = valid["tasks"]["dagen_notify_on_task_failure_1"]
    assert notify["target_arn"] == "arn:aws:sns:us-east-1:123456789012:data-alerts"
    assert notify["subject"] == "{{ dag.dag_id }} failed"


def test_everything_accepted_compiles(repo: Path) -> None:
    results = serverless(repo, *ALL_SPECS)
    accepted = [result for result in results if not result.diagnostics]
    refused = {result.dag_id for result in results if result.diagnostics}
    assert {result.dag_id for result in accepted} >= {*SEEDS, "pipeline", "every_listed_type"}
    assert refused >= {"control_flow", "every_type"}  # python, branch, run_if, http_wait: DG801
    for result in accepted:
        assert result.config is not None
        text = workflow_yaml(result.dag_id, result.config)
        assert list(yaml.safe_load(text)) == [result.dag_id]


def test_refused_constructs_never_reach_the_emitter(repo: Path) -> None:
    """The MWAA configuration of a spec the checks refuse makes the emitter stop, never a wrong workflow."""
    for name in ("tests/local_run/control_flow.yaml", "tests/cases/dg805_serverless_schedule/consumer.yaml"):
        (result,) = serverless(repo, name, target=MWAA)
        assert result.config is not None and result.diagnostics == []
        with pytest.raises(NotServerless, match="serverless checks refuse"):
            to_workflow(result.dag_id, result.config)


def test_cli_validate_exit_codes(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["validate", "--target", "mwaa-serverless", str(repo / "pipelines")]) == 0
    assert capsys.readouterr().out == "3 file(s) checked, no errors\n"
    case = repo / "tests/cases/dg805_serverless_schedule/pipeline.yaml"
    assert cli.main(["validate", "--target", "mwaa-serverless", str(case)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith(
        "dg805_serverless_schedule/pipeline.yaml:2:11: DG805 schedule '@once' is not a cron expression, and "
        "MWAA Serverless takes only cron or null"
    )
    assert out[-1] == "1 error(s) in 1 of 1 file(s)"
    assert cli.main(["validate", str(case)]) == 0  # an MWAA environment runs @once
    capsys.readouterr()


def test_validate_and_compile_need_no_airflow(repo: Path, tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['airflow'] = None; sys.modules['dagfactory'] = None\n"
        "from generator import cli\n"
        "pipelines = sys.argv[1]\n"
        "assert cli.main(['compile', '--target', 'mwaa-serverless', pipelines, '-o', sys.argv[2]]) == 0\n"
        "assert not [m for m in sys.modules if m.startswith('generator.runtime')]\n"
        "sys.exit(cli.main(['validate', '--target', 'mwaa-serverless', pipelines]))"
    )
    command = [sys.executable, "-c", code, str(repo / "pipelines"), str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=repo, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (0, "3 file(s) checked, no errors\n", "")
    assert len(list(tmp_path.glob("*.yaml"))) == len(SEEDS)


def test_cli_compile_writes_one_workflow_per_pipeline(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["compile", "--target", "mwaa-serverless", str(repo / "pipelines"), "-o", str(tmp_path)]) == 0
    assert sorted(path.name for path in tmp_path.iterdir()) == [f"{dag_id}.yaml" for dag_id in SEEDS]
    salary = yaml.safe_load((tmp_path / "salary_batch_etl.yaml").read_text(encoding="utf-8"))
    assert _graph(salary["salary_batch_etl"]) == SALARY_GRAPH
    assert cli.main(["compile", "--target", "mwaa-serverless", str(repo / "pipelines")]) == 0
    documents = list(yaml.safe_load_all(capsys.readouterr().out))
    assert [next(iter(document)) for document in documents] == list(SEEDS)


if airflow_major() >= 3:  # the service runs Airflow 3: the workflows are built and checked in that lane only
    from tests.airflow_compat import dagbag, graph
    from tests.test_operator_contract import accepted_keywords, operator_class, templated

    LOADER = "from dagfactory import load_yaml_dags  # builds the Airflow DAGs of the workflows beside it\n"

    def test_workflows_load_with_dag_factory(workflows: dict[str, dict[str, Any]], tmp_path: Path) -> None:
        for dag_id, workflow in workflows.items():
            text = yaml.safe_dump({dag_id: workflow}, sort_keys=False)
            (tmp_path / f"{dag_id}.yaml").write_text(text, encoding="utf-8")
        (tmp_path / "load.py").write_text(
            LOADER + f"load_yaml_dags(globals_dict=globals(), dags_folder={str(tmp_path)!r})\n", encoding="utf-8"
        )
        bag = dagbag(tmp_path)
        assert bag.import_errors == {}
        assert sorted(bag.dags) == sorted(workflows)
        shape = graph(bag.dags["salary_batch_etl"])
        assert {
            task_id: (task["operator"], task["upstream"], task["trigger_rule"]) for task_id, task in shape.items()
        } == {task_id: (op, sorted(up), rule) for task_id, (op, up, rule) in SALARY_GRAPH.items()}
        assert all(task["role"] == "work" for task in shape.values())  # no setup/teardown on the service
        salary = bag.dags["salary_batch_etl"]
        assert salary.get_task("average_salaries").retry_delay.total_seconds() == 300
        assert salary.params["data_bucket"] == "airflow-salary-prediction-de"

    def test_arguments_fit_the_operators(workflows: dict[str, dict[str, Any]]) -> None:
        problems = []
        structure = {"operator", "dependencies", "task_group_name"}
        for dag_id, workflow in workflows.items():
            for task_id, task in workflow["tasks"].items():
                cls = operator_class(task["operator"])
                arguments = {key: value for key, value in task.items() if key not in structure}
                unknown = set(arguments) - accepted_keywords(cls)
                unrendered = {
                    key
                    for key, value in arguments.items()
                    if templated(value) and key not in cls.template_fields and key != "doc_md"
                }
                if unknown or unrendered:
                    problems.append(f"{dag_id}.{task_id}: unknown {sorted(unknown)}, unrendered {sorted(unrendered)}")
        assert problems == []
