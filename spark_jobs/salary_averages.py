"""Average salary per value of each categorical job feature.

Joins train_features.csv and train_salaries.csv on jobId and, for each of
companyId, jobType, degree, major and industry, overwrites
``<output>/<feature>/`` with one CSV file (with header) of two columns,
``<feature>`` and ``average_salary`` (rounded to 4 places, highest first; ties
by feature value). Jobs without a salary row are left out. Runs as an EMR
step::

    spark-submit --deploy-mode client --py-files s3://BUCKET/spark_jobs/spark_job_common.py \\
        s3://BUCKET/spark_jobs/salary_averages.py \\
        --features s3://BUCKET/data/train_features.csv \\
        --salaries s3://BUCKET/data/train_salaries.csv \\
        --output s3://BUCKET/output/average_salary/
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, IntegerType, StringType, StructField, StructType

try:
    import spark_job_common as common
except ModuleNotFoundError as missing:  # script uploaded without its shared module
    if missing.name != "spark_job_common":
        raise
    sys.exit(
        "error: cannot import spark_job_common: pass spark_job_common.py with "
        "--py-files (spark-submit) or --extra-py-files (Glue)"
    )

FEATURES_SCHEMA = StructType(
    [
        StructField("jobId", StringType()),
        StructField("companyId", StringType()),
        StructField("jobType", StringType()),
        StructField("degree", StringType()),
        StructField("major", StringType()),
        StructField("industry", StringType()),
        StructField("yearsExperience", IntegerType()),
        StructField("milesFromMetropolis", IntegerType()),
    ]
)
# Salaries are whole thousands in the published data; DoubleType also accepts
# a decimal salary instead of failing the job on it.
SALARIES_SCHEMA = StructType(
    [
        StructField("jobId", StringType()),
        StructField("salary", DoubleType()),
    ]
)
AVERAGED_FEATURES = ("companyId", "jobType", "degree", "major", "industry")


@dataclass(frozen=True)
class SalaryArgs:
    """The two input CSV files and the folder the per-feature averages go under."""

    features: str
    salaries: str
    output: str


def parse_args(argv: Sequence[str] | None = None) -> SalaryArgs:
    """Validate the command line; exits with a one-line error before Spark starts."""
    parser = common.OneLineErrorParser(
        prog="salary_averages.py",
        description="Average salary per companyId, jobType, degree, major and industry, as CSV.",
    )
    parser.add_argument(
        "--features",
        required=True,
        type=common.location,
        help="train_features.csv, e.g. s3://bucket/data/train_features.csv",
    )
    parser.add_argument(
        "--salaries",
        required=True,
        type=common.location,
        help="train_salaries.csv, e.g. s3://bucket/data/train_salaries.csv",
    )
    parser.add_argument(
        "--output", required=True, type=common.location, help="folder to (over)write one <feature>/ CSV folder under"
    )
    namespace = parser.parse_args(argv)
    return SalaryArgs(features=namespace.features, salaries=namespace.salaries, output=namespace.output)


def read_csv(spark: SparkSession, path: str, schema: StructType, what: str) -> DataFrame:
    """Read a CSV file with header, after checking it exists and has the expected columns."""
    common.require_input(spark, path, what)
    common.check_csv_header(spark, path, schema.fieldNames(), what)
    return spark.read.schema(schema).option("header", True).option("mode", "FAILFAST").csv(path)


def average_salary_by(jobs: DataFrame, feature: str) -> DataFrame:
    """``feature``, average_salary: one row per feature value, highest average first."""
    return (
        jobs.groupBy(feature)
        .agg(F.round(F.avg("salary"), 4).alias("average_salary"))
        .orderBy(F.desc("average_salary"), feature)
    )


def run(spark: SparkSession, args: SalaryArgs) -> None:
    """Join features with salaries and overwrite one CSV folder per feature."""
    features = read_csv(spark, args.features, FEATURES_SCHEMA, "features CSV")
    salaries = read_csv(spark, args.salaries, SALARIES_SCHEMA, "salaries CSV")
    # Five aggregations read the same join; cache it so the CSVs are parsed once.
    jobs = features.join(salaries, "jobId").cache()
    try:
        for feature in AVERAGED_FEATURES:
            # A handful of rows per feature: one file keeps the ordering readable.
            average_salary_by(jobs, feature).coalesce(1).write.mode("overwrite").option("header", True).csv(
                common.child_location(args.output, feature)
            )
    finally:
        jobs.unpersist()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for spark-submit."""
    return common.run_main(app_name="salary_averages", parse_args=parse_args, run=run, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
