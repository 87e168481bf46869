"""``dagen preview`` as a command: arguments, errors and exit codes, ``--show-args``, schedule words."""

from __future__ import annotations

import argparse
import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from generator.cli import main as dagen_main
from generator.preview import command as preview_command
from generator.preview.command import main, register
from generator.preview.schedule import describe_schedule, next_runs

REPO = Path(__file__).resolve().parent.parent
CASES = Path(__file__).parent / "cases"
NOW = "2024-06-01T00:00:00Z"


@pytest.fixture(autouse=True)
def in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)


def test_register_adds_the_subcommand() -> None:
    """What ``generator.cli`` does with it: one more subparser whose ``run`` returns the exit code."""
    parser = argparse.ArgumentParser(prog="dagen")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["preview", "pipelines/salary_batch_etl.yaml", "--format", "json", "--now", NOW])
    assert args.run is preview_command.run
    assert (args.paths, args.format, args.now, args.output) == (["pipelines/salary_batch_etl.yaml"], "json", NOW, None)


def test_invalid_spec_reports_like_validate(capsys: pytest.CaptureFixture[str]) -> None:
    assert dagen_main(["validate", "tests/cases/dg301_unknown_dependency"]) == 1
    validate = capsys.readouterr().out
    assert main(["preview", "tests/cases/dg301_unknown_dependency", "--format", "svg"]) == 1
    captured = capsys.readouterr()
    assert captured.out == validate
    assert "DG301 task 'transform' depends on 'extrat'" in captured.out
    assert captured.err == ""


