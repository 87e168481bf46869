"""``emr_notebook``: execute an EMR Studio notebook on a pipeline cluster, in one retryable task.

Lowers to :class:`generator.runtime.emr_notebook.RetrySafeEmrNotebookExecutionOperator` (named by
path: compiling imports no provider): the provider's ``EmrNotebookExecutionSensor`` in reschedule
mode (no worker slot held between pokes; no provider line has a notebook trigger) whose poke also
starts the execution, with ``EmrStartNotebookExecutionOperator``'s arguments.  Each try tags its
execution with the DAG run, task and try, adopts a running or finished execution of an earlier try of
the run, and starts a new one only when they all ended unsuccessfully (:data:`RETRY`).  Parameters
are serialised with ``json.dumps``.
"""

from __future__ import annotations

from generator.core.lowering_context import LowerContext
from generator.core.model import OperatorTask, TaskSpec
from generator.core.schema_parts import ROLE, STRING, TAGS_MAP, TEMPLATED_STRING, prop
from generator.core.templating import json_with_templates

NAME = "emr_notebook"
SUMMARY = "Execute an EMR Studio notebook on a pipeline cluster and wait for it."
OPERATORS = ("generator.runtime.emr_notebook.RetrySafeEmrNotebookExecutionOperator",)
BASE_OPERATOR = "airflow.providers.amazon.aws.sensors.emr.EmrNotebookExecutionSensor"
RETRY = (
    "adopts the execution an earlier try of this run started (found by its dagen:task-run and dagen:try tags): "
    "FINISHED is the result, a running one is waited for; only when all ended FAILED or STOPPED is a new execution "
    "started.  A wait past `timeout` fails the task without a retry"
)

PROPERTIES = {
    "cluster": prop(STRING, "Name of the cluster (under `clusters`) that runs the notebook.", "notebooks"),
    "editor_id": prop(
        TEMPLATED_STRING,
        "EMR Studio workspace (editor) id.",
        "{{ var.value.notebook_editor_id }}",
        "e-ABCDEFGHIJ0123456789KLMNO",
    ),
    "notebook_path": prop(TEMPLATED_STRING, "Path of the notebook inside the workspace.", "find_best_sellers.ipynb"),
    "params": prop(
        {"type": "object"},
        "Notebook parameters (injected into the cell tagged `parameters`); any JSON value, Jinja allowed.",
        {"CATEGORIES": "{{ params.categories }}", "FROM_DATE": "{{ ds }}"},
    ),
    "service_role": prop(
        ROLE,
        "Role EMR Studio assumes to run the notebook.",
        "EMR_Notebooks_DefaultRole",
        default="EMR_Notebooks_DefaultRole",
    ),
    "execution_name": prop(TEMPLATED_STRING, "Name of the notebook execution.", "best-sellers-{{ ds }}"),
    "tags": prop(TAGS_MAP, "Tags on the notebook execution.", {"team": "analytics"}),
}
REQUIRED = ("cluster", "editor_id", "notebook_path")


def lower(task: TaskSpec, ctx: LowerContext) -> list[OperatorTask]:
    settings = task.settings
    assert task.cluster is not None
    kwargs = {
        **ctx.aws(),
        "editor_id": settings["editor_id"],
        "relative_path": settings["notebook_path"],
        "cluster_id": ctx.cluster_id(task.cluster),
        "service_role": settings.get("service_role", "EMR_Notebooks_DefaultRole"),
        "notebook_params": json_with_templates(settings.get("params", {})),
        "notebook_execution_id": "",  # found (an earlier try's) or started by each poke
        "mode": "reschedule",
        "poke_interval": task.poll_interval,
        "timeout": task.timeout,
    }
    if "execution_name" in settings:
        kwargs["notebook_execution_name"] = settings["execution_name"]
    if "tags" in settings:
        kwargs["tags"] = [{"Key": key, "Value": value} for key, value in settings["tags"].items()]
    return [OperatorTask(task_id=task.task_id, operator=OPERATORS[0], kwargs=kwargs)]
