"""Parse one DAGs folder (or one DAG file) with Airflow's DagBag in a process that has already imported Airflow.

Prints one JSON line: wall seconds of the parse, DAG count, import errors, and
memory (resident set before the parse and peak after it, in MiB).

With ``_AIRFLOW_PARSING_CONTEXT_DAG_ID`` set (what Airflow's task runner sets
around the parse in a task process) it is a task start: the line also names
the parsing context and the DAG ids parsed, and the process exits with an
error unless the parse produced exactly that one DAG and no import error.
Usage: python benchmarks/measure_parse.py DAGS_FOLDER_OR_FILE
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
import warnings
from pathlib import Path

PARSING_CONTEXT = "_AIRFLOW_PARSING_CONTEXT_DAG_ID"


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
    figures: dict[str, object] = {
        "wall": wall,
        "dags": len(bag.dags),
        "import_errors": len(bag.import_errors),
        "rss_before": before,
        "rss_peak": peak,
    }
    context = os.environ.get(PARSING_CONTEXT)
    if context:
        figures.update(context=context, dag_ids=sorted(bag.dags))
    print(json.dumps(figures))
    if context and (sorted(bag.dags) != [context] or bag.import_errors):
        raise SystemExit(
            f"task start of {context} over {sys.argv[1]}: expected exactly that 1 DAG, got {len(bag.dags)} "
            f"({', '.join(sorted(bag.dags)[:5])}{', ...' if len(bag.dags) > 5 else ''}), "
            f"{len(bag.import_errors)} import error(s): {dict(bag.import_errors)}"
        )


if __name__ == "__main__":
    main()
