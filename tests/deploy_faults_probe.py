"""Load several downloaded DAGs folders as MWAA does, one after the other; print what each holds as JSON.

Run by tests/test_deploy_faults.py as ``python -I -S deploy_faults_probe.py SITE_PACKAGES -- FOLDER...``
(-I and -S keep the lane's editable dagen off sys.path: ``generator`` comes only from each bundle).  Between
folders every ``generator`` module is forgotten and the folder's release path removed, as a fresh MWAA
process would start.  Per folder: the import errors, the package file used, and each DAG's fingerprint
(description, task ids, the Athena queries it will run).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

split = sys.argv.index("--")
sys.path.extend(path for path in sys.argv[1:split] if path not in sys.path)
folders = [Path(folder) for folder in sys.argv[split + 1 :]]

try:
    from airflow.dag_processing.dagbag import DagBag  # Airflow 3

    def bag_of(folder: Path):  # type: ignore[no-untyped-def]
        return DagBag(dag_folder=str(folder))
except ImportError:
    from airflow.models.dagbag import DagBag  # Airflow 2

    def bag_of(folder: Path):  # type: ignore[no-untyped-def,misc]
        return DagBag(dag_folder=str(folder), include_examples=False)


def fingerprint(dag) -> dict:  # type: ignore[no-untyped-def]
    return {
        "description": dag.description,
        "tasks": sorted(task.task_id for task in dag.tasks),
        "queries": sorted(task.query for task in dag.tasks if type(task).__name__ == "AthenaOperator"),
    }


report = {}
base_path = list(sys.path)
for folder in folders:
    for name in [name for name in sys.modules if name == "generator" or name.startswith("generator.")]:
        del sys.modules[name]
    sys.path[:] = base_path
    bag = bag_of(folder)
    report[str(folder)] = {
        "import_errors": {Path(path).name: error.splitlines()[-1] for path, error in bag.import_errors.items()},
        "generator": getattr(sys.modules.get("generator"), "__file__", None),
        "dags": {dag_id: fingerprint(bag.dags[dag_id]) for dag_id in sorted(bag.dag_ids)},
    }
print(json.dumps(report))
