"""Helpers shared by the Spark job tests: fixture files, output readers, subprocess runs.

Expected results in the tests are computed in plain Python from the same rows
the fixtures write, never by Spark, so a wrong transformation cannot agree
with itself.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parents[1]
JOBS_DIR = REPO_ROOT / "spark_jobs"
SPARK_CONF_DIR = TESTS_DIR / "spark_conf"

# Lines that would mean a failure leaked a Python or Java stack to the user.
STACK_MARKERS = ("Traceback", "Exception in thread", "\tat ", "py4j", "Py4J", "java.", "org.apache")


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Path:
    """Write a CSV file with a header the way the published data sets are (RFC 4180)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def part_files(folder: Path, suffix: str) -> list[Path]:
    """The data files Spark wrote in ``folder`` (not its _SUCCESS or .crc files)."""
    return sorted(path for path in folder.glob(f"part-*{suffix}") if path.is_file())


def read_single_csv(folder: Path) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the one CSV part file Spark wrote in ``folder``."""
    files = part_files(folder, ".csv")
    assert len(files) == 1, f"expected one CSV part file in {folder}, found {files}"
    with files[0].open(newline="", encoding="utf-8") as handle:
        header, *rows = list(csv.reader(handle))
    return header, rows


def round_half_up(value: float, places: int) -> float:
    """Spark's ``round`` on a double: HALF_UP on the decimal form, unlike Python's ``round``."""
    quantum = Decimal(1).scaleb(-places)
    return float(Decimal(repr(value)).quantize(quantum, rounding=ROUND_HALF_UP))


def job_environment(*, java_available: bool) -> dict[str, str]:
    """Environment for running a job script: this venv's Python, quiet Spark logs.

    With ``java_available`` false JAVA_HOME points nowhere, so a script that
    started Spark when it should not have fails loudly instead of passing.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYSPARK_", "SPARK_"))}
    env["PYSPARK_PYTHON"] = sys.executable
    env["SPARK_CONF_DIR"] = str(SPARK_CONF_DIR)
    if not java_available:
        env["JAVA_HOME"] = str(TESTS_DIR / "no-java-here")
        env["PATH"] = os.pathsep.join(
            entry for entry in env.get("PATH", "").split(os.pathsep) if not (Path(entry) / "java").exists()
        )
    return env


def run_python_script(
    script: Path,
    args: Sequence[str],
    *,
    java_available: bool,
    cwd: Path | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``script`` with this venv's Python and capture its output."""
    env = job_environment(java_available=java_available)
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd or REPO_ROOT,
        timeout=300,
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], expected_line: str, exit_code: int) -> None:
    """The process failed with ``exit_code`` and printed exactly ``expected_line`` on stderr."""
    assert [line for line in result.stderr.splitlines() if any(m in line for m in STACK_MARKERS)] == []
    assert result.stderr == expected_line + "\n"
    assert result.returncode == exit_code
