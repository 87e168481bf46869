"""The scripts as a cluster runs them: separate processes that start their own Spark.

These are the slow tests (a JVM each), so there are few: one missing-input run
per job, and one spark-submit of a script shipped apart from its shared module.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
import sample_data
from job_testkit import (
    JOBS_DIR,
    assert_one_line_error,
    job_environment,
    read_single_csv,
    round_half_up,
    run_python_script,
)

JOB_ERROR = 1


# (script, arguments, expected line); {absent} is a folder that does not exist,
# {out} an output folder that must not get created.
MISSING_INPUT_CASES = {
    "preprocess": (
        "movielens_preprocess.py",
        ["--dataset", "movies", "--input", "{absent}/movies.csv", "--output", "{out}"],
        "error: movies CSV not found: {absent}/movies.csv",
    ),
    "curate-as-glue": (
        "movielens_curate.py",  # with the system arguments Glue adds
        [
            "--JOB_ID",
            "j_1",
            "--input",
            "{absent}/",
            "--output",
            "{out}",
            "--job-bookmark-option",
            "job-bookmark-disable",
            "--JOB_NAME",
            "curate",
        ],
        "error: movies Parquet not found: {absent}/movies",
    ),
    "salary": (
        "salary_averages.py",
        ["--features", "{absent}/train_features.csv", "--salaries", "{absent}/train_salaries.csv", "--output", "{out}"],
        "error: features CSV not found: {absent}/train_features.csv",
    ),
    "best-sellers": (
        "best_sellers.py",
        [
            "--input",
            "{absent}/parquet",
            "--output",
            "{out}",
            "--from-date",
            "2015-08-25",
            "--to-date",
            "2015-08-31",
            "--categories",
            "Books",
        ],
        "error: reviews Parquet not found: {absent}/parquet",
    ),
}


@pytest.mark.parametrize("case", sorted(MISSING_INPUT_CASES))
def test_missing_input_is_one_line_not_a_java_trace(case: str, tmp_path: Path) -> None:
    script, arg_templates, expected_template = MISSING_INPUT_CASES[case]
    places = {"absent": tmp_path / "absent", "out": tmp_path / "out"}

    result = run_python_script(JOBS_DIR / script, [arg.format(**places) for arg in arg_templates], java_available=True)

    assert_one_line_error(result, expected_template.format(**places), JOB_ERROR)
    assert not (tmp_path / "out").exists()


def test_spark_submit_with_shared_module_shipped_by_py_files(tmp_path: Path) -> None:
    """As on EMR: the script and its shared module uploaded apart, joined by --py-files."""
    scripts, shared = tmp_path / "scripts", tmp_path / "shared"
    scripts.mkdir()
    shared.mkdir()
    script = Path(shutil.copy(JOBS_DIR / "salary_averages.py", scripts))
    common_module = Path(shutil.copy(JOBS_DIR / "spark_job_common.py", shared))
    tables = sample_data.salary_tables(seed=2, rows=300)
    sample_data.write_csv_tables(tables, tmp_path / "data")
    spark_submit = Path(sys.executable).parent / "spark-submit"

    result = subprocess.run(
        [
            str(spark_submit),
            "--master",
            "local[1]",
            "--deploy-mode",
            "client",
            "--conf",
            "spark.sql.shuffle.partitions=2",
            "--conf",
            "spark.ui.enabled=false",
            "--py-files",
            str(common_module),
            str(script),
            "--features",
            str(tmp_path / "data" / "train_features.csv"),
            "--salaries",
            str(tmp_path / "data" / "train_salaries.csv"),
            "--output",
            str(tmp_path / "average_salary"),
        ],
        capture_output=True,
        text=True,
        env=job_environment(java_available=True),
        cwd=tmp_path,
        timeout=300,
        check=False,
    )

    assert (result.returncode, result.stderr) == (0, "")
    features, salaries = tables[0].rows, dict(tables[1].rows)
    pay_by_type: dict[str, list[int]] = defaultdict(list)
    for row in features:
        pay_by_type[str(row[2])].append(int(salaries[row[0]]))  # type: ignore[call-overload]
    expected = sorted(
        ((job_type, round_half_up(sum(pay) / len(pay), 4)) for job_type, pay in pay_by_type.items()),
        key=lambda pair: (-pair[1], pair[0]),
    )
    header, rows = read_single_csv(tmp_path / "average_salary" / "jobType")
    assert header == ["jobType", "average_salary"]
    assert [(job_type, float(average)) for job_type, average in rows] == expected
