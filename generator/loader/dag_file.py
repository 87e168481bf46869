"""The text of the single DAG file (``dags/pipelines_loader.py``), shipped inside the package.

``dagen init`` writes it into a new repository and an installed wheel holds it, so a repository
needs no copy of dagen's source tree; the repository's own ``dags/pipelines_loader.py`` is this
text (``tests/test_init.py`` fails when the two differ).  ``dagen deploy`` fills in ``RELEASE``.
"""

from __future__ import annotations

LOADER_FILE = "pipelines_loader.py"  # the one DAG file, in the DAGs folder

LOADER_SOURCE = '''\
"""The single DAG file: builds one Airflow DAG per pipeline spec (dagen).

Specs live in the release this file names (the MWAA bundle: ``releases/ID/pipelines``)
or in ``../pipelines`` (the repository).  A spec that breaks keeps its last good DAG,
marked stale; one that never built shows up as a placeholder DAG carrying its
errors; the others load normally.  In a task process only that task's DAG is
built (generator.loader.airflow_loader).
"""

from __future__ import annotations

import sys
from pathlib import Path

RELEASE = ""  # `dagen deploy` names the release here ("releases/ID"): this file switches MWAA to it

_HERE = Path(__file__).resolve().parent
if RELEASE:  # a deployed bundle: the package, the specs and the shipped build of one release, nothing else
    _ROOT = _HERE / RELEASE
    sys.path.insert(0, str(_ROOT))
else:  # the repository: dags/ beside pipelines/, the package installed or beside them
    _ROOT = next((p for p in (_HERE, _HERE.parent) if (p / "pipelines").is_dir()), _HERE)
    try:
        import generator.loader.airflow_loader  # noqa: F401
    except ImportError:
        sys.path.insert(0, str(_ROOT))

from generator.loader.airflow_loader import load_pipelines  # noqa: E402

load_pipelines(_ROOT / "pipelines", globals(), root=_ROOT)
'''


def loader_source() -> str:
    """The DAG file's text, as ``dags/pipelines_loader.py`` holds it."""
    return LOADER_SOURCE
