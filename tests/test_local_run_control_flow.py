"""``dagen run --local`` of control flow: ``run_if``, a branch and its join, a cleanup, a matrix, a mapped task.

Three real runs of ``tests/local_run/control_flow.yaml`` (each made once per module and shared by the tests
that read it), at fixed logical dates so that ``{{ ds }}`` and the python condition on ``logical_date`` are
known:

* A, the defaults on Wednesday 2024-06-05: the day's marker is provided, every condition holds, the
  incremental path is taken, ``load_file`` maps three files;
* B, Saturday 2024-06-01 with the marker ``--absent``, ``full_refresh`` and no files: the guarded tasks are
  skipped, the other path is taken, ``load_file`` maps nothing;
* C, A with ``--fail load_file[1]``: only the second member of the mapped task fails, the cleanup and the
  cluster's teardown still run.

The command-line checks and the helpers around the runs are tested without a run.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from generator.local.command import LocalRunOutcome, main
from tests.test_local_run import REPO, emulator, local_runs, monkeypatch_module, states  # noqa: F401 - a fixture

SPEC = "tests/local_run/control_flow.yaml"
WEDNESDAY = ("--logical-date", "2024-06-05")
MARKER = "s3://dagen-flow-landing/2024-06-01/_SUCCESS"
SATURDAY_FULL_NO_FILES = (
    "--param",
    "full_refresh=true",
    "--param",
    "files=0",
    "--absent",
    MARKER,
    "--logical-date",
    "2024-06-01",
)
FAIL_SECOND_FILE = ("--fail", "load_file[1]", *WEDNESDAY)
INJECTED = "injected by dagen run --fail {}"

RUN_A = {
    "run_if_landed": "success",
    "run_if_weekday_report": "success",
    "route": "success",
    "list_files": "success",
    "landed": "success",
    "run_if_summarise": "success",
    "weekday_report": "success",
    "full_reload": "skipped",
    "incremental": "success",
    "load_file_items": "success",
    "summarise": "success",
    "create_etl": "success",
    "load_file[0]": "success",
    "load_file[1]": "success",
    "load_file[2]": "success",
    "rank_Books_eu": "success",
    "rank_Books_us": "success",
    "rank_Toys_eu": "success",
    "rank_Toys_us": "success",
    "publish_eu": "success",
    "publish_us": "success",
    "terminate_etl": "success",
    "cleanup": "success",
}
RUN_B = {
    "run_if_landed": "success",
    "run_if_weekday_report": "success",
    "route": "success",
    "list_files": "success",
    "landed": "skipped",
    "run_if_summarise": "skipped",
    "weekday_report": "skipped",
    "full_reload": "success",
    "incremental": "skipped",
    "load_file_items": "success",
    "summarise": "skipped",
    "create_etl": "success",
    "load_file": "skipped",
    "rank_Books_eu": "success",
    "rank_Books_us": "success",
    "rank_Toys_eu": "success",
    "rank_Toys_us": "success",
    "publish_eu": "success",
    "publish_us": "success",
    "terminate_etl": "success",
    "cleanup": "success",
}
RUN_C = {**RUN_A, "load_file[1]": "failed"}  # run A with its second file failing


@pytest.fixture(scope="module")
def runs(request: pytest.FixtureRequest, monkeypatch_module: pytest.MonkeyPatch) -> Any:  # noqa: F811
    """``runs(*options)``: the outcome of ``dagen run tests/local_run/control_flow.yaml --local OPTIONS``, once."""
    ahead = [(SPEC, *options) for options in (WEDNESDAY, SATURDAY_FULL_NO_FILES, FAIL_SECOND_FILE)]  # started ahead
    run = local_runs(request, monkeypatch_module, ahead)
    return lambda *options: run(SPEC, *options)


def _rows(outcome: LocalRunOutcome) -> dict[str, dict[str, Any]]:
    assert outcome.report is not None, outcome.output
    return {row["task_id"]: row for row in outcome.report["tasks"]}


def _load_file_invocations(outcome: LocalRunOutcome) -> list[tuple[str, dict[str, Any], str, str | None]]:
    return sorted(
        (item["origin"], item["payload"], item["state"], item["cause"])
        for item in emulator(outcome)["invocations"]
        if item["function"] == "load-file"
    )


def _matrix_steps(day: str) -> list[tuple[str, list[str]]]:
    return [
        (f"rank_{category}_{region}", ["--category", category, "--region", region, "--day", day])
        for category in ("Books", "Toys")
        for region in ("eu", "us")
    ]


# ----------------------------------------------------------------------------- A: the defaults, on a Wednesday


def test_every_construct_runs_on_a_weekday(runs: Any) -> None:
    outcome = runs(*WEDNESDAY)
    assert outcome.exit_code == 0, outcome.output
    assert outcome.report is not None and outcome.report["state"] == "success"
    assert states(outcome) == RUN_A
    # one try each; the task the branch skipped never ran
    assert {row["task_id"]: row["try_number"] for row in outcome.report["tasks"]} == {
        task_id: 0 if state == "skipped" else 1 for task_id, state in RUN_A.items()
    }
    assert outcome.report["logical_date"] == "2024-06-05T00:00:00+00:00"
    assert "DAG run succeeded: logical date 2024-06-05T00:00:00+00:00" in outcome.output


def test_the_run_if_object_is_provided_at_the_rendered_key(runs: Any) -> None:
    outcome = runs(*WEDNESDAY)
    assert outcome.report is not None
    provided = {item["uri"]: item["provided_for"] for item in emulator(outcome)["objects"] if item["provided_for"]}
    assert provided == {"s3://dagen-flow-landing/2024-06-05/_SUCCESS": "run_if_landed"}
    assert outcome.report["absent"] == {"uris": [], "withheld": []}
    # the guarded Glue job ran with the day, and the task after it too
    job_runs = sorted((run["origin"], run["arguments"], run["state"]) for run in emulator(outcome)["job_runs"])
    assert job_runs == [
        ("incremental", {"--mode": "incremental"}, "SUCCEEDED"),
        ("landed", {"--day": "2024-06-05"}, "SUCCEEDED"),
    ]
    assert [item["origin"] for item in emulator(outcome)["invocations"] if item["function"] == "summarise-landed"] == [
        "summarise"
    ]


def test_each_mapped_member_is_a_row_and_invokes_with_its_item(runs: Any) -> None:
    outcome = runs(*WEDNESDAY)
    rows = _rows(outcome)
    assert [(rows[f"load_file[{i}]"]["map_index"], rows[f"load_file[{i}]"]["try_number"]) for i in range(3)] == [
        (0, 1),
        (1, 1),
        (2, 1),
    ]
    assert "load_file" not in rows
    assert _load_file_invocations(outcome) == [
        (f"load_file[{i}]", {"file": f"part-{i}.csv", "day": "2024-06-05"}, "SUCCEEDED", None) for i in range(3)
    ]
    table = [line.split()[:2] for line in outcome.output.splitlines() if line.strip().startswith("load_file")]
    assert table == [
        ["load_file_items", "success"],
        ["load_file[0]", "success"],
        ["load_file[1]", "success"],
        ["load_file[2]", "success"],
    ]


def test_the_matrix_steps_run_on_the_cluster_which_ends_terminated(runs: Any) -> None:
    outcome = runs(*WEDNESDAY)
    seen = emulator(outcome)
    (cluster,) = seen["clusters"]
    assert (cluster["state"], cluster["origin"]) == ("TERMINATED", "create_etl")
    assert sorted((step["name"], step["args"][4:]) for step in seen["steps"]) == _matrix_steps("2024-06-05")
    assert {(step["state"], step["cluster"], step["args"][3]) for step in seen["steps"]} == {
        ("COMPLETED", cluster["id"], "s3://dagen-flow-jobs/rank.py")
    }
    assert sorted((query["origin"], query["query"]) for query in seen["queries"]) == [
        ("publish_eu", "SELECT count(*) FROM ranks_eu WHERE day = '2024-06-05'"),
        ("publish_us", "SELECT count(*) FROM ranks_us WHERE day = '2024-06-05'"),
    ]


# ----------------------------------------------------------------------------- B: a Saturday, marker absent, no files


def test_absent_marker_weekend_full_refresh_and_no_files(runs: Any) -> None:
    outcome = runs(*SATURDAY_FULL_NO_FILES)
    assert outcome.exit_code == 0, outcome.output
    assert outcome.report is not None and outcome.report["state"] == "success"
    assert states(outcome) == RUN_B
    assert outcome.report["logical_date"] == "2024-06-01T00:00:00+00:00"
    # a mapped task of no items is one row, Airflow's unexpanded instance
    assert _rows(outcome)["load_file"]["map_index"] == -1
    assert _load_file_invocations(outcome) == []


def test_an_absent_object_is_withheld_and_said_so(runs: Any) -> None:
    outcome = runs(*SATURDAY_FULL_NO_FILES)
    assert outcome.report is not None
    assert outcome.report["absent"] == {
        "uris": [MARKER],
        "withheld": [{"uri": MARKER, "for_task": "run_if_landed", "absent": MARKER}],
    }
    assert [item for item in emulator(outcome)["objects"] if item["provided_for"]] == []
    assert f"  injected: --absent {MARKER}" in outcome.output
    assert f"    object {MARKER} withheld from run_if_landed (--absent {MARKER})" in outcome.output
    assert "note: --absent" not in outcome.output


def test_the_branch_takes_the_full_reload_and_the_join_runs(runs: Any) -> None:
    seen = emulator(runs(*SATURDAY_FULL_NO_FILES))
    assert [(run["origin"], run["arguments"]) for run in seen["job_runs"]] == [("full_reload", {"--mode": "full"})]
    assert sorted((step["name"], step["args"][4:]) for step in seen["steps"]) == _matrix_steps("2024-06-01")
    assert [cluster["state"] for cluster in seen["clusters"]] == ["TERMINATED"]
    assert sorted(item["function"] for item in seen["invocations"]) == ["drop-temp-tables"]  # the cleanup only


# ----------------------------------------------------------------------------- C: one mapped member fails


def test_failing_one_member_fails_only_it_and_the_cleanup_still_runs(runs: Any) -> None:
    outcome = runs(*FAIL_SECOND_FILE)
    assert outcome.exit_code == 1
    assert outcome.report is not None and outcome.report["state"] == "failed"
    assert states(outcome) == RUN_C
    seen = emulator(outcome)
    assert [cluster["state"] for cluster in seen["clusters"]] == ["TERMINATED"]
    assert [
        (item["origin"], item["state"]) for item in seen["invocations"] if item["function"] == "drop-temp-tables"
    ] == [("cleanup", "SUCCEEDED")]


def test_the_failed_member_is_reported_with_its_cause(runs: Any) -> None:
    outcome = runs(*FAIL_SECOND_FILE)
    row = _rows(outcome)["load_file[1]"]
    failed = [item for item in _load_file_invocations(outcome) if item[0] == "load_file[1]"]
    # each try of the member invokes again, and each invocation fails; the other members' succeed once
    assert (
        failed
        == [("load_file[1]", {"file": "part-1.csv", "day": "2024-06-05"}, "FAILED", INJECTED.format("load_file[1]"))]
        * row["try_number"]
    )
    assert [item for item in _load_file_invocations(outcome) if item[0] != "load_file[1]"] == [
        ("load_file[0]", {"file": "part-0.csv", "day": "2024-06-05"}, "SUCCEEDED", None),
        ("load_file[2]", {"file": "part-2.csv", "day": "2024-06-05"}, "SUCCEEDED", None),
    ]
    assert len(row["errors"]) == row["try_number"]
    assert "  injected: --fail load_file[1]" in outcome.output
    assert "DAG run FAILED: logical date 2024-06-05T00:00:00+00:00" in outcome.output
    assert f"failed: load_file[1] (try {row['try_number']}): " in outcome.output
    ids = [item["id"] for item in emulator(outcome)["invocations"] if item["origin"] == "load_file[1]"]
    assert f"    cause: lambda invocation {ids[-1]} FAILED: {INJECTED.format('load_file[1]')}" in outcome.output


# ----------------------------------------------------------------------------- bad command lines (no run)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            ["--logical-date", "2024-6-5"],
            "invalid --logical-date '2024-6-5': a date (2024-06-05) or an ISO date-time (2024-06-05T06:30:00, "
            "UTC unless it has an offset such as +02:00)",
        ),
        (
            ["--logical-date", "2024-02-30"],
            "invalid --logical-date '2024-02-30': a date (2024-06-05) or an ISO date-time (2024-06-05T06:30:00, "
            "UTC unless it has an offset such as +02:00)",
        ),
        (
            ["--logical-date", "2023-12-31T23:59:59"],
            "invalid --logical-date '2023-12-31T23:59:59': before the pipeline's start_date "
            "2024-01-01T00:00:00+00:00 (Airflow runs no task of it)",
        ),
        (
            ["--absent", "dagen-flow-landing/2024-06-01/_SUCCESS"],
            "invalid --absent 'dagen-flow-landing/2024-06-01/_SUCCESS': an S3 URI, s3://BUCKET/KEY "
            "(a prefix ends in /)",
        ),
        (
            ["--absent", "s3://dagen-flow-landing/{{ ds }}/_SUCCESS"],
            "invalid --absent 's3://dagen-flow-landing/{{ ds }}/_SUCCESS': the URI as rendered for this run "
            "(s3://landing/2024-06-01/_SUCCESS, with --logical-date 2024-06-01), not a template",
        ),
        (
            ["--fail", "load_file[one]"],
            "malformed --fail 'load_file[one]': expected TASK_ID, or TASK_ID[INDEX] for one member of a mapped "
            "task (load_file[0] is its first)",
        ),
        (
            ["--fail", "lod_file[1]"],
            "unknown task 'lod_file' in --fail; did you mean 'load_file'? tasks of control_flow: cleanup, "
            "full_reload, incremental, landed, list_files, load_file, publish_eu, publish_us, rank_Books_eu, "
            "rank_Books_us, rank_Toys_eu, rank_Toys_us, route, summarise, weekday_report",
        ),
        (
            ["--fail", "list_files[0]"],
            "--fail list_files[0]: a python task cannot be made to fail locally (supported: emr_step, "
            "emr_notebook, step_function, glue_job, athena_query, emr_serverless_job, emr_eks_job, lambda_invoke, "
            "redshift_sql, s3_to_redshift, redshift_to_s3, glue_data_quality, s3_copy)",
        ),
        (
            ["--fail", "summarise[0]"],
            "--fail summarise[0]: summarise is not mapped at run time, so it has no member [0] (INDEX names a "
            "member of a task with for_each: {output_of: TASK}; mapped tasks of control_flow: load_file)",
        ),
    ],
)
def test_bad_control_flow_options_are_one_line_errors(
    options: list[str], message: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(REPO)
    assert main(["run", SPEC, "--local", *options]) == 2
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", f"dagen: {message}\n")


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2024-06-05", "2024-06-05T00:00:00+00:00"),
        (" 2024-06-05 ", "2024-06-05T00:00:00+00:00"),
        ("2024-06-05T06:30:00", "2024-06-05T06:30:00+00:00"),
        ("2024-06-05 06:30", "2024-06-05T06:30:00+00:00"),
        ("2024-06-05T06:30:00Z", "2024-06-05T06:30:00+00:00"),
        ("2024-06-05T06:30:00+02:00", "2024-06-05T06:30:00+02:00"),
    ],
)
def test_a_logical_date_is_a_date_or_an_iso_date_time_utc_by_default(
    text: str, iso: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from generator.compile.pipelines import process
    from generator.local.command import installed_target, parse_logical_date

    monkeypatch.chdir(REPO)
    profile, major = installed_target()
    result = process([REPO / SPEC], profile=profile, airflow_major=major, root=REPO)[0]
    assert parse_logical_date(text, result) == iso


# ----------------------------------------------------------------------------- the helpers (no run)


class _FakeAws:
    def __init__(self) -> None:
        self.put: list[tuple[str, str, str]] = []

    def provide_object(self, bucket: str, key: str, *, for_task: str, size: int = 0) -> str:
        assert size == 0  # a condition or a sensor without min_size gets an empty object
        self.put.append((bucket, key, for_task))
        return f"s3://{bucket}/{key}"


def _check(uri: str) -> Any:
    from generator.runtime.conditions import condition_holds

    return SimpleNamespace(
        python_callable=condition_holds, op_args=[json.dumps({"s3_exists": uri, "aws_conn_id": "aws_default"})]
    )


@pytest.mark.parametrize(
    ("uri", "absent", "put", "withheld"),
    [
        ("s3://b/day/_SUCCESS", [], [("b", "day/_SUCCESS")], []),
        ("s3://b/day/", [], [("b", "day/dagen-local")], []),  # a prefix: one object under it
        ("s3://b", [], [("b", "dagen-local")], []),
        ("s3://b/day/_SUCCESS", ["s3://b/day/_SUCCESS"], [], ["s3://b/day/_SUCCESS"]),
        ("s3://b/day/_SUCCESS", ["s3://b/day/"], [], ["s3://b/day/"]),  # an absent prefix withholds what is under it
        ("s3://b/day/", ["s3://b/day/"], [], ["s3://b/day/"]),
        ("s3://b/day/", ["s3://b/day/dagen-local"], [], ["s3://b/day/dagen-local"]),  # the object it would put
        ("s3://b/day/_SUCCESS", ["s3://b/day"], [("b", "day/_SUCCESS")], []),  # not a prefix: no /
        ("s3://b/day/_SUCCESS", ["s3://b/day/_SUCCESS.tmp"], [("b", "day/_SUCCESS")], []),
    ],
)
def test_a_run_if_s3_check_gets_its_object_unless_absent(
    uri: str, absent: list[str], put: list[tuple[str, str]], withheld: list[str]
) -> None:
    from generator.local.sensor_objects import provide_objects

    aws, notes = _FakeAws(), []  # type: ignore[var-annotated]
    provide_objects(aws, _check(uri), "run_if_landed", absent=absent, withheld=notes)  # type: ignore[arg-type]
    provide_objects(aws, _check(uri), "run_if_landed", absent=absent, withheld=notes)  # type: ignore[arg-type]
    assert [(bucket, key) for bucket, key, _ in aws.put[:1]] == put
    assert notes == [{"uri": uri, "for_task": "run_if_landed", "absent": item} for item in withheld]  # noted once


def test_other_conditions_and_tasks_get_no_object() -> None:
    from generator.local.sensor_objects import provide_objects
    from generator.runtime.conditions import condition_holds

    aws = _FakeAws()
    for task in (
        SimpleNamespace(python_callable=condition_holds, op_args=['{"python": "lib.flow_checks.is_weekday"}']),
        SimpleNamespace(python_callable=condition_holds, op_args=['{"expression": "True"}']),
        SimpleNamespace(python_callable=print, op_args=['{"s3_exists": "s3://b/k"}']),
        SimpleNamespace(),
    ):
        assert provide_objects(aws, task, "t") == []  # type: ignore[arg-type]
    assert aws.put == []


@pytest.mark.parametrize(
    ("absent", "put"),
    [
        ([], ["s3://landing-zone/in/2024-01-01/dagen-local.csv"]),
        (["s3://landing-zone/in/2024-01-01/*.csv"], []),  # the pattern, as rendered
        (["s3://landing-zone/in/2024-01-01/dagen-local.csv"], []),  # the key made for it
        (["s3://landing-zone/in/"], []),
        (["s3://landing-zone/in/2024-01-02/"], ["s3://landing-zone/in/2024-01-01/dagen-local.csv"]),
    ],
)
def test_an_absent_object_is_not_put_for_a_sensor(absent: list[str], put: list[str]) -> None:
    from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor

    from generator.local.sensor_objects import provide_sensor_objects

    sensor = S3KeySensor(task_id="landed", bucket_key="s3://landing-zone/in/2024-01-01/*.csv", wildcard_match=True)
    notes: list[dict[str, str]] = []
    assert provide_sensor_objects(_FakeAws(), sensor, "landed", absent=absent, withheld=notes) == put  # type: ignore[arg-type]
    assert [note["uri"] for note in notes] == ([] if put else ["s3://landing-zone/in/2024-01-01/*.csv"])


@pytest.mark.parametrize(
    ("origin", "names"),
    [
        ("load_file[1]", ("load_file[1]", "load_file")),
        ("grp.load_file[12]", ("grp.load_file[12]", "grp.load_file")),
        ("load_file", ("load_file",)),
        ("load_file[x]", ("load_file[x]",)),
        (None, ()),
    ],
)
def test_a_fault_on_a_mapped_task_applies_to_each_member(origin: str | None, names: tuple[str, ...]) -> None:
    from generator.local.emulator.shared import origin_names

    assert origin_names(origin) == names


def test_the_emulator_fails_a_member_or_every_member_of_a_mapped_task() -> None:
    from botocore.exceptions import ClientError

    from generator.local.emulator import LocalAws
    from generator.local.resources import create_local_resources

    lambda_ = "airflow.providers.amazon.aws.operators.lambda_function.LambdaInvokeFunctionOperator"
    with LocalAws() as aws:
        create_local_resources(aws, {"tasks": {"load": {"operator": lambda_, "function_name": "load-file"}}}, {})
        aws.fail("every", "every member")
        aws.fail("one[1]", "one member")
        aws.lose_first_response("lossy")
        answers = {}
        for origin in ("every[0]", "every[1]", "one[0]", "one[1]", "one[2]", "lossy[0]", "lossy[1]", "every"):
            aws.attribute_to(origin)
            try:
                answers[origin] = (
                    aws.client("lambda").invoke(FunctionName="load-file", Payload=b"{}").get("FunctionError", "ok")
                )
            except ClientError as error:
                answers[origin] = error.response["Error"]["Code"]
        seen = {item["origin"]: item["cause"] for item in aws.snapshot()["invocations"]}
    assert answers == {
        "every[0]": "Unhandled",
        "every[1]": "Unhandled",
        "one[0]": "ok",
        "one[1]": "Unhandled",
        "one[2]": "ok",
        "lossy[0]": "InvalidRequestContentException",  # the first member's response is lost (a Lambda error)
        "lossy[1]": "ok",
        "every": "Unhandled",
    }
    assert aws.lost_responses == [("lossy[0]", "invoke")]
    assert (seen["every[1]"], seen["one[1]"], seen["one[2]"]) == ("every member", "one member", None)


def test_the_rows_of_mapped_tasks() -> None:
    from generator.local.run import _task_rows

    def ti(task_id: str, map_index: int, state: str) -> Any:
        return SimpleNamespace(task_id=task_id, map_index=map_index, state=state, try_number=1)

    run = SimpleNamespace(
        get_task_instances=lambda: [
            ti("load_file", 1, "failed"),
            ti("load_file", 0, "success"),
            ti("other", -1, "skipped"),
            ti("list_files", -1, "success"),
        ]
    )
    assert [
        (row["task_id"], row["map_index"], row["state"])
        for row in _task_rows(run, ["list_files", "load_file", "other"])
    ] == [
        ("list_files", -1, "success"),
        ("load_file[0]", 0, "success"),
        ("load_file[1]", 1, "failed"),
        ("other", -1, "skipped"),
    ]
