"""Shared plumbing for the PySpark jobs in this folder.

Every job follows the same shape, which this module supplies:

1. ``parse_args(argv)`` validates the command line *before* Spark starts, so
   ``--help`` and malformed arguments never pay for (or print from) a JVM.
   Errors are one line on stderr, ``error: ...``, with exit status 2.
2. ``main()`` builds a session (never choosing a master: spark-submit, EMR and
   Glue decide that) and calls ``run(spark, args)``.
3. ``run`` checks that its inputs exist through the Hadoop FileSystem API (so
   ``s3://`` on EMR/Glue and local paths in tests behave alike) and raises
   :class:`JobError` for problems a person can fix; ``main`` prints those as one
   line, exit status 1, instead of a Java stack trace.

The module is deliberately named ``spark_job_common`` rather than ``common``:
on EMR and Glue it is shipped with ``--py-files`` / ``--extra-py-files`` and
lands at the top of ``sys.path``, where a generic name could shadow another
package.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Callable, Sequence
from datetime import date
from typing import NoReturn, TypeVar

from py4j.protocol import Py4JJavaError
from pyspark.sql import SparkSession

# pyspark.sql.utils (not pyspark.errors) keeps the jobs importable on Glue 4,
# which runs Spark 3.3.
from pyspark.sql.utils import AnalysisException

ArgsT = TypeVar("ArgsT")

EXIT_JOB_ERROR = 1
EXIT_USAGE_ERROR = 2


class JobError(Exception):
    """A failure a person can act on, reported as one line without a trace."""


class OneLineErrorParser(argparse.ArgumentParser):
    """ArgumentParser whose errors are a single ``error: ...`` line on stderr.

    argparse's default prints the usage block first, which buries the message
    in EMR step logs and makes the failure hard to grep for.
    """

    def __init__(self, **kwargs: object) -> None:
        # Abbreviations would let a Glue system argument such as --job-... be
        # taken for one of ours, and make scripts depend on option spelling.
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(**kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> NoReturn:
        print_error(message)
        sys.exit(EXIT_USAGE_ERROR)


def print_error(message: str) -> None:
    """Write ``message`` to stderr as exactly one ``error: ...`` line."""
    one_line = " ".join(part.strip() for part in str(message).splitlines() if part.strip())
    sys.stderr.write(f"error: {one_line}\n")
    sys.stderr.flush()


def iso_date(text: str) -> date:
    """argparse type: a calendar date written YYYY-MM-DD."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid date {text!r} (expected YYYY-MM-DD)") from None


def location(text: str) -> str:
    """argparse type: a non-blank path or URI (s3://..., file paths in tests)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text.strip()


def positive_int(text: str) -> int:
    """argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid integer {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def check_date_range(from_date: date, to_date: date) -> None:
    """Raise JobError unless ``from_date`` is on or before ``to_date``."""
    if from_date > to_date:
        raise JobError(f"--from-date {from_date.isoformat()} is after --to-date {to_date.isoformat()}")


def child_location(base: str, name: str) -> str:
    """``base`` joined with one folder name, tolerating a trailing slash on ``base``."""
    return f"{base.rstrip('/')}/{name}"


def build_session(app_name: str) -> SparkSession:
    """Create (or join) the Spark session, with Spark's own logging quietened.

    No ``.master(...)``: spark-submit, EMR and Glue choose the cluster manager,
    and hard-coding one would pin the job to the driver.
    """
    spark = (
        SparkSession.builder.appName(app_name)
        # The console progress bar turns EMR step logs and Glue's driver log
        # into pages of carriage-return noise.
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("WARN")
    return spark


def require_input(spark: SparkSession, path: str, what: str) -> None:
    """Raise JobError unless ``path`` exists, checked through Hadoop's FileSystem.

    Spark would otherwise fail later with a multi-page AnalysisException; the
    FileSystem API understands the same schemes Spark does (s3:// via EMRFS or
    Glue, file paths locally).
    """
    jvm = spark.sparkContext._jvm
    hadoop_conf = spark.sparkContext._jsc.hadoopConfiguration()
    try:
        hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
        exists = hadoop_path.getFileSystem(hadoop_conf).exists(hadoop_path)
    except Py4JJavaError as exc:
        raise JobError(f"cannot check {what} {path}: {java_message(exc)}") from None
    if not exists:
        raise JobError(f"{what} not found: {path}")


def java_message(exc: Py4JJavaError) -> str:
    """The first line of the Java exception's message, without its stack."""
    message = exc.java_exception.getMessage() or exc.java_exception.getClass().getName()
    return str(message).splitlines()[0]


def check_csv_header(spark: SparkSession, path: str, expected: Sequence[str], what: str) -> None:
    """Raise JobError unless the CSV at ``path`` starts with exactly ``expected`` columns.

    The readers use explicit schemas, which Spark applies by position; a file
    with other columns (say ratings.csv passed as movies) would otherwise load
    as silently wrong data.
    """
    first_lines = spark.read.text(path).limit(1).collect()
    if not first_lines:
        raise JobError(f"{what} is empty: {path}")
    header_line = first_lines[0][0].lstrip("\ufeff")
    header = next(csv.reader([header_line]))
    if header != list(expected):
        raise JobError(f"{what} {path} has header {','.join(header)!r}, expected {','.join(expected)!r}")


def run_main(
    *,
    app_name: str,
    parse_args: Callable[[Sequence[str] | None], ArgsT],
    run: Callable[[SparkSession, ArgsT], object],
    argv: Sequence[str] | None,
) -> int:
    """Parse arguments, then run the job in a fresh session; return the exit status."""
    args = parse_args(argv)
    spark = build_session(app_name)
    try:
        run(spark, args)
    except JobError as exc:
        print_error(str(exc))
        return EXIT_JOB_ERROR
    except AnalysisException as exc:
        # Spark's own message is useful (missing column, bad path) but spans
        # many lines in 3.5; its first line carries the error class and cause.
        print_error(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        return EXIT_JOB_ERROR
    finally:
        spark.stop()
    return 0
