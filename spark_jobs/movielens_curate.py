"""Curate the preprocessed MovieLens Parquet into two ranked movie tables.

Reads ``<input>/movies/`` and ``<input>/ratings/`` (written by
movielens_preprocess.py) and overwrites:

* ``<output>/most_popular_movies/``: movieId, title, rating_count; every rated
  movie, most ratings first.
* ``<output>/top_rated_movies/``: movieId, title, average_rating, rating_count;
  movies with at least ``--min-ratings`` ratings, best average first.

Ratings of movies missing from movies/ are left out of both tables (the inner
join needs a title). This is the AWS Glue job of the MovieLens pipeline, but it
is a plain PySpark script: it does not import ``awsglue`` and it ignores the
system arguments Glue adds (``--JOB_NAME``, ``--job-bookmark-option``, ...),
so the same file runs under spark-submit too.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, IntegerType, LongType, StringType, StructField, StructType

try:
    import spark_job_common as common
except ModuleNotFoundError as missing:  # script uploaded without its shared module
    if missing.name != "spark_job_common":
        raise
    sys.exit(
        "error: cannot import spark_job_common: pass spark_job_common.py with "
        "--py-files (spark-submit) or --extra-py-files (Glue)"
    )

DEFAULT_MIN_RATINGS = 10

# The layout movielens_preprocess.py writes (tests keep the two in step). Kept
# here rather than imported so the Glue job needs only spark_job_common.py.
MOVIES_SCHEMA = StructType(
    [
        StructField("movieId", IntegerType()),
        StructField("title", StringType()),
        StructField("genres", StringType()),
    ]
)
RATINGS_SCHEMA = StructType(
    [
        StructField("userId", IntegerType()),
        StructField("movieId", IntegerType()),
        StructField("rating", DoubleType()),
        StructField("timestamp", LongType()),
    ]
)


@dataclass(frozen=True)
class CurateArgs:
    """Where the preprocessed Parquet is, where the curated tables go, and the rating floor."""

    input: str
    output: str
    min_ratings: int = DEFAULT_MIN_RATINGS


def parse_args(argv: Sequence[str] | None = None) -> CurateArgs:
    """Validate the command line, tolerating the extra ``--key value`` pairs Glue passes."""
    parser = common.OneLineErrorParser(
        prog="movielens_curate.py",
        description="Rank MovieLens movies by number of ratings and by average rating.",
        epilog="Unknown --key value arguments (such as Glue's --JOB_NAME) are ignored.",
    )
    parser.add_argument(
        "--input",
        required=True,
        type=common.location,
        help="folder holding movies/ and ratings/ Parquet, e.g. s3://bucket/output/",
    )
    parser.add_argument(
        "--output",
        required=True,
        type=common.location,
        help="folder to (over)write most_popular_movies/ and top_rated_movies/ under",
    )
    parser.add_argument(
        "--min-ratings",
        type=common.positive_int,
        default=DEFAULT_MIN_RATINGS,
        metavar="N",
        help=f"ratings a movie needs to be in top_rated_movies (default {DEFAULT_MIN_RATINGS})",
    )
    # Glue adds system arguments of its own; required ones above are still enforced.
    namespace, _glue_arguments = parser.parse_known_args(argv)
    return CurateArgs(input=namespace.input, output=namespace.output, min_ratings=namespace.min_ratings)


def rating_stats(ratings: DataFrame) -> DataFrame:
    """One row per rated movie: movieId, rating_count, average_rating."""
    return ratings.groupBy("movieId").agg(
        F.count(F.lit(1)).alias("rating_count"),
        F.avg("rating").alias("average_rating"),
    )


def most_popular_movies(stats: DataFrame, movies: DataFrame) -> DataFrame:
    """Every rated movie with its title, most ratings first."""
    return (
        stats.join(movies, "movieId")
        .select("movieId", "title", "rating_count")
        .orderBy(F.desc("rating_count"), "movieId")
    )


def top_rated_movies(stats: DataFrame, movies: DataFrame, min_ratings: int) -> DataFrame:
    """Movies with at least ``min_ratings`` ratings, highest average first.

    The floor keeps a movie with a single five-star rating from topping the list.
    """
    return (
        stats.where(F.col("rating_count") >= min_ratings)
        .join(movies, "movieId")
        .select("movieId", "title", "average_rating", "rating_count")
        .orderBy(F.desc("average_rating"), F.desc("rating_count"), "movieId")
    )


def run(spark: SparkSession, args: CurateArgs) -> None:
    """Read the preprocessed tables and overwrite both curated tables."""
    movies_path = common.child_location(args.input, "movies")
    ratings_path = common.child_location(args.input, "ratings")
    common.require_input(spark, movies_path, "movies Parquet")
    common.require_input(spark, ratings_path, "ratings Parquet")
    movies = spark.read.schema(MOVIES_SCHEMA).parquet(movies_path)
    ratings = spark.read.schema(RATINGS_SCHEMA).parquet(ratings_path)

    # Both tables come from the same aggregate; cache it so ratings are read once.
    stats = rating_stats(ratings).cache()
    try:
        most_popular_movies(stats, movies).write.mode("overwrite").parquet(
            common.child_location(args.output, "most_popular_movies")
        )
        top_rated_movies(stats, movies, args.min_ratings).write.mode("overwrite").parquet(
            common.child_location(args.output, "top_rated_movies")
        )
    finally:
        stats.unpersist()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for Glue and spark-submit."""
    return common.run_main(app_name="movielens_curate", parse_args=parse_args, run=run, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
