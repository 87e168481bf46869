"""movielens_preprocess.py: MovieLens CSV in, Parquet with the declared types out."""

from __future__ import annotations

from pathlib import Path

import movielens_preprocess as preprocess
import pytest
import spark_job_common as common
from job_testkit import write_csv
from pyspark.sql import SparkSession

# Per dataset: the CSV header, rows as the published files spell them (titles
# with commas and RFC 4180 quotes, accents, a timestamp beyond 32 bits), and
# the Parquet column types expected.
FIXTURES = {
    "movies": (
        ("movieId", "title", "genres"),
        [
            (1, "Toy Story (1995)", "Adventure|Animation|Children|Comedy|Fantasy"),
            (2, "American President, The (1995)", "Comedy|Drama|Romance"),
            (3, '"Great Performances" Cats (1998)', "Musical"),
            (4, "Léon: The Professional (a.k.a. The Professional) (Léon) (1994)", "Action|Crime|Drama|Thriller"),
            (5, "Hyena Road", "(no genres listed)"),
        ],
        [("movieId", "int"), ("title", "string"), ("genres", "string")],
    ),
    "ratings": (
        ("userId", "movieId", "rating", "timestamp"),
        [
            (1, 1, 4.0, 964982703),
            (1, 3, 0.5, 964981247),
            (2, 2, 3.5, 1445714835),
            (3, 1, 5.0, 2147483648),
        ],
        [("userId", "int"), ("movieId", "int"), ("rating", "double"), ("timestamp", "bigint")],
    ),
    "tags": (
        ("userId", "movieId", "tag", "timestamp"),
        [
            (2, 2, "funny", 1445714994),
            (2, 3, 'so bad it\'s "good"', 1445715054),
            (3, 1, "pixar, classic", 1525286013),
        ],
        [("userId", "int"), ("movieId", "int"), ("tag", "string"), ("timestamp", "bigint")],
    ),
}


def parquet_rows(spark: SparkSession, folder: Path) -> list[tuple[object, ...]]:
    return sorted(tuple(row) for row in spark.read.parquet(str(folder)).collect())


@pytest.mark.parametrize("dataset", sorted(FIXTURES))
def test_csv_becomes_typed_parquet_and_rerun_replaces_it(spark: SparkSession, tmp_path: Path, dataset: str) -> None:
    header, rows, expected_types = FIXTURES[dataset]
    source = write_csv(tmp_path / "raw" / f"{dataset}.csv", header, rows)
    output = tmp_path / "output" / dataset
    args = preprocess.PreprocessArgs(dataset=dataset, input=str(source), output=f"{output}/")

    preprocess.run(spark, args)
    first_run = parquet_rows(spark, output)
    preprocess.run(spark, args)

    assert first_run == sorted(rows)
    assert parquet_rows(spark, output) == sorted(rows)
    written = spark.read.parquet(str(output)).schema
    assert [(field.name, field.dataType.simpleString()) for field in written] == expected_types


def test_csv_of_another_dataset_is_refused(spark: SparkSession, tmp_path: Path) -> None:
    header, rows, _types = FIXTURES["ratings"]
    source = write_csv(tmp_path / "ratings.csv", header, rows)
    args = preprocess.PreprocessArgs(dataset="movies", input=str(source), output=str(tmp_path / "out"))

    with pytest.raises(common.JobError) as raised:
        preprocess.run(spark, args)

    assert str(raised.value) == (
        f"movies CSV {source} has header 'userId,movieId,rating,timestamp', expected 'movieId,title,genres'"
    )
    assert not (tmp_path / "out").exists()


def test_empty_csv_is_refused(spark: SparkSession, tmp_path: Path) -> None:
    source = tmp_path / "tags.csv"
    source.write_text("")
    args = preprocess.PreprocessArgs(dataset="tags", input=str(source), output=str(tmp_path / "out"))

    with pytest.raises(common.JobError) as raised:
        preprocess.run(spark, args)

    assert str(raised.value) == f"tags CSV is empty: {source}"
