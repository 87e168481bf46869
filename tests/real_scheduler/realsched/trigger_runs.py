"""Trigger one run of each DAG as ``airflow dags trigger`` does (its API client, the local one), in one process.

Usage: ``python trigger_runs.py RUN_ID LOGICAL_DATE API_URL DAG_ID...`` with the deployment's environment
(``API_URL`` empty on Airflow 2). It starts with the components, so Airflow's import overlaps theirs; it
triggers once every DAG is serialized and (Airflow 3) the api-server answers, since tasks need its
execution API. One process for every DAG: ``airflow dags trigger`` would start Airflow once per DAG.
"""

from __future__ import annotations

import sys
import time
import urllib.request
from datetime import datetime

TIMEOUT = 240.0


def wait_api_server(url: str, deadline: float) -> None:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):  # noqa: S310 - the deployment's api-server on loopback
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def main(run_id: str, logical_date: str, api_url: str, dag_ids: list[str]) -> None:
    import airflow
    from airflow.api.client import get_current_api_client
    from airflow.exceptions import DagNotFound

    deadline = time.monotonic() + TIMEOUT
    if api_url:
        wait_api_server(api_url, deadline)
    client = get_current_api_client()  # what `airflow dags trigger` uses: the local client
    when = datetime.fromisoformat(logical_date)
    date = {"logical_date": when} if int(airflow.__version__.split(".")[0]) >= 3 else {"execution_date": when}
    for dag_id in dag_ids:
        while True:
            try:
                client.trigger_dag(dag_id=dag_id, run_id=run_id, **date)
                break
            except DagNotFound:  # not parsed yet
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        print(f"triggered {dag_id} {run_id}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:])
