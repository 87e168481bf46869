"""best_sellers.py and the notebook that calls it: top 20 per category, CSV per category."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import best_sellers
import nbformat
import pytest
import sample_data
import spark_job_common as common
from job_testkit import JOBS_DIR, read_single_csv
from pyspark.sql import SparkSession

FROM_DATE = date(2015, 8, 25)
TO_DATE = date(2015, 8, 31)
OUTPUT_HEADER = ["rank", "product_id", "product_title", "total_stars", "review_count"]

Review = tuple[object, ...]


def review(
    product_id: str, category: str, stars: int, day: date, *, verified: str = "Y", title: str | None = None
) -> Review:
    """One review row in the reviews Parquet column order."""
    return (
        "US",
        "12345678",
        f"R{product_id}{day:%m%d}{stars}",
        product_id,
        "987654321",
        title or f"{product_id} title",
        stars,
        0,
        0,
        "N",
        verified,
        "Five Stars",
        "Fine.",
        day,
        day.year,
        category,
    )


def book_reviews() -> list[Review]:
    """23 books with totals 42, 40, ..., so the top-20 cut falls inside a tie."""
    reviews = []
    for number in range(1, 24):
        total = max(44 - 2 * number, 6)  # books 19-23 all total 6: only 19 and 20 make the cut
        day = FROM_DATE + timedelta(days=number % 7)
        while total:
            stars = min(total, 5)
            reviews.append(review(f"BOOK{number:02d}", "Books", stars, day))
            total -= stars
    return reviews


EDGE_REVIEWS = [
    # Counted: first and last day of the window.
    review("BOOK05", "Books", 5, FROM_DATE),
    review("BOOK05", "Books", 5, TO_DATE),
    # Not counted: outside the window, or not a verified purchase.
    review("BOOK21", "Books", 5, FROM_DATE - timedelta(days=1)),
    review("BOOK21", "Books", 5, TO_DATE + timedelta(days=1)),
    review("BOOK22", "Books", 5, FROM_DATE, verified="N"),
    # One product, two spellings of its title.
    review("BOOK01", "Books", 1, TO_DATE, title="BOOK01 title (Paperback)"),
    review("BABY1", "Baby", 4, TO_DATE),
    review("BABY2", "Baby", 4, TO_DATE),
    review("BABY3", "Baby", 5, TO_DATE, verified="N"),  # only unverified: not listed
    review("TOY1", "Toys", 5, TO_DATE),  # category not asked for
    review("BEAUTY1", "Beauty", 5, TO_DATE + timedelta(days=3)),  # asked for, nothing in the window
]
HAND_WRITTEN_REVIEWS = book_reviews() + EDGE_REVIEWS


def expected_best_sellers(
    reviews: Sequence[Review],
    categories: Sequence[str],
    first: date,
    last: date,
) -> dict[str, list[list[str]]]:
    """Per category, the CSV rows the job should write, computed without Spark."""
    stars: dict[tuple[str, str], int] = defaultdict(int)
    counts: dict[tuple[str, str], int] = defaultdict(int)
    titles: dict[tuple[str, str], str] = {}
    for row in reviews:
        product_id, title, star_rating, verified, day, category = (row[3], row[5], row[6], row[10], row[13], row[15])
        if verified != "Y" or not first <= day <= last or category not in categories:
            continue
        key = (str(category), str(product_id))
        stars[key] += int(star_rating)
        counts[key] += 1
        titles[key] = max(titles.get(key, str(title)), str(title))
    ranked: dict[str, list[list[str]]] = {}
    for category, product_id in sorted(stars, key=lambda key: (key[0], -stars[key], key[1])):
        key = (category, product_id)
        rows = ranked.setdefault(category, [])
        if len(rows) < best_sellers.TOP_N:
            rows.append([str(len(rows) + 1), product_id, titles[key], str(stars[key]), str(counts[key])])
    return ranked


def read_best_sellers(output: Path) -> dict[str, list[list[str]]]:
    """Per ``product_category=<name>/`` folder, the rows of its single CSV file, in file order."""
    result = {}
    for folder in sorted(output.glob("product_category=*")):
        header, rows = read_single_csv(folder)
        assert header == OUTPUT_HEADER
        result[folder.name.split("=", 1)[1]] = rows
    return result


def write_reviews_flat(spark: SparkSession, reviews: Sequence[Review], folder: Path) -> Path:
    """Reviews as Parquet files that carry product_category as a column."""
    spark.createDataFrame(list(reviews), best_sellers.REVIEWS_SCHEMA).write.parquet(str(folder))
    return folder


@pytest.fixture(scope="module")
def flat_reviews(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_reviews_flat(spark, HAND_WRITTEN_REVIEWS, tmp_path_factory.mktemp("reviews") / "parquet")


def make_args(
    input_path: Path, output: Path, categories: Sequence[str], first: date = FROM_DATE, last: date = TO_DATE
) -> best_sellers.BestSellersArgs:
    return best_sellers.BestSellersArgs(
        input=str(input_path), output=str(output), from_date=first, to_date=last, categories=tuple(categories)
    )


def test_top_twenty_per_category_and_rerun_replaces_output(
    spark: SparkSession, flat_reviews: Path, tmp_path: Path
) -> None:
    categories = ("Books", "Baby", "Beauty")
    args = make_args(flat_reviews, tmp_path / "out", categories)
    expected = expected_best_sellers(HAND_WRITTEN_REVIEWS, categories, FROM_DATE, TO_DATE)

    best_sellers.run(spark, args)
    best_sellers.run(spark, args)

    assert sorted(expected) == ["Baby", "Books"]  # Beauty has nothing in the window
    assert [row[1] for row in expected["Books"][-2:]] == ["BOOK19", "BOOK20"]  # the cut falls in a tie
    assert read_best_sellers(tmp_path / "out") == expected


def test_output_holds_only_the_latest_run(spark: SparkSession, flat_reviews: Path, tmp_path: Path) -> None:
    best_sellers.run(spark, make_args(flat_reviews, tmp_path / "out", ("Books", "Baby")))
    best_sellers.run(spark, make_args(flat_reviews, tmp_path / "out", ("Baby",)))

    assert read_best_sellers(tmp_path / "out") == expected_best_sellers(
        HAND_WRITTEN_REVIEWS, ("Baby",), FROM_DATE, TO_DATE
    )


def test_partitioned_sample_data_like_the_public_data_set(spark: SparkSession, tmp_path: Path) -> None:
    reviews = sample_data.review_rows(seed=3, rows=1500)
    sample_data.write_reviews(spark, reviews, tmp_path / "parquet")
    categories = sample_data.REVIEW_CATEGORIES
    august = (date(2015, 8, 1), date(2015, 8, 31))  # wide enough for more than 20 products per category

    best_sellers.run(spark, make_args(tmp_path / "parquet", tmp_path / "out", categories, *august))

    assert sorted(path.name for path in (tmp_path / "parquet").iterdir() if path.is_dir()) == [
        f"product_category={category}" for category in sorted(categories)
    ]
    expected = expected_best_sellers(reviews, categories, *august)
    assert all(len(rows) == best_sellers.TOP_N for rows in expected.values())
    assert read_best_sellers(tmp_path / "out") == expected


NOTEBOOK_PARAMETER_ERRORS = [
    ({"categories": []}, "no categories given"),
    ({"categories": ["Books", " "]}, "empty category name in ['Books', ' ']"),
    ({"from_date": "2015/08/25"}, "FROM_DATE: invalid date '2015/08/25' (expected YYYY-MM-DD)"),
    ({"from_date": "2015-09-01"}, "--from-date 2015-09-01 is after --to-date 2015-08-31"),
    ({"output_location": ""}, "OUTPUT_LOCATION must not be empty"),
]


@pytest.mark.parametrize(("override", "message"), NOTEBOOK_PARAMETER_ERRORS)
def test_notebook_parameters_are_validated(override: dict[str, object], message: str) -> None:
    parameters: dict[str, object] = {
        "input_location": "s3://b/in/",
        "output_location": "s3://b/out/",
        "from_date": "2015-08-25",
        "to_date": "2015-08-31",
        "categories": ["Books"],
    }
    parameters.update(override)
    with pytest.raises(common.JobError) as raised:
        best_sellers.best_sellers_args(**parameters)  # type: ignore[arg-type]
    assert str(raised.value) == message


NOTEBOOK = JOBS_DIR / "find_best_sellers.ipynb"


def test_notebook_is_valid_and_starts_with_a_parameters_cell() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=nbformat.NO_CONVERT)
    nbformat.validate(notebook)
    assert notebook.nbformat == 4
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code_cells[0].metadata.get("tags") == ["parameters"]
    defaults: dict[str, object] = {}
    exec(code_cells[0].source, defaults)  # noqa: S102 - our own notebook's literal assignments
    assert {name: type(value) for name, value in defaults.items() if not name.startswith("__")} == {
        "CATEGORIES": list,
        "FROM_DATE": str,
        "TO_DATE": str,
        "INPUT_LOCATION": str,
        "OUTPUT_LOCATION": str,
        "JOBS_LOCATION": str,
    }
    assert "best_sellers.run(spark" in code_cells[1].source


def test_notebook_runs_the_job_with_injected_parameters(
    spark: SparkSession, flat_reviews: Path, tmp_path: Path
) -> None:
    """Execute the cells as an EMR notebook execution does: parameters injected after the tagged cell."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code_cells = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    injected = {  # what NotebookParams carries, as JSON
        "CATEGORIES": ["Books", "Baby"],
        "FROM_DATE": FROM_DATE.isoformat(),
        "TO_DATE": TO_DATE.isoformat(),
        "INPUT_LOCATION": str(flat_reviews),
        "OUTPUT_LOCATION": str(tmp_path / "out"),
        "JOBS_LOCATION": f"{JOBS_DIR}/",
    }
    injected_cell = "\n".join(f"{name} = {json.dumps(value)}" for name, value in injected.items())
    namespace: dict[str, object] = {}
    for source in [code_cells[0], injected_cell, *code_cells[1:]]:
        exec(compile(source, str(NOTEBOOK), "exec"), namespace)  # noqa: S102 - our own notebook

    assert namespace["spark"] is spark
    assert read_best_sellers(tmp_path / "out") == expected_best_sellers(
        HAND_WRITTEN_REVIEWS, ("Books", "Baby"), FROM_DATE, TO_DATE
    )
