"""Convert one MovieLens CSV file (movies, ratings or tags) to Parquet.

Runs as an EMR step::

    spark-submit --deploy-mode client --py-files s3://BUCKET/spark_jobs/spark_job_common.py \\
        s3://BUCKET/spark_jobs/movielens_preprocess.py \\
        --dataset movies --input s3://BUCKET/raw/movies.csv --output s3://BUCKET/output/movies/

The CSV must have the MovieLens "latest" header for its dataset; the Parquet
directory is overwritten, so a rerun replaces rather than duplicates output.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import SparkSession
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

# Explicit schemas, in file column order (MovieLens "latest" layout). Ratings
# are half stars, so DoubleType keeps them exact; timestamps stay epoch seconds
# as published, leaving time-zone interpretation to the consumer. (File sources
# treat every column as nullable, so no nullability is declared here.)
SCHEMAS: dict[str, StructType] = {
    "movies": StructType(
        [
            StructField("movieId", IntegerType()),
            StructField("title", StringType()),
            StructField("genres", StringType()),
        ]
    ),
    "ratings": StructType(
        [
            StructField("userId", IntegerType()),
            StructField("movieId", IntegerType()),
            StructField("rating", DoubleType()),
            StructField("timestamp", LongType()),
        ]
    ),
    "tags": StructType(
        [
            StructField("userId", IntegerType()),
            StructField("movieId", IntegerType()),
            StructField("tag", StringType()),
            StructField("timestamp", LongType()),
        ]
    ),
}


@dataclass(frozen=True)
class PreprocessArgs:
    """What to convert: one dataset's CSV file into one Parquet directory."""

    dataset: str
    input: str
    output: str


def dataset_name(text: str) -> str:
    """argparse type: one of the MovieLens datasets this job knows."""
    if text not in SCHEMAS:
        raise argparse.ArgumentTypeError(f"unknown dataset {text!r} (expected one of: {', '.join(SCHEMAS)})")
    return text


def parse_args(argv: Sequence[str] | None = None) -> PreprocessArgs:
    """Validate the command line; exits with a one-line error before Spark starts."""
    parser = common.OneLineErrorParser(
        prog="movielens_preprocess.py",
        description="Convert a MovieLens CSV file (with header) to Parquet, overwriting the output.",
    )
    parser.add_argument(
        "--dataset",
        required=True,
        type=dataset_name,
        metavar="{" + ",".join(SCHEMAS) + "}",
        help="which MovieLens file this is",
    )
    parser.add_argument(
        "--input", required=True, type=common.location, help="the CSV file, e.g. s3://bucket/raw/movies.csv"
    )
    parser.add_argument(
        "--output",
        required=True,
        type=common.location,
        help="the Parquet directory to (over)write, e.g. s3://bucket/output/movies/",
    )
    namespace = parser.parse_args(argv)
    return PreprocessArgs(dataset=namespace.dataset, input=namespace.input, output=namespace.output)


def run(spark: SparkSession, args: PreprocessArgs) -> None:
    """Read ``args.input`` with the dataset's schema and write it as Parquet."""
    schema = SCHEMAS[args.dataset]
    what = f"{args.dataset} CSV"
    common.require_input(spark, args.input, what)
    common.check_csv_header(spark, args.input, schema.fieldNames(), what)
    frame = (
        spark.read.schema(schema)
        .option("header", True)
        # MovieLens quotes titles and tags RFC 4180 style ("" inside quotes);
        # Spark's default escape character is a backslash.
        .option("escape", '"')
        # A row that does not fit the schema fails the job instead of
        # becoming a row of nulls.
        .option("mode", "FAILFAST")
        .csv(args.input)
    )
    frame.write.mode("overwrite").parquet(args.output)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for spark-submit."""
    return common.run_main(app_name="movielens_preprocess", parse_args=parse_args, run=run, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
