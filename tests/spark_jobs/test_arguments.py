"""Command-line handling of every job, checked before any Spark start-up.

Each case runs the real script in a subprocess with Java made unavailable: a
script that started Spark for ``--help`` or a bad argument would fail with a
Java gateway traceback instead of the expected line.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import spark_job_common as common
from job_testkit import JOBS_DIR, assert_one_line_error, run_python_script

USAGE_ERROR = 2


def best_sellers_argv(
    *, from_date: str = "2015-08-25", to_date: str = "2015-08-31", categories: str = "Books"
) -> list[str]:
    """best_sellers.py arguments, valid unless a value is overridden; --categories comes last."""
    return [
        "--input",
        "in",
        "--output",
        "out",
        "--from-date",
        from_date,
        "--to-date",
        to_date,
        "--categories",
        categories,
    ]


# (script, arguments, the one stderr line expected)
# fmt: off
ARGUMENT_ERRORS = [
    ("movielens_preprocess.py", [], "error: the following arguments are required: --dataset, --input, --output"),
    (
        "movielens_preprocess.py",
        ["--dataset", "links", "--input", "in.csv", "--output", "out"],
        "error: argument --dataset: unknown dataset 'links' (expected one of: movies, ratings, tags)",
    ),
    (
        "movielens_preprocess.py",
        ["--dataset", "movies", "--input", " ", "--output", "out"],
        "error: argument --input: must not be empty",
    ),
    (
        "movielens_preprocess.py",
        ["--dataset", "movies", "--input", "in.csv", "--output", "out", "--bucket", "b"],
        "error: unrecognized arguments: --bucket b",
    ),
    (
        "movielens_curate.py",
        ["--output", "out", "--JOB_NAME", "curate", "--job-bookmark-option", "job-bookmark-disable"],
        "error: the following arguments are required: --input",
    ),
    (
        "movielens_curate.py",
        ["--input", "in", "--output", "out", "--min-ratings", "0"],
        "error: argument --min-ratings: must be at least 1, got 0",
    ),
    (
        "movielens_curate.py",
        ["--input", "in", "--output", "out", "--min-ratings", "ten"],
        "error: argument --min-ratings: invalid integer 'ten'",
    ),
    (
        "salary_averages.py",
        ["--features", "f.csv", "--salaries", "s.csv"],
        "error: the following arguments are required: --output",
    ),
    ("best_sellers.py", best_sellers_argv(from_date="2015-13-01", to_date="2015-12-31"),
     "error: argument --from-date: invalid date '2015-13-01' (expected YYYY-MM-DD)"),
    ("best_sellers.py", best_sellers_argv(to_date="25/08/2015"),
     "error: argument --to-date: invalid date '25/08/2015' (expected YYYY-MM-DD)"),
    ("best_sellers.py", best_sellers_argv(from_date="2015-09-01"),
     "error: --from-date 2015-09-01 is after --to-date 2015-08-31"),
    ("best_sellers.py", best_sellers_argv(categories=""), "error: no categories given"),
    ("best_sellers.py", best_sellers_argv(categories="Books,,Baby"), "error: empty category name in 'Books,,Baby'"),
    ("best_sellers.py", best_sellers_argv()[:-1], "error: argument --categories: expected one argument"),
    (
        "sample_data.py",
        ["--dataset", "weather", "--output", "out"],
        "error: argument --dataset: unknown dataset 'weather' (expected one of: movielens, salary, reviews)",
    ),
    (
        "sample_data.py",
        ["--dataset", "salary", "--output", "out", "--rows", "-5"],
        "error: argument --rows: must be at least 1, got -5",
    ),
]
# fmt: on


@pytest.mark.parametrize(
    ("script", "args", "expected"),
    ARGUMENT_ERRORS,
    ids=[f"{script}:{expected[7:50]}" for script, _args, expected in ARGUMENT_ERRORS],
)
def test_bad_arguments_give_one_line_error(script: str, args: list[str], expected: str) -> None:
    result = run_python_script(JOBS_DIR / script, args, java_available=False)
    assert_one_line_error(result, expected, USAGE_ERROR)


@pytest.mark.parametrize(
    ("script", "usage_start"),
    [
        ("movielens_preprocess.py", "usage: movielens_preprocess.py [-h] --dataset {movies,ratings,tags}"),
        ("movielens_curate.py", "usage: movielens_curate.py [-h] --input INPUT --output OUTPUT"),
        ("salary_averages.py", "usage: salary_averages.py [-h] --features FEATURES --salaries SALARIES"),
        ("best_sellers.py", "usage: best_sellers.py [-h] --input INPUT --output OUTPUT"),
        ("sample_data.py", "usage: sample_data.py [-h] --dataset {movielens,salary,reviews}"),
    ],
)
def test_help_works_without_spark(script: str, usage_start: str) -> None:
    result = run_python_script(JOBS_DIR / script, ["--help"], java_available=False)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith(usage_start)


def test_script_shipped_without_shared_module_says_how_to_ship_it(tmp_path: Path) -> None:
    lone_script = Path(shutil.copy(JOBS_DIR / "best_sellers.py", tmp_path / "best_sellers.py"))
    result = run_python_script(lone_script, ["--help"], java_available=False, cwd=tmp_path)
    assert_one_line_error(
        result,
        "error: cannot import spark_job_common: pass spark_job_common.py with --py-files (spark-submit) "
        "or --extra-py-files (Glue)",
        exit_code=1,
    )


def test_multi_line_messages_are_printed_as_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    # Spark's AnalysisException and Java messages span lines; the report must not.
    common.print_error("[PATH_NOT_FOUND] Path does not exist: s3://b/x.\n  hint: check the bucket\n")
    assert capsys.readouterr().err == "error: [PATH_NOT_FOUND] Path does not exist: s3://b/x. hint: check the bucket\n"
