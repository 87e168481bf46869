"""The parse budget: how long the loader takes to parse a bundle here, against the environment's import timeout.

MWAA gives the one loader file ``core.dagbag_import_timeout`` seconds (30 by
default) per parse; past it the file is an import error and every pipeline's
DAG disappears at once.  ``dagen deploy`` writes the bundle into a temporary
DAGs folder and parses its loader twice with Airflow's own ``DagBag``, each in a
fresh process that has imported Airflow (as the DAG processor has):

- **cold**: an empty compile cache, the first parse after the deploy (served by
  the shipped build);
- **warm**: every parse after it.

Above half the timeout it warns; above the timeout it refuses (unless
``--force``), before anything is uploaded.  The figures are this machine's: an
MWAA environment class with a slower CPU takes longer, hence the margin.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from generator.deploy.bundle import LOADER, BundleFile, write_dags_folder

DEFAULT_IMPORT_TIMEOUT = 30.0  # MWAA's core.dagbag_import_timeout

_PARSE = """\
import json, sys, time, warnings
warnings.simplefilter("ignore")
import airflow  # the DAG processor has Airflow imported before it parses
try:
    from airflow.dag_processing.dagbag import DagBag
    make = lambda path: DagBag(dag_folder=path)
except ImportError:
    from airflow.models.dagbag import DagBag
    make = lambda path: DagBag(dag_folder=path, include_examples=False)
start = time.perf_counter()
bag = make(sys.argv[1])
print(json.dumps({"seconds": time.perf_counter() - start, "dags": len(bag.dags), "errors": len(bag.import_errors)}))
"""


@dataclass(frozen=True)
class Measured:
    cold: float
    warm: float
    dags: int


@dataclass(frozen=True)
class Verdict:
    level: str  # "ok", "warning" or "refused"
    line: str


def _parse(loader: Path, env: dict[str, str]) -> dict[str, float]:
    command = [sys.executable, "-c", _PARSE, str(loader)]  # this interpreter, a fixed script, a folder we wrote
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False, timeout=900)  # noqa: S603
    if done.returncode != 0:
        raise RuntimeError((done.stderr.strip().splitlines() or ["the parse failed"])[-1])
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def airflow_importable() -> bool:
    done = subprocess.run([sys.executable, "-c", "import airflow"], capture_output=True, check=False)  # noqa: S603
    return done.returncode == 0


def measure(files: list[BundleFile]) -> Measured:
    """Parse the bundle's loader cold, then warm, each in a fresh process with Airflow imported."""
    with tempfile.TemporaryDirectory(prefix="dagen-budget-") as work:
        folder = write_dags_folder(files, Path(work) / "dags")
        cache = Path(work) / "cache"
        cache.mkdir(mode=0o700)
        env = {
            key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW__", "_AIRFLOW", "DAGEN"))
        }
        env.update(
            {
                "AIRFLOW_HOME": str(Path(work) / "airflow-home"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "0",  # measure the whole parse, even past the timeout
                "AIRFLOW__DAG_FACTORY__ENABLE_TELEMETRY": "False",
                "DAGEN_CACHE_DIR": str(cache),
            }
        )
        cold = _parse(folder / LOADER, env)
        warm = _parse(folder / LOADER, env)
    return Measured(cold=cold["seconds"], warm=warm["seconds"], dags=int(cold["dags"]))


def verdict(measured: Measured, timeout: float, specs: int) -> Verdict:
    """What the figures mean against ``timeout``: the first parse after the deploy is the one that must fit."""
    figures = (
        f"the loader parses {specs} spec(s) into {measured.dags} DAG(s) in {measured.cold:.2f} s cold "
        f"(the first parse after this deploy), {measured.warm:.2f} s warm; import timeout {timeout:g} s"
    )
    slowest = max(measured.cold, measured.warm)
    if slowest > timeout:
        return Verdict("refused", f"{LOADER}: parse budget exceeded: {figures}")
    if slowest > timeout / 2:
        return Verdict("warning", f"{LOADER}: parse budget: over half the import timeout: {figures}")
    return Verdict("ok", f"parse budget: {figures}")


HINT = (
    "raise the environment's core.dagbag_import_timeout (and pass it as --import-timeout), move pipelines to "
    "another environment, or pass --force to deploy anyway (docs/deploying-dags.md, 'The parse budget')"
)
