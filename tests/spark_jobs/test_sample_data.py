"""sample_data.py: deterministic demo inputs that the jobs accept as they are."""

from __future__ import annotations

import csv
from pathlib import Path

import best_sellers
import movielens_preprocess as preprocess
import pytest
import salary_averages
import sample_data
from pyspark.sql import SparkSession

CSV_DATASETS = {
    "movielens": {
        "movies.csv": preprocess.SCHEMAS["movies"].fieldNames(),
        "ratings.csv": preprocess.SCHEMAS["ratings"].fieldNames(),
        "tags.csv": preprocess.SCHEMAS["tags"].fieldNames(),
    },
    "salary": {
        "train_features.csv": salary_averages.FEATURES_SCHEMA.fieldNames(),
        "train_salaries.csv": salary_averages.SALARIES_SCHEMA.fieldNames(),
        "test_features.csv": salary_averages.FEATURES_SCHEMA.fieldNames(),
    },
}


def file_bytes(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


@pytest.mark.parametrize("dataset", sorted(CSV_DATASETS))
def test_csv_datasets_are_deterministic_and_have_the_jobs_headers(dataset: str, tmp_path: Path) -> None:
    for run, seed in (("first", 11), ("again", 11), ("other-seed", 12)):
        assert (
            sample_data.main(
                ["--dataset", dataset, "--output", str(tmp_path / run), "--seed", str(seed), "--rows", "300"]
            )
            == 0
        )

    assert file_bytes(tmp_path / "first") == file_bytes(tmp_path / "again")
    assert file_bytes(tmp_path / "first") != file_bytes(tmp_path / "other-seed")
    for file_name, columns in CSV_DATASETS[dataset].items():
        with (tmp_path / "first" / file_name).open(newline="") as handle:
            assert next(csv.reader(handle)) == columns


def test_row_counts_follow_rows_option() -> None:
    tables = {table.file_name: table.rows for table in sample_data.movielens_tables(seed=1, rows=250)}
    assert (len(tables["ratings.csv"]), len(tables["movies.csv"]), len(tables["tags.csv"])) == (250, 25, 25)
    salary = {table.file_name: table.rows for table in sample_data.salary_tables(seed=1, rows=40)}
    assert (len(salary["train_features.csv"]), len(salary["train_salaries.csv"])) == (40, 40)
    assert len(sample_data.review_rows(seed=1, rows=70)) == 70


def test_reviews_are_deterministic_and_fit_the_job_schema() -> None:
    reviews = sample_data.review_rows(seed=5, rows=200)
    assert reviews == sample_data.review_rows(seed=5, rows=200)
    assert reviews != sample_data.review_rows(seed=6, rows=200)
    assert all(len(row) == len(best_sellers.REVIEWS_SCHEMA.fields) for row in reviews)


def test_movielens_sample_survives_preprocessing_exactly(spark: SparkSession, tmp_path: Path) -> None:
    sample_data.main(["--dataset", "movielens", "--output", str(tmp_path / "raw"), "--rows", "400"])
    movies = next(
        t for t in sample_data.movielens_tables(seed=sample_data.DEFAULT_SEED, rows=400) if t.file_name == "movies.csv"
    ).rows
    assert any('"' in str(title) for _id, title, _genres in movies)  # quoting is really exercised
    assert any("," in str(title) for _id, title, _genres in movies)

    preprocess.run(
        spark,
        preprocess.PreprocessArgs(
            dataset="movies", input=str(tmp_path / "raw" / "movies.csv"), output=str(tmp_path / "movies")
        ),
    )

    written = sorted(tuple(row) for row in spark.read.parquet(str(tmp_path / "movies")).collect())
    assert written == sorted(movies)
