"""``dagen run --local --target mwaa-serverless``: the pipeline as MWAA Serverless would run it, locally.

MWAA Serverless runs a workflow definition, the YAML
:func:`generator.compile.serverless_workflow.workflow_yaml` writes, and builds it with dag-factory.  So
the run's DAGs folder holds that YAML and a DAG file that hands it to dag-factory's own public loader
(``dagfactory.load_yaml_dags``), never dagen's loader; the local run then retunes the DAG dag-factory
built exactly as it retunes the MWAA target's (:func:`generator.local.run.retune`: polls, waits and
retry delays of about a second, callbacks that tell the emulator which task calls; no task, argument
that reaches AWS, or edge changes).

Everything else is the MWAA target's machinery, unchanged: the spec is validated (with the target's
checks), the emulator, the resources and Variables the spec refers to, the connections, ``--fail`` and
``--flaky`` by task id, the report and the exit code.  The workflow's task ids are the MWAA DAG's plus
the ``<task>_wait`` sensor after each EMR step and notebook start, the final check
(``dagen_work_succeeded``) and any SNS notification task; the report lists them in the workflow's order.
The service runs Airflow 3, and so does this target (:func:`refusal`).
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
from typing import Any

from generator.compile.pipelines import MWAA, MWAA_SERVERLESS, TARGETS, SpecResult
from generator.local.workflow_dag import DAG_FILE

WORKFLOW_SUFFIX = ".yaml"
TARGET_HELP = (
    "what to run: the DAG an MWAA environment builds (mwaa, the default), or the workflow definition MWAA "
    "Serverless runs, loaded by dag-factory (mwaa-serverless; Airflow 3 only)"
)


def add_target_option(parser: Any) -> None:
    """``--target`` of ``dagen run``."""
    parser.add_argument("--target", choices=TARGETS, default=MWAA, help=TARGET_HELP)


def refusal(target: str, airflow_major: int) -> str | None:
    """Why this lane cannot run ``target`` (one line), or None."""
    if target == MWAA_SERVERLESS and airflow_major < 3:
        return (
            f"--target {MWAA_SERVERLESS} runs only on Airflow 3 (MWAA Serverless runs Airflow 3); "
            f"this is Airflow {metadata.version('apache-airflow')}"
        )
    return None


def target_words(target: str) -> str:
    """How the run's first line names a target other than the default."""
    return "" if target == MWAA else f"--target {target} "


def write_dag_files(dags: Path, result: SpecResult, target: str) -> None:
    """The run's DAGs folder: the loader's build (mwaa), or the workflow definition and dag-factory's loader."""
    from generator.local.run import bundle_file_text

    files = {DAG_FILE: bundle_file_text()}
    if target == MWAA_SERVERLESS:
        from generator.compile.serverless_workflow import workflow_yaml

        assert result.config is not None
        files = {
            f"{result.dag_id}{WORKFLOW_SUFFIX}": workflow_yaml(result.dag_id, result.config),
            DAG_FILE: loader_file_text(result.dag_id),
        }
    for name, text in files.items():
        (dags / name).write_text(text, encoding="utf-8")


def loader_file_text(dag_id: str) -> str:
    """The DAG file of a serverless run: dag-factory's loader on the folder's workflow, then the local retune."""
    from generator.local.run import package_parent

    return (
        "# Airflow DAG file of a `dagen run --local --target mwaa-serverless` run: dag-factory's own loader\n"
        "# builds the workflow definition beside this file, as MWAA Serverless does; the local run then only\n"
        "# retunes the DAG's polls and retry delays and attributes the emulator's calls to its tasks.\n"
        "import sys\n"
        "from pathlib import Path\n\n"
        "from dagfactory import load_yaml_dags\n\n"
        "load_yaml_dags(globals_dict=globals(), dags_folder=str(Path(__file__).parent), "
        f"suffix=[{WORKFLOW_SUFFIX!r}])\n\n"
        f"sys.path.insert(0, {package_parent()!r})\n"
        "from generator.local.serverless_run import retune_loaded  # noqa: E402\n\n"
        f"retune_loaded(globals(), {dag_id!r})\n"
    )


def retune_loaded(namespace: dict[str, Any], dag_id: str) -> Any:
    """The DAG dag-factory put in ``namespace``, retuned for the local run (dag-factory logs, never raises,
    a workflow it cannot build: say so here)."""
    from generator.local.run import retune

    dag = namespace.get(dag_id)
    if dag is None:
        raise RuntimeError(f"dag-factory built no DAG '{dag_id}' from the workflow (its error is logged above)")
    return retune(dag)
