"""The stable summary of a built DAG: what ``dagen preview`` shows, in every format.

Everything here is read from the Airflow DAG object that
:func:`generator.compile.build.build_dag` returns -- the very object the loader puts in
MWAA's DAG bag -- not from the spec: task graph, operator classes, trigger
rules, setup/teardown marks, the resolved operator arguments, params, the
schedule and the clusters' RunJobFlow requests.  The spec is consulted only to
say which spec task (and type) each Airflow task came from.

The summary is plain data with no lane-specific details (operator classes are
named by class, not module path; trigger rules and durations are strings), so
its renderings are identical under Airflow 2 and 3 and can be diffed.

Each section has its module: :mod:`~generator.preview.schedule`,
:mod:`~generator.preview.params`, :mod:`~generator.preview.clusters`,
:mod:`~generator.preview.tasks`, :mod:`~generator.preview.connections`; here they are put together into one
:class:`DagPreview` per DAG, and the specs are built as the loader builds them.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from generator.compile.pipelines import process
from generator.core.diagnostics import Diagnostic, sorted_unique
from generator.core.model import PipelineSpec
from generator.core.provider_profile import ProviderProfile
from generator.preview.clusters import ClusterPreview, cluster_preview
from generator.preview.connections import ConnectionPreview, connection_previews
from generator.preview.params import ParamPreview, param_previews
from generator.preview.schedule import SchedulePreview, schedule_preview
from generator.preview.tasks import TaskPreview, task_previews
from generator.spec.normalise import format_duration

FORMAT_NAME = "dagen-preview"
FORMAT_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class DagPreview:
    dag_id: str
    file: str
    description: str | None
    owner: str
    tags: tuple[str, ...]
    schedule: SchedulePreview
    max_active_runs: int
    max_active_tasks: int
    dagrun_timeout: str | None
    sla: str | None
    paused_on_creation: bool
    params: tuple[ParamPreview, ...]
    clusters: tuple[ClusterPreview, ...]
    tasks: tuple[TaskPreview, ...]  # dependency order, ties in the order the DAG holds them
    connections: tuple[ConnectionPreview, ...] = ()  # in order of first use

    def task(self, task_id: str) -> TaskPreview | None:
        return next((task for task in self.tasks if task.task_id == task_id), None)

    @property
    def edges(self) -> list[tuple[str, str]]:
        return [(upstream, task.task_id) for task in self.tasks for upstream in task.upstream]

    def to_json(self) -> dict[str, Any]:
        return {
            "dag_id": self.dag_id,
            "file": self.file,
            "description": self.description,
            "owner": self.owner,
            "tags": list(self.tags),
            "schedule": self.schedule.to_json(),
            "max_active_runs": self.max_active_runs,
            "max_active_tasks": self.max_active_tasks,
            "dagrun_timeout": self.dagrun_timeout,
            "sla": self.sla,
            "paused_on_creation": self.paused_on_creation,
            "params": [param.to_json() for param in self.params],
            "clusters": [cluster.to_json() for cluster in self.clusters],
            "tasks": [task.to_json() for task in self.tasks],
            "connections": [connection.to_json() for connection in self.connections],
        }


def document(previews: list[DagPreview], now: datetime) -> dict[str, Any]:
    """The ``--format json`` document."""
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "now": now.isoformat(),
        "dags": [preview.to_json() for preview in previews],
    }


def describe(
    dag: Any, *, spec: PipelineSpec, config: dict[str, Any], profile: ProviderProfile, now: datetime
) -> DagPreview:
    """The summary of one built DAG (``spec``/``config`` only name each task's origin)."""
    tasks = task_previews(dag, spec=spec, config=config, profile=profile)
    timeout = dag.dagrun_timeout
    return DagPreview(
        dag_id=dag.dag_id,
        file=spec.file,
        description=dag.description,
        owner=dag.owner,
        tags=tuple(sorted(dag.tags)),
        schedule=schedule_preview(dag, now),
        max_active_runs=dag.max_active_runs,
        max_active_tasks=dag.max_active_tasks,
        dagrun_timeout=format_duration(timeout.total_seconds()) if timeout is not None else None,
        sla=format_duration(spec.sla.total_seconds()) if spec.sla is not None else None,
        paused_on_creation=bool(dag.is_paused_upon_creation),
        params=param_previews(dag),
        clusters=tuple(cluster_preview(cluster.name, cluster.settings, dag) for cluster in spec.clusters),
        tasks=tasks,
        connections=connection_previews(dag, [task.task_id for task in tasks]),
    )


@dataclass
class PreviewRun:
    """What previewing some spec files gave: a summary per valid spec, or the diagnostics."""

    previews: list[DagPreview]
    diagnostics: list[Diagnostic]
    files: int
    invalid: dict[str, str]  # DAG id -> file, for the specs that did not build


@contextmanager
def _quiet_deprecations() -> Iterator[None]:
    """Silence Airflow's and dag-factory's own deprecation notices while importing and building.

    Airflow 3 logs warnings to stdout, where they would corrupt ``--format json``
    or an SVG; they are about Airflow's internals, never about the spec.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=PendingDeprecationWarning)
        warnings.filterwarnings("ignore", message=r"The `airflow\..*` attribute is deprecated", category=FutureWarning)
        warnings.filterwarnings("ignore", message=r"section/key \[.*\] has been deprecated", category=FutureWarning)
        yield


def preview_paths(paths: list[Path], *, now: datetime, root: Path | None = None) -> PreviewRun:
    """Process and build the specs exactly as the DAG loader does, then summarise each DAG.

    Same calls as :func:`generator.loader.airflow_loader.load_pipelines`: the installed
    provider's profile, the installed Airflow major, the same build.
    """
    with _quiet_deprecations():
        from generator.compile.build import airflow_major
        from generator.core.provider_profile import installed_profile
        from generator.loader.airflow_loader import build_or_diagnose

        profile = installed_profile()
        major = airflow_major()
    results = process(paths, profile=profile, airflow_major=major, root=root)
    previews: list[DagPreview] = []
    for result in results:
        if not result.ok:
            continue
        assert result.config is not None and result.spec is not None
        with _quiet_deprecations():
            dag = build_or_diagnose(result)  # the loader's own build, so a failure reads the same
        if dag is None:
            continue
        previews.append(describe(dag, spec=result.spec, config=result.config, profile=profile, now=now))
    diagnostics = sorted_unique(d for result in results for d in result.diagnostics)
    invalid = {result.dag_id: result.file for result in results if result.diagnostics}
    return PreviewRun(previews=previews, diagnostics=diagnostics, files=len(results), invalid=invalid)
