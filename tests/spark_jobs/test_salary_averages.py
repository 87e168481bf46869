"""salary_averages.py: average salary per feature value, one sorted CSV per feature."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
import salary_averages
import spark_job_common as common
from job_testkit import read_single_csv, round_half_up, write_csv
from pyspark.sql import SparkSession

FEATURES_HEADER = (
    "jobId",
    "companyId",
    "jobType",
    "degree",
    "major",
    "industry",
    "yearsExperience",
    "milesFromMetropolis",
)
HAND_WRITTEN_JOBS = [
    # jobId, companyId, jobType, degree, major, industry, years, miles, salary (None: no salary row)
    ("JOB1", "COMP1", "CEO", "DOCTORAL", "MATH", "FINANCE", 20, 5, 250),
    ("JOB2", "COMP1", "JANITOR", "NONE", "NONE", "EDUCATION", 3, 80, 40),
    ("JOB3", "COMP2", "CTO", "MASTERS", "ENGINEERING", "WEB", 12, 10, 199),
    ("JOB4", "COMP2", "JUNIOR", "BACHELORS", "COMPSCI", "WEB", 1, 30, 101),
    ("JOB5", "COMP3", "MANAGER", "BACHELORS", "BUSINESS", "AUTO", 8, 42, 100),
    ("JOB6", "COMP3", "JUNIOR", "HIGH_SCHOOL", "NONE", "AUTO", 0, 99, 100),
    ("JOB7", "COMP3", "SENIOR", "MASTERS", "PHYSICS", "OIL", 15, 0, 101),
    ("JOB8", "COMP4", "CEO", "DOCTORAL", "MATH", "OIL", 24, 1, None),  # no salary: not averaged
]
# 31 jobs at 100 and one at 101 average exactly 100.03125: Spark rounds that
# half up to 100.0313 where Python's round() would give 100.0312.
HALF_UP_JOBS = [
    (
        f"JOBT{number}",
        "COMPTIE",
        "VICE_PRESIDENT",
        "MASTERS",
        "LITERATURE",
        "SERVICE",
        5,
        50,
        101 if number == 0 else 100,
    )
    for number in range(32)
]
ALL_JOBS = HAND_WRITTEN_JOBS + HALF_UP_JOBS
SALARY_WITHOUT_FEATURES = ("JOB404", 999)  # a salary for an unknown job: not averaged either


def expected_averages(feature: str) -> list[tuple[str, float]]:
    """(value, average salary rounded like Spark), highest first, ties by value."""
    column = FEATURES_HEADER.index(feature)
    salaries: dict[str, list[int]] = defaultdict(list)
    for job in ALL_JOBS:
        if job[-1] is not None:
            salaries[str(job[column])].append(int(job[-1]))
    averages = [(value, round_half_up(sum(pay) / len(pay), 4)) for value, pay in salaries.items()]
    return sorted(averages, key=lambda pair: (-pair[1], pair[0]))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    data = tmp_path_factory.mktemp("salary") / "data"
    features = write_csv(data / "train_features.csv", FEATURES_HEADER, [job[:-1] for job in ALL_JOBS])
    salary_rows = [(job[0], job[-1]) for job in ALL_JOBS if job[-1] is not None] + [SALARY_WITHOUT_FEATURES]
    salaries = write_csv(data / "train_salaries.csv", ("jobId", "salary"), salary_rows)
    return features, salaries


def read_averages(folder: Path, feature: str) -> list[tuple[str, float]]:
    header, rows = read_single_csv(folder / feature)
    assert header == [feature, "average_salary"]
    return [(value, float(average)) for value, average in rows]


def test_averages_per_feature_are_exact_sorted_and_rerun_replaces_them(
    spark: SparkSession, inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    features, salaries = inputs
    args = salary_averages.SalaryArgs(features=str(features), salaries=str(salaries), output=str(tmp_path / "avg"))

    salary_averages.run(spark, args)
    salary_averages.run(spark, args)

    assert sorted(path.name for path in (tmp_path / "avg").iterdir()) == sorted(salary_averages.AVERAGED_FEATURES)
    for feature in salary_averages.AVERAGED_FEATURES:
        assert read_averages(tmp_path / "avg", feature) == expected_averages(feature), feature
    assert ("COMPTIE", 100.0313) in read_averages(tmp_path / "avg", "companyId")


def test_salaries_file_with_wrong_columns_is_refused(
    spark: SparkSession, inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    features, _salaries = inputs
    wrong = write_csv(tmp_path / "train_salaries.csv", ("id", "pay"), [("JOB1", 1)])
    args = salary_averages.SalaryArgs(features=str(features), salaries=str(wrong), output=str(tmp_path / "avg"))

    with pytest.raises(common.JobError) as raised:
        salary_averages.run(spark, args)

    assert str(raised.value) == f"salaries CSV {wrong} has header 'id,pay', expected 'jobId,salary'"
