"""Write small, realistic, deterministic input files for the jobs in this folder.

    python spark_jobs/sample_data.py --dataset movielens --output DIR [--seed N] [--rows N]

* ``movielens``: DIR/movies.csv, ratings.csv, tags.csv (MovieLens "latest"
  layout, RFC 4180 quoting, titles with commas and quotes). ``--rows`` ratings.
* ``salary``: DIR/train_features.csv, train_salaries.csv, test_features.csv.
  ``--rows`` training jobs.
* ``reviews``: Amazon Customer Reviews Parquet under DIR, partitioned into
  ``product_category=<name>/`` folders like the public data set, reviews dated
  August and September 2015. ``--rows`` reviews. This one starts a local Spark
  session to write Parquet; the CSV datasets are plain Python.

The same seed and row count always give the same rows (and, for the CSV
datasets, byte-identical files). Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

try:
    import spark_job_common as common
except ModuleNotFoundError as missing:  # run from elsewhere without the shared module
    if missing.name != "spark_job_common":
        raise
    sys.exit("error: cannot import spark_job_common: run this script from its folder's copy")

DEFAULT_SEED = 7
DEFAULT_ROWS = 1000

Row = tuple[object, ...]


@dataclass(frozen=True)
class CsvTable:
    """One CSV file to write: its name, header and rows."""

    file_name: str
    header: tuple[str, ...]
    rows: list[Row]


def seeded_random(seed: int) -> random.Random:
    """The generator behind every dataset: seeded, so output is reproducible."""
    return random.Random(seed)  # noqa: S311 - sample data, not secrets


# --- MovieLens -------------------------------------------------------------

MOVIE_WORDS = (
    "Midnight",
    "River",
    "Secret",
    "Garden",
    "Last",
    "Summer",
    "Shadow",
    "City",
    "Dream",
    "Road",
    "Winter",
    "Heart",
    "Ghost",
    "Island",
    "Star",
    "Letter",
    "Silent",
    "Storm",
    "Golden",
    "Train",
)
GENRES = (
    "Action",
    "Adventure",
    "Animation",
    "Children",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)
TAG_WORDS = (
    "atmospheric",
    "twist ending",
    "based on a book",
    "dark comedy",
    "visually appealing",
    "slow burn",
    "great soundtrack",
    'so bad it\'s "good"',
    "classic, must see",
    "quirky",
)
HALF_STARS = tuple(step / 2 for step in range(1, 11))
# Real ratings lean towards 3-4 stars; weights for 0.5, 1.0, ..., 5.0.
HALF_STAR_WEIGHTS = (1, 3, 2, 7, 5, 20, 13, 26, 8, 15)
RATING_EPOCH_START = int(datetime(2015, 1, 1, tzinfo=timezone.utc).timestamp())
RATING_EPOCH_END = int(datetime(2023, 12, 31, tzinfo=timezone.utc).timestamp())


def movie_title(rng: random.Random, number: int) -> str:
    """A MovieLens-style title with its year; some use the ', The' and quoted forms."""
    name = " ".join(rng.sample(MOVIE_WORDS, rng.randint(1, 3)))
    year = rng.randint(1950, 2022)
    if number % 7 == 0:
        return f"{name}, The ({year})"
    if number % 11 == 0:
        return f'"{name}" Special ({year})'
    return f"{name} ({year})"


def movielens_tables(seed: int, rows: int) -> list[CsvTable]:
    """movies.csv, ratings.csv and tags.csv with ``rows`` ratings."""
    rng = seeded_random(seed)
    movie_count = max(20, rows // 10)
    user_count = max(10, rows // 20)
    movies = [
        (
            movie_id,
            movie_title(rng, movie_id),
            "|".join(sorted(rng.sample(GENRES, rng.randint(1, 3)))) if movie_id % 13 else "(no genres listed)",
        )
        for movie_id in range(1, movie_count + 1)
    ]
    # A few popular movies get most ratings, as in the real data.
    popularity = [1.0 / rank for rank in range(1, movie_count + 1)]
    rated: set[tuple[int, int]] = set()
    ratings: list[Row] = []
    while len(ratings) < rows:
        user_id = rng.randint(1, user_count)
        movie_id = rng.choices(range(1, movie_count + 1), weights=popularity)[0]
        if (user_id, movie_id) in rated:
            continue
        rated.add((user_id, movie_id))
        rating = rng.choices(HALF_STARS, weights=HALF_STAR_WEIGHTS)[0]
        ratings.append((user_id, movie_id, rating, rng.randint(RATING_EPOCH_START, RATING_EPOCH_END)))
    ratings.sort(key=lambda row: (row[0], row[1]))
    tags = sorted(
        (user_id, movie_id, rng.choice(TAG_WORDS), rng.randint(RATING_EPOCH_START, RATING_EPOCH_END))
        for user_id, movie_id, *_ in rng.sample(ratings, max(1, rows // 10))
    )
    return [
        CsvTable("movies.csv", ("movieId", "title", "genres"), movies),
        CsvTable("ratings.csv", ("userId", "movieId", "rating", "timestamp"), ratings),
        CsvTable("tags.csv", ("userId", "movieId", "tag", "timestamp"), tags),
    ]


# --- Salary ----------------------------------------------------------------

JOB_TYPE_BASE = {
    "JANITOR": 40,
    "JUNIOR": 80,
    "SENIOR": 100,
    "MANAGER": 110,
    "VICE_PRESIDENT": 120,
    "CFO": 130,
    "CTO": 130,
    "CEO": 145,
}
DEGREE_BONUS = {"NONE": 0, "HIGH_SCHOOL": 3, "BACHELORS": 10, "MASTERS": 15, "DOCTORAL": 20}
MAJOR_BONUS = {
    "NONE": 0,
    "LITERATURE": 2,
    "BIOLOGY": 5,
    "CHEMISTRY": 6,
    "PHYSICS": 9,
    "COMPSCI": 10,
    "MATH": 12,
    "BUSINESS": 12,
    "ENGINEERING": 14,
}
INDUSTRY_BONUS = {"EDUCATION": 0, "SERVICE": 4, "AUTO": 9, "HEALTH": 13, "WEB": 18, "FINANCE": 24, "OIL": 25}
COMPANY_COUNT = 63
FIRST_JOB_NUMBER = 1362684407687  # the published data's jobIds start here


def job_features(rng: random.Random, job_number: int) -> Row:
    """One train_features/test_features row; only degree holders have a major."""
    degree = rng.choice(tuple(DEGREE_BONUS))
    has_major = degree not in ("NONE", "HIGH_SCHOOL")
    major = rng.choice(tuple(MAJOR_BONUS)[1:]) if has_major else "NONE"
    return (
        f"JOB{job_number}",
        f"COMP{rng.randrange(COMPANY_COUNT)}",
        rng.choice(tuple(JOB_TYPE_BASE)),
        degree,
        major,
        rng.choice(tuple(INDUSTRY_BONUS)),
        rng.randint(0, 24),
        rng.randint(0, 99),
    )


def salary_for(rng: random.Random, features: Row) -> int:
    """A plausible salary in thousands for ``features``, with noise."""
    _job_id, _company, job_type, degree, major, industry, years, miles = features
    salary = (
        JOB_TYPE_BASE[str(job_type)]
        + DEGREE_BONUS[str(degree)]
        + MAJOR_BONUS[str(major)]
        + INDUSTRY_BONUS[str(industry)]
        + 2 * int(years)
        - 0.4 * int(miles)
        + rng.gauss(0, 12)
    )
    return max(17, round(salary))


def salary_tables(seed: int, rows: int) -> list[CsvTable]:
    """train_features.csv, train_salaries.csv (``rows`` jobs) and test_features.csv (half as many)."""
    rng = seeded_random(seed)
    train = [job_features(rng, FIRST_JOB_NUMBER + offset) for offset in range(rows)]
    salaries = [(row[0], salary_for(rng, row)) for row in train]
    test = [job_features(rng, FIRST_JOB_NUMBER + rows + offset) for offset in range(max(1, rows // 2))]
    header = ("jobId", "companyId", "jobType", "degree", "major", "industry", "yearsExperience", "milesFromMetropolis")
    return [
        CsvTable("train_features.csv", header, train),
        CsvTable("train_salaries.csv", ("jobId", "salary"), salaries),
        CsvTable("test_features.csv", header, test),
    ]


def write_csv_tables(tables: Sequence[CsvTable], output: Path) -> list[Path]:
    """Write each table as ``output/<file_name>`` with a header; return the paths."""
    output.mkdir(parents=True, exist_ok=True)
    written = []
    for table in tables:
        path = output / table.file_name
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(table.header)
            writer.writerows(table.rows)
        written.append(path)
    return written


# --- Amazon Customer Reviews -------------------------------------------------

REVIEW_CATEGORIES = ("Apparel", "Automotive", "Baby", "Beauty", "Books")
PRODUCT_WORDS = (
    "Classic",
    "Organic",
    "Deluxe",
    "Portable",
    "Wireless",
    "Cotton",
    "Premium",
    "Compact",
    "Family",
    "Travel",
    "Vintage",
    "Smart",
    "Gentle",
    "Heavy-Duty",
    "Illustrated",
    "Everyday",
)
PRODUCTS_PER_CATEGORY = 30  # more than the 20 the job keeps, so the cut matters
STAR_WEIGHTS = (6, 4, 8, 20, 62)  # 1..5 stars; reviews skew positive
REVIEW_FIRST_DAY = date(2015, 8, 1)
REVIEW_DAYS = 61  # August and September 2015


def review_products(rng: random.Random) -> dict[str, list[tuple[str, str, str]]]:
    """Per category, (product_id, product_parent, product_title) triples."""
    products: dict[str, list[tuple[str, str, str]]] = {}
    for category in REVIEW_CATEGORIES:
        items = []
        for _ in range(PRODUCTS_PER_CATEGORY):
            product_id = (
                f"{rng.randrange(10**9, 10**10)}"
                if category == "Books"  # ISBN-10 style
                else "B0" + "".join(rng.choices("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ", k=8))
            )
            title = f"{' '.join(rng.sample(PRODUCT_WORDS, 2))} {category} Item, Model {rng.randint(1, 99)}"
            items.append((product_id, str(rng.randrange(10**8, 10**9)), title))
        products[category] = items
    return products


def review_rows(seed: int, rows: int) -> list[Row]:
    """``rows`` reviews as tuples in the reviews Parquet column order."""
    rng = seeded_random(seed)
    products = review_products(rng)
    reviews: list[Row] = []
    for number in range(rows):
        category = rng.choice(REVIEW_CATEGORIES)
        # Earlier products in each list sell more, giving a clear best-seller head.
        product_id, parent, title = rng.choices(
            products[category], weights=[1.0 / (rank + 2) for rank in range(PRODUCTS_PER_CATEGORY)]
        )[0]
        stars = rng.choices((1, 2, 3, 4, 5), weights=STAR_WEIGHTS)[0]
        total_votes = rng.randint(0, 12)
        review_date = REVIEW_FIRST_DAY + timedelta(days=rng.randrange(REVIEW_DAYS))
        reviews.append(
            (
                "US",
                str(rng.randrange(10**7, 10**8)),
                f"R{number:06d}" + "".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", k=7)),
                product_id,
                parent,
                title,
                stars,
                rng.randint(0, total_votes),
                total_votes,
                "Y" if rng.random() < 0.02 else "N",
                "Y" if rng.random() < 0.8 else "N",
                f"{stars} Stars" if rng.random() < 0.5 else "As described",
                "Arrived on time and works as expected." if stars >= 4 else "Not what I hoped for.",
                review_date,
                review_date.year,
                category,
            )
        )
    return reviews


def write_reviews(spark: object, reviews: Sequence[Row], output: Path) -> None:
    """Write ``reviews`` as Parquet under ``output``, one folder per product_category."""
    from best_sellers import REVIEWS_SCHEMA  # the job's own schema, so the two cannot drift

    frame = spark.createDataFrame(list(reviews), REVIEWS_SCHEMA)  # type: ignore[attr-defined]
    frame.write.mode("overwrite").partitionBy("product_category").parquet(str(output))


# --- Command line ------------------------------------------------------------


def write_movielens(output: Path, seed: int, rows: int) -> None:
    """movielens: three CSV files."""
    write_csv_tables(movielens_tables(seed, rows), output)


def write_salary(output: Path, seed: int, rows: int) -> None:
    """salary: three CSV files."""
    write_csv_tables(salary_tables(seed, rows), output)


def write_reviews_dataset(output: Path, seed: int, rows: int) -> None:
    """reviews: partitioned Parquet, written by a local Spark session."""
    spark = common.build_session("sample_data")
    try:
        write_reviews(spark, review_rows(seed, rows), output)
    finally:
        spark.stop()


WRITERS: dict[str, Callable[[Path, int, int], None]] = {
    "movielens": write_movielens,
    "salary": write_salary,
    "reviews": write_reviews_dataset,
}


def dataset_name(text: str) -> str:
    """argparse type: one of the datasets this script writes."""
    if text not in WRITERS:
        raise argparse.ArgumentTypeError(f"unknown dataset {text!r} (expected one of: {', '.join(WRITERS)})")
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and write the chosen dataset."""
    parser = common.OneLineErrorParser(
        prog="sample_data.py",
        description="Write small deterministic sample inputs for the Spark jobs.",
    )
    parser.add_argument("--dataset", required=True, type=dataset_name, metavar="{" + ",".join(WRITERS) + "}")
    parser.add_argument("--output", required=True, type=common.location, help="folder to write into")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    parser.add_argument(
        "--rows",
        type=common.positive_int,
        default=DEFAULT_ROWS,
        help=f"ratings, training jobs or reviews to write (default {DEFAULT_ROWS})",
    )
    args = parser.parse_args(argv)
    WRITERS[args.dataset](Path(args.output), args.seed, args.rows)
    print(f"wrote {args.dataset} sample data to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
