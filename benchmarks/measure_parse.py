"""Parse one DAGs folder with Airflow's DagBag in a process that has already imported Airflow.

Prints one JSON line: wall seconds of the parse, DAG count, import errors, and
memory (resident set before the parse and peak after it, in MiB).
Usage: python benchmarks/measure_parse.py DAGS_FOLDER
"""

from __future__ import annotations

import json
import resource
import sys
import time
import warnings
from pathlib import Path


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    warnings.simplefilter("ignore")
    import airflow  # noqa: F401 - the DAG processor has Airflow imported before it parses

    try:
        from airflow.dag_processing.dagbag import DagBag

        make = DagBag
    except ImportError:
        from airflow.models.dagbag import DagBag as DagBag2

        def make(dag_folder: str) -> object:
            return DagBag2(dag_folder=dag_folder, include_examples=False)

    before = rss_mib()
    start = time.perf_counter()
    bag = make(dag_folder=sys.argv[1])
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "wall": wall,
                "dags": len(bag.dags),
                "import_errors": len(bag.import_errors),
                "rss_before": before,
                "rss_peak": peak,
            }
        )
    )


if __name__ == "__main__":
    main()
