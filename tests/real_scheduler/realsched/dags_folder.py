"""The DAGs folder MWAA would get: ``dagen deploy``'s bundle of the lane's specs, written to a folder.

The lane's project holds the repository's loader and schemas, and as its ``pipelines/`` the lane's own
folder (``defaults.yaml`` with short waits, the failure cases) plus copies of the seed specs taken from
``pipelines/`` at every session, so they are never stale. The bundle is built by the deploy code
(validation, the shipped build, ``build_bundle``, ``write_dags_folder``): the lane runs the deployed
loader of a release, exactly what ``dagen deploy`` uploads.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

from generator.compile.pipelines import process
from generator.core.diagnostics import REPORTERS, sorted_unique
from generator.deploy.bundle import RELEASES, build_bundle, release_of_bundle, shipped_entries, write_dags_folder
from generator.deploy.command import PACKAGE_DIR
from generator.local.command import installed_target

REPO = Path(__file__).resolve().parents[3]
LANE_PIPELINES = Path(__file__).resolve().parents[1] / "pipelines"
SEEDS = sorted(path for path in (REPO / "pipelines").glob("*.yaml") if path.name != "defaults.yaml")
AIRFLOW_VERSIONS = {3: "3.3.1", 2: "2.10.3"}  # the MWAA version of each lane (generator.deploy.bundle)


def lane_project(folder: Path) -> Path:
    """A project as ``dagen deploy --project`` reads it: dags/, schemas/, pipelines/ (lane specs + seeds)."""
    (folder / "dags").mkdir(parents=True)
    shutil.copy2(REPO / "dags" / "pipelines_loader.py", folder / "dags")
    shutil.copytree(REPO / "schemas", folder / "schemas")
    shutil.copytree(LANE_PIPELINES, folder / "pipelines")
    for seed in SEEDS:
        shutil.copy2(seed, folder / "pipelines" / seed.name)
    return folder


def write_bundle(project: Path, dags: Path) -> tuple[Path, Path]:
    """Validate and bundle the project as ``dagen deploy`` does; the DAGs folder and the release's pipelines."""
    profile, major = installed_target()
    results = process([project / "pipelines"], profile=profile, airflow_major=major, root=project)
    diagnostics = sorted_unique(d for result in results for d in result.diagnostics)
    if diagnostics:
        report = io.StringIO()
        report.write(REPORTERS["text"](diagnostics, len(results)))
        raise RuntimeError(f"the lane's specs have errors:\n{report.getvalue()}")
    files = build_bundle(
        project,
        AIRFLOW_VERSIONS[major],
        package_dir=PACKAGE_DIR,
        with_scripts=False,
        compiled=shipped_entries(results),
    )
    write_dags_folder(files, dags)
    return dags, dags / RELEASES / release_of_bundle(files) / "pipelines"


def dag_ids(pipelines: Path) -> list[str]:
    """The DAG id of every spec of the lane (each spec's file name)."""
    return sorted(path.stem for path in pipelines.glob("*.yaml") if path.name != "defaults.yaml")
