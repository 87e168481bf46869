"""The single DAG file: builds one Airflow DAG per pipeline spec (dagen).

Specs live in ``pipelines/`` beside this file (the MWAA bundle) or in
``../pipelines`` (the repository).  A spec that breaks keeps its last good DAG,
marked stale; one that never built shows up as a placeholder DAG carrying its
errors; the others load normally.  In a task process only that task's DAG is
built (generator.loader.airflow_loader).
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_ROOT = next((p for p in (_HERE, _HERE.parent) if (p / "pipelines").is_dir()), _HERE)

try:
    from generator.loader.airflow_loader import load_pipelines
except ImportError:  # the bundle ships the package beside this file
    sys.path.insert(0, str(_ROOT))
    from generator.loader.airflow_loader import load_pipelines

load_pipelines(_ROOT / "pipelines", globals(), root=_ROOT)
