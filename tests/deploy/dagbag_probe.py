"""Load a downloaded deploy bundle as MWAA does; print what happened as JSON (last line of stdout).

Run by tests/test_deploy.py as ``python -I -S dagbag_probe.py FOLDER SITE_PACKAGES...``:
-I ignores PYTHONPATH and the current folder, -S skips ``site``, so the lane's
editable install of dagen (a .pth file) is not on sys.path.  The lane's
site-packages (given by the test: without ``site`` a venv does not know its own)
are added back by hand, without their .pth files: Airflow is importable,
``generator`` only from the bundle, from the release its loader names (read
here, not run).  It also reports which specs the bundle's package compiled (the
others came from the shipped build or the compile cache).
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

folder = Path(sys.argv[1])
sys.path.extend(path for path in sys.argv[2:] if path not in sys.path)
installed = importlib.util.find_spec("generator")
named = re.search(r'^RELEASE = "([^"]*)"', (folder / "pipelines_loader.py").read_text(encoding="utf-8"), re.MULTILINE)
release = named.group(1) if named else ""

# Count the specs the bundle's own package compiles (lowering is the step a shipped or cached entry skips).
sys.path.insert(0, str(folder / release))
import generator.compile.spec_phases  # noqa: E402

compiled: list[str] = []
_lower = generator.compile.spec_phases.lower


def _counting_lower(spec, profile):  # type: ignore[no-untyped-def]
    compiled.append(spec.dag_id)
    return _lower(spec, profile)


generator.compile.spec_phases.lower = _counting_lower  # type: ignore[assignment]

import airflow  # noqa: E402
from airflow.configuration import conf  # noqa: E402
from airflow.utils.file import list_py_file_paths  # noqa: E402

try:
    from airflow.dag_processing.dagbag import DagBag  # Airflow 3

    bag = DagBag(dag_folder=str(folder))
except ImportError:
    from airflow.models.dagbag import DagBag  # Airflow 2

    bag = DagBag(dag_folder=str(folder), include_examples=False)

print(
    json.dumps(
        {
            "airflow": airflow.__version__,
            "release": release,
            "installed_generator": installed.origin if installed else None,
            "generator": sys.modules["generator"].__file__,
            "import_errors": bag.import_errors,
            "dag_ids": sorted(bag.dag_ids),
            "compiled": sorted(compiled),
            "tags": {dag_id: sorted(bag.dags[dag_id].tags) for dag_id in bag.dag_ids},
            "athena_queries": {  # what the Athena tasks will run (query_file: read from the bundle)
                f"{dag_id}.{task.task_id}": task.query
                for dag_id in bag.dag_ids
                for task in bag.dags[dag_id].tasks
                if type(task).__name__ == "AthenaOperator"
            },
            "parsed": sorted(Path(path).relative_to(folder).as_posix() for path in bag.file_last_changed),
            "listed": sorted(Path(path).relative_to(folder).as_posix() for path in list_py_file_paths(folder)),
            "ignore_syntax": conf.get("core", "dag_ignore_file_syntax"),
        }
    )
)
