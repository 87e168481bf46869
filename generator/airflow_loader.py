"""What the single MWAA DAG file calls: every spec in a folder -> DAGs in its globals.

A broken spec never hides the others.  Its DAG id is still registered, as a
paused, unscheduled placeholder whose docs list the diagnostics and whose only
task fails with them, so the error is visible in the Airflow UI, not only in a
log.  Nothing here touches the network, AWS, Variables or the metadata DB.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from generator import build
from generator.build import airflow_major
from generator.compile_cache import CompileCache
from generator.diagnostics import Diagnostic
from generator.pipelines import SpecResult, process
from generator.provider_profile import installed_profile

log = logging.getLogger(__name__)

BROKEN_TAG = "dagen:invalid-spec"


def report_invalid_spec(diagnostics: str) -> None:
    """The placeholder task: fail with the spec's diagnostics."""
    raise ValueError(f"this pipeline's spec is invalid, fix it and redeploy:\n{diagnostics}")


def _python_operator() -> Any:
    try:
        from airflow.providers.standard.operators.python import PythonOperator
    except ImportError:  # Airflow 2 without the standard provider
        from airflow.operators.python import PythonOperator  # type: ignore[no-redef]
    return PythonOperator


def _dag_class() -> Any:
    try:
        from airflow.sdk import DAG
    except ImportError:
        from airflow.models.dag import DAG  # type: ignore[no-redef]
    return DAG


def placeholder_dag(dag_id: str, file: str, diagnostics: list[Diagnostic]) -> Any:
    """A paused, unscheduled DAG that shows why its spec could not be built."""
    text = "\n".join(d.text() for d in diagnostics)
    doc = (
        f"# This pipeline did not build\n\n`{file}` has {len(diagnostics)} problem(s); the DAG below is a "
        f"placeholder until the spec is fixed.\n\n```\n{text}\n```\n\nRun `dagen validate` locally to check a fix."
    )
    from datetime import datetime, timezone

    dag = _dag_class()(
        dag_id=dag_id,
        schedule=None,
        start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
        catchup=False,
        is_paused_upon_creation=True,
        tags=[BROKEN_TAG],
        doc_md=doc,
        description=f"INVALID SPEC: {diagnostics[0].code} {diagnostics[0].message}"[:200],
    )
    _python_operator()(
        task_id="invalid_spec", python_callable=report_invalid_spec, op_args=[text], retries=0, dag=dag, doc_md=doc
    )
    return dag


def build_or_diagnose(result: SpecResult) -> Any:
    """The DAG of a compiled spec, or None with a DG601 diagnostic added to the result."""
    assert result.config is not None
    try:
        return build.build_dag(result.dag_id, result.config)
    except Exception as error:  # noqa: BLE001 - Airflow/dag-factory raise many types; each becomes a diagnostic
        result.diagnostics.append(
            Diagnostic(
                code="DG601",
                file=result.file,
                message=f"{type(error).__name__}: {error}",
                hint="please report this: a valid spec should always build",
            )
        )
        return None


def load_pipelines(folder: Path, globals_dict: dict[str, Any], *, root: Path | None = None) -> list[SpecResult]:
    """Build every spec under ``folder`` into ``globals_dict``; return what happened to each."""
    results = process(
        [folder], profile=installed_profile(), airflow_major=airflow_major(), root=root, cache=CompileCache.default()
    )
    for result in results:
        dag = build_or_diagnose(result) if result.ok else None
        if dag is None:
            for diagnostic in result.diagnostics:
                log.error("%s", diagnostic.text())
            dag = placeholder_dag(result.dag_id, result.file, result.diagnostics)
        globals_dict[result.dag_id] = dag
    return results