def test_a_build_failure_is_a_diagnostic(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def refuse(dag_id: str, config: dict, **how: object) -> None:
        raise ValueError("no such operator")

    monkeypatch.setattr("generator.compile.build.build_dag", refuse)
    assert main(["preview", "pipelines/salary_batch_etl.yaml"]) == 1
    assert capsys.readouterr().out == (
        "pipelines/salary_batch_etl.yaml:1:1: DG601 ValueError: no such operator\n"
        "    hint: please report this: a valid spec should always build\n"
        "1 error(s) in 1 of 1 file(s)\n"
    )


@pytest.mark.parametrize(
    ("argv", "code", "err"),
    [
        (["no/such.yaml"], 2, "dagen preview: error: no such file or folder: no/such.yaml\n"),
        (["docs"], 1, "dagen: DG701 no pipeline specs (*.yaml, *.yml) under docs\n"),
        (
            ["pipelines/salary_batch_etl.yaml", "--now", "June"],
            2,
            "dagen preview: error: --now: 'June' is not an ISO 8601 time such as 2024-06-01T00:00:00Z\n",
        ),
        (
            ["pipelines/salary_batch_etl.yaml", "--show-args", "create_etl", "--format", "png"],
            2,
            "dagen preview: error: --show-args prints text or json, not png\n",
        ),
        (
            ["pipelines/salary_batch_etl.yaml", "--show-args", "create"],
            2,
            "dagen preview: error: --show-args: no task 'create'; the tasks are: salary_batch_etl.create_etl, "
            "salary_batch_etl.average_salaries, salary_batch_etl.terminate_etl\n",
        ),
    ],
)
def test_errors_and_exit_codes(argv: list[str], code: int, err: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview", *argv]) == code
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", err)


def test_unknown_format_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["preview", "pipelines", "--format", "pdf"])
    assert exit_.value.code == 2


def test_unwritable_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "missing-folder" / "out.txt"
    assert main(["preview", "pipelines/salary_batch_etl.yaml", "-o", str(target)]) == 1
    assert capsys.readouterr().err == f"dagen: cannot write {target}: No such file or directory\n"


def test_without_graphviz(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert main(["preview", "pipelines/salary_batch_etl.yaml", "--format", "svg"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "dagen preview: Graphviz's `dot` program is needed for SVG and PNG: run scripts/ensure-preview-tools.sh "
        "(or apt-get install graphviz)\n"
    )


def test_png_to_stdout(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert main(["preview", "pipelines/salary_batch_etl.yaml", "--format", "png"]) == 0
    assert capsysbinary.readouterr().out.startswith(b"\x89PNG\r\n\x1a\n")


SHOW_ARGS = """\
salary_batch_etl.average_salaries  (emr_step, EmrAddStepsOperator)
  aws_conn_id: aws_default
  deferrable: true
  doc_md: Join features and salaries; write the average salary per feature value.
  email_on_failure: false
  email_on_retry: false
  job_flow_id: {{ ti.xcom_pull(task_ids='create_etl') }}
  owner: data-platform
  retries: 2
  retry_delay: 5m
  retry_exponential_backoff: true
  steps:
    - Name: average_salaries
      ActionOnFailure: CONTINUE
      HadoopJarStep:
        Jar: command-runner.jar
        Args:
          - spark-submit
          - --deploy-mode
          - client
          - --py-files
          - {{ params.scripts_uri }}/spark_job_common.py
          - {{ params.scripts_uri }}/salary_averages.py
          - --features
          - s3://{{ params.data_bucket }}/data/train_features.csv
          - --salaries
          - s3://{{ params.data_bucket }}/data/train_salaries.csv
          - --output
          - s3://{{ params.data_bucket }}/output/average_salary/
  wait_for_completion: true
  waiter_delay: 30
  waiter_max_attempts: 360
"""


def test_show_args(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview", "pipelines", "--show-args", "salary_batch_etl.average_salaries"]) == 0
    assert capsys.readouterr().out == SHOW_ARGS


def test_show_args_json_keeps_templates(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "preview",
                "pipelines/emr_notebook_best_sellers.yaml",
                "--show-args",
                "find_best_sellers",
                "--format",
                "json",
            ]
        )
        == 0
    )
    (item,) = json.loads(capsys.readouterr().out)
    assert (item["dag_id"], item["task_id"], item["operator"]) == (
        "emr_notebook_best_sellers",
        "find_best_sellers",
        "RetrySafeEmrNotebookExecutionOperator",
    )
    assert item["arguments"]["notebook_params"].startswith('{"CATEGORIES": {{ (params.categories) | tojson }}, ')
    assert item["arguments"]["cluster_id"] == "{{ ti.xcom_pull(task_ids='create_notebooks') }}"


@pytest.mark.parametrize("name", ["prepare.enrich", "curation_producer.prepare.enrich"])
def test_show_args_of_a_task_in_a_group(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A grouped task is GROUP.TASK, with or without the DAG id in front (both hold dots)."""
    assert main(["preview", "tests/specs_features", "--show-args", name, "--format", "json"]) == 0
    (item,) = json.loads(capsys.readouterr().out)
    assert (item["dag_id"], item["task_id"], item["operator"]) == (
        "curation_producer",
        "prepare.enrich",
        "EmrAddStepsOperator",
    )


def test_a_folder_previews_every_pipeline(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview", "pipelines", "--format", "mermaid"]) == 0
    mermaid = capsys.readouterr().out
    assert mermaid.startswith("flowchart LR\n")
    assert re.findall(r'subgraph \w+ \["(\w+)"\]', mermaid) == [
        "emr_notebook_best_sellers",
        "movielens_emr_step_functions",
        "salary_batch_etl",
    ]
    assert "  d3_create_etl -.-> d3_terminate_etl\n" in mermaid
    assert main(["preview", "pipelines", "--format", "dot"]) == 0
    dot = capsys.readouterr().out
    assert dot.count("subgraph cluster_") == 3
    assert '"salary_batch_etl.create_etl" -> "salary_batch_etl.average_salaries"' in dot


def test_json_keys_are_documented(capsys: pytest.CaptureFixture[str]) -> None:
    """docs/preview.md lists every key of the JSON summary."""
    control_flow = "tests/local_run/control_flow.yaml"  # a branch: its own keys
    assert main(["preview", "pipelines", control_flow, "--format", "json", "--now", NOW]) == 0
    document = json.loads(capsys.readouterr().out)
    keys: set[str] = set(document)
    for dag in document["dags"]:
        keys |= set(dag) | set(dag["schedule"])
        for part in ("params", "clusters", "tasks", "connections"):
            for item in dag[part]:
                keys |= set(item)
        keys |= {key for task in dag["tasks"] if task["branch"] for key in task["branch"]}
        for cluster in dag["clusters"]:
            for instance in cluster["instances"]:
                keys |= set(instance)
    first_cells = re.findall(r"^\| ([^|]+) \|", (REPO / "docs" / "preview.md").read_text(), re.MULTILINE)
    documented = {key for cell in first_cells for key in re.findall(r"`([a-z_]+)`", cell)}
    assert keys - documented == set()


@pytest.mark.parametrize(
    ("schedule", "words"),
    [
        (None, "manual only: runs start when triggered from the UI, CLI or API"),
        ("@once", "once, as soon as the DAG is unpaused on or after its start date"),
        ("@daily", "every day at 00:00"),
        ("@hourly", "every hour, on the hour"),
        ("@weekly", "at 00:00 every Sunday"),
        ("@monthly", "at 00:00 on day 1 of the month"),
        ("@quarterly", "at 00:00 on day 1 of the month in January, April, July and October"),
        ("@yearly", "every year at 00:00 on January 1"),
        ("*/15 * * * *", "every 15 minutes"),
        ("15 * * * *", "at minute 15 of every hour"),
        ("0 */2 * * *", "every 2 hours, on the hour"),
        ("30 6 * * 1-5", "at 06:30 every Monday to Friday"),
        ("0 6,18 * * *", "every day at 06:00 and 18:00"),
        ("0 9 * * MON,WED,FRI", "at 09:00 every Monday, Wednesday and Friday"),
        ("0 0 1,15 * *", "at 00:00 on days 1 and 15 of the month"),
        ("0 0 13 * 5", "at 00:00 on day 13 of the month or every Friday"),
        ("*/5 9-17 * * 1-5", "every 5 minutes during hours 9 to 17, every Monday to Friday"),
        ("5,35 8-18 * * *", "at minutes 5 and 35 of hours 8 to 18"),
        ("0 0 L * *", "cron '0 0 L * *'"),
    ],
)
def test_schedule_in_words(schedule: str | None, words: str) -> None:
    assert describe_schedule(schedule) == words


def _runs(schedule: str, **kwargs: object) -> list[str]:
    now = datetime(2024, 3, 30, 12, tzinfo=timezone.utc)
    options: dict = {"now": now, "timezone": "UTC", "start_date": None, "end_date": None, "data_intervals": False}
    options.update(kwargs)
    return [moment.isoformat() for moment in next_runs(schedule, **options)]


def test_next_runs_follow_the_timezone_across_daylight_saving() -> None:
    assert _runs("0 2 * * *", timezone="Europe/Paris", count=3) == [
        "2024-03-31T03:00:00+02:00",  # 02:00 does not exist that night: croniter runs it at 03:00
        "2024-04-01T02:00:00+02:00",
        "2024-04-02T02:00:00+02:00",
    ]


def test_next_runs_respect_start_and_end_dates() -> None:
    start = datetime(2024, 4, 1, tzinfo=timezone.utc)
    end = datetime(2024, 4, 3, tzinfo=timezone.utc)
    assert _runs("@daily", start_date=start, end_date=end) == [
        "2024-04-01T00:00:00+00:00",
        "2024-04-02T00:00:00+00:00",
        "2024-04-03T00:00:00+00:00",
    ]
    # Airflow 2's data-interval timetable: the first interval's run starts when it ends.
    assert _runs("@daily", start_date=start, data_intervals=True, count=2) == [
        "2024-04-02T00:00:00+00:00",
        "2024-04-03T00:00:00+00:00",
    ]
    assert _runs("@once", start_date=start) == []
    assert _runs("@continuous") == []


def test_arguments_without_airflow_record_come_from_the_compiled_config() -> None:
    """Should Airflow stop recording constructor arguments, the compiled configuration gives the same."""
    from generator.compile.build import airflow_major, build_dag
    from generator.compile.pipelines import process
    from generator.core.provider_profile import installed_profile
    from generator.preview.model import describe

    profile = installed_profile()
    (result,) = process(
        [REPO / "pipelines" / "emr_notebook_best_sellers.yaml"], profile=profile, airflow_major=airflow_major()
    )
    assert result.spec is not None and result.config is not None
    now = datetime(2024, 6, 1, tzinfo=timezone.utc)
    dag = build_dag(result.dag_id, result.config)
    recorded = describe(dag, spec=result.spec, config=result.config, profile=profile, now=now)
    for task in dag.tasks:
        del task._BaseOperator__init_kwargs
    compiled = describe(dag, spec=result.spec, config=result.config, profile=profile, now=now)
    assert [t.arguments for t in compiled.tasks] == [t.arguments for t in recorded.tasks]
