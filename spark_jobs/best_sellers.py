"""Top 20 best-selling products per category from Amazon Customer Reviews.

A product's score is the sum of the star ratings of its verified-purchase
reviews (``verified_purchase = 'Y'``) dated from ``--from-date`` to
``--to-date`` inclusive. The input is the Amazon Customer Reviews Parquet
layout (``product_category`` either a column in the files or a
``product_category=<name>/`` partition folder, as in the public data set).

Output: CSV with header, partitioned by category, overwriting ``--output``::

    <output>/product_category=Books/part-....csv

one file per category, rows in rank order, columns rank, product_id,
product_title, total_stars, review_count. Categories without a qualifying
review get no folder. Ties on total_stars are broken by product_id so a rerun
ranks identically.

Runs as an EMR step, or from the notebook find_best_sellers.ipynb, which calls
:func:`best_sellers_args` and :func:`run` from this module::

    spark-submit --deploy-mode client --py-files s3://BUCKET/spark_jobs/spark_job_common.py \\
        s3://BUCKET/spark_jobs/best_sellers.py --input s3://BUCKET/reviews/parquet/ \\
        --output s3://BUCKET/best_sellers/ --from-date 2015-08-25 --to-date 2015-08-31 \\
        --categories Books,Baby
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import DateType, IntegerType, StringType, StructField, StructType

try:
    import spark_job_common as common
except ModuleNotFoundError as missing:  # script uploaded without its shared module
    if missing.name != "spark_job_common":
        raise
    sys.exit(
        "error: cannot import spark_job_common: pass spark_job_common.py with "
        "--py-files (spark-submit) or --extra-py-files (Glue)"
    )

TOP_N = 20

REVIEWS_SCHEMA = StructType(
    [
        StructField("marketplace", StringType()),
        StructField("customer_id", StringType()),
        StructField("review_id", StringType()),
        StructField("product_id", StringType()),
        StructField("product_parent", StringType()),
        StructField("product_title", StringType()),
        StructField("star_rating", IntegerType()),
        StructField("helpful_votes", IntegerType()),
        StructField("total_votes", IntegerType()),
        StructField("vine", StringType()),
        StructField("verified_purchase", StringType()),
        StructField("review_headline", StringType()),
        StructField("review_body", StringType()),
        StructField("review_date", DateType()),
        StructField("year", IntegerType()),
        StructField("product_category", StringType()),
    ]
)


@dataclass(frozen=True)
class BestSellersArgs:
    """A validated request: where to read and write, the date window, the categories."""

    input: str
    output: str
    from_date: date
    to_date: date
    categories: tuple[str, ...]


def category_list(text: str | Iterable[str]) -> tuple[str, ...]:
    """Categories from ``"A,B,C"`` (or a list of names), trimmed and de-duplicated.

    Raises JobError for an empty list or an empty name, which would otherwise
    silently select nothing.
    """
    if isinstance(text, str) and not text.strip():
        raise common.JobError("no categories given")
    names = text.split(",") if isinstance(text, str) else list(text)
    categories: list[str] = []
    for name in names:
        stripped = str(name).strip()
        if not stripped:
            raise common.JobError(f"empty category name in {text!r}")
        if stripped not in categories:
            categories.append(stripped)
    if not categories:
        raise common.JobError("no categories given")
    return tuple(categories)


def best_sellers_args(
    *,
    input_location: str,
    output_location: str,
    from_date: str | date,
    to_date: str | date,
    categories: str | Iterable[str],
) -> BestSellersArgs:
    """Validate notebook-style parameters into BestSellersArgs (raises JobError)."""
    first = parse_date(from_date, "FROM_DATE")
    last = parse_date(to_date, "TO_DATE")
    common.check_date_range(first, last)
    for name, value in (("INPUT_LOCATION", input_location), ("OUTPUT_LOCATION", output_location)):
        if not str(value).strip():
            raise common.JobError(f"{name} must not be empty")
    return BestSellersArgs(
        input=input_location.strip(),
        output=output_location.strip(),
        from_date=first,
        to_date=last,
        categories=category_list(categories),
    )


def parse_date(value: str | date, name: str) -> date:
    """A date given as a date or as YYYY-MM-DD text (raises JobError)."""
    if isinstance(value, date):
        return value
    try:
        return common.iso_date(value)
    except argparse.ArgumentTypeError as exc:
        raise common.JobError(f"{name}: {exc}") from None


def parse_args(argv: Sequence[str] | None = None) -> BestSellersArgs:
    """Validate the command line; exits with a one-line error before Spark starts."""
    parser = common.OneLineErrorParser(
        prog="best_sellers.py",
        description="Top 20 products per category by summed star ratings of verified purchases.",
    )
    parser.add_argument(
        "--input",
        required=True,
        type=common.location,
        help="Amazon Customer Reviews Parquet folder, e.g. s3://bucket/reviews/parquet/",
    )
    parser.add_argument(
        "--output",
        required=True,
        type=common.location,
        help="folder to (over)write, one product_category=<name>/ CSV folder per category",
    )
    parser.add_argument(
        "--from-date", required=True, type=common.iso_date, metavar="YYYY-MM-DD", help="first review_date counted"
    )
    parser.add_argument(
        "--to-date",
        required=True,
        type=common.iso_date,
        metavar="YYYY-MM-DD",
        help="last review_date counted (inclusive)",
    )
    parser.add_argument(
        "--categories", required=True, metavar="A,B,C", help="comma-separated product categories, e.g. Books,Baby"
    )
    namespace = parser.parse_args(argv)
    try:
        common.check_date_range(namespace.from_date, namespace.to_date)
        categories = category_list(namespace.categories)
    except common.JobError as exc:
        parser.error(f"{exc}")
    return BestSellersArgs(
        input=namespace.input,
        output=namespace.output,
        from_date=namespace.from_date,
        to_date=namespace.to_date,
        categories=categories,
    )


def best_sellers(reviews: DataFrame, args: BestSellersArgs) -> DataFrame:
    """product_category, rank, product_id, product_title, total_stars, review_count; top 20 per category."""
    product_scores = (
        reviews.where(
            (F.col("verified_purchase") == "Y")
            & F.col("review_date").between(F.lit(args.from_date), F.lit(args.to_date))
            & F.col("product_category").isin(list(args.categories))
        )
        .groupBy("product_category", "product_id")
        .agg(
            F.sum("star_rating").alias("total_stars"),
            F.count(F.lit(1)).alias("review_count"),
            # A product's title can differ between reviews; max is a stable pick.
            F.max("product_title").alias("product_title"),
        )
    )
    ranking = Window.partitionBy("product_category").orderBy(F.desc("total_stars"), "product_id")
    return (
        product_scores.withColumn("rank", F.row_number().over(ranking))
        .where(F.col("rank") <= TOP_N)
        .select("product_category", "rank", "product_id", "product_title", "total_stars", "review_count")
    )


def run(spark: SparkSession, args: BestSellersArgs) -> None:
    """Rank the categories' products and overwrite ``args.output``."""
    common.require_input(spark, args.input, "reviews Parquet")
    reviews = spark.read.schema(REVIEWS_SCHEMA).parquet(args.input)
    (
        best_sellers(reviews, args)
        # One task per category writes one file, already in rank order.
        .repartition("product_category")
        .sortWithinPartitions("product_category", "rank")
        .write.mode("overwrite")
        .partitionBy("product_category")
        .option("header", True)
        .csv(args.output)
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for spark-submit."""
    return common.run_main(app_name="best_sellers", parse_args=parse_args, run=run, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
