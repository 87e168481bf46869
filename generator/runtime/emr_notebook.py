"""``emr_notebook`` tasks: start an EMR Studio notebook execution and wait for it, in one retryable task.

Before, an ``emr_notebook`` task was a start operator plus a ``<task>_wait``
sensor: a retry of the sensor waited again on the same FAILED execution, and
the notebook never ran again.  No provider line (9.0, 9.34) has a trigger for
notebook executions, so the one task here is the provider's
``EmrNotebookExecutionSensor`` in reschedule mode (no worker slot held between
pokes) whose poke also starts the execution, by the rule of
:mod:`generator.runtime.tries`:

* try *n* tags the execution it starts ``dagen:dag-id``, ``dagen:task-id``,
  ``dagen:task-run`` (the DAG run and task, :func:`~generator.runtime.tries.run_key`)
  and ``dagen:try`` (*n*), besides the spec's own tags;
* each poke finds the executions of this run's tries: ListNotebookExecutions
  of the editor on the cluster (started since the DAG run started, less an
  hour), each one described for its tags.  FINISHED is the result, one still
  going (START_PENDING, STARTING, RUNNING, FINISHING) is waited for (a lost
  start response, a lost worker), and only when all ended FAILED, FAILING,
  STOPPED, STOPPING or STOP_PENDING (or none exists) does the try start one.
  The execution a try started failing fails the try: its retry starts again.

A try that starts an execution returns only once ListNotebookExecutions shows
it, so its next poke finds it (not shown within a minute: the try fails, and
its retry looks again).  ``timeout`` is the sensor's (per try, measured
from its first poke); when it passes the task fails without a retry, as an
Airflow sensor does, and the execution is left to the cluster's teardown.
The task returns nothing; the execution id is in the log and in the tags.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from airflow.exceptions import AirflowException
from airflow.providers.amazon.aws.sensors.emr import EmrNotebookExecutionSensor

from generator.runtime.tries import keys_of, next_step, run_key

SUCCEEDED = frozenset({"FINISHED"})
UNSUCCESSFUL = frozenset({"FAILED", "FAILING", "STOPPED", "STOPPING", "STOP_PENDING"})
TRY_TAG, RUN_TAG = "dagen:try", "dagen:task-run"
LISTED_WITHIN = 60  # seconds a started execution may take to appear in ListNotebookExecutions
CLOCK_SLACK = timedelta(hours=1)  # AWS's clock and the scheduler's need not agree


def _tags(tags: list[dict[str, str]] | None) -> dict[str, str]:
    return {str(tag["Key"]): str(tag.get("Value", "")) for tag in tags or []}


class RetrySafeEmrNotebookExecutionOperator(EmrNotebookExecutionSensor):  # type: ignore[misc]
    """``EmrNotebookExecutionSensor`` that starts the execution it waits for, once per run (see the module).

    The start arguments are ``EmrStartNotebookExecutionOperator``'s (``tags`` as its list of Key/Value);
    ``notebook_execution_id`` is empty until a poke finds or starts the execution.
    """

    template_fields = (
        *EmrNotebookExecutionSensor.template_fields,
        "editor_id",
        "relative_path",
        "cluster_id",
        "service_role",
        "notebook_execution_name",
        "notebook_params",
        "tags",
    )

    def __init__(
        self,
        *,
        editor_id: str,
        relative_path: str,
        cluster_id: str,
        service_role: str,
        notebook_execution_name: str | None = None,
        notebook_params: str | None = None,
        tags: list[dict[str, str]] | None = None,
        notebook_execution_id: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(notebook_execution_id=notebook_execution_id, **kwargs)  # each poke sets it
        self.failed_states = UNSUCCESSFUL
        self.editor_id = editor_id
        self.relative_path = relative_path
        self.cluster_id = cluster_id
        self.service_role = service_role
        self.notebook_execution_name = notebook_execution_name
        self.notebook_params = notebook_params
        self.tags = tags or []
        self._described: dict[str, Any] | None = None

    def poke(self, context: Any) -> bool:
        keys = keys_of(context, self.retries)
        current = max(keys)
        found = self._executions_of_this_run(context, set(keys))
        states = {number: described["NotebookExecution"]["Status"] for number, described in found.items()}
        step, number = next_step(states, current, succeeded=SUCCEEDED, unsuccessful=UNSUCCESSFUL)
        if step == "start":
            self.notebook_execution_id = self._start(context, current)
            return False
        self._described = found[number]
        self.notebook_execution_id = self._described["NotebookExecution"]["NotebookExecutionId"]
        if number != current:
            self.log.info("Execution %s of try %s is %s: adopted", self.notebook_execution_id, number, states[number])
        return bool(super().poke(context))  # FINISHED: done; one of failed_states: raises; else not yet

    def get_emr_response(self, context: Any) -> dict[str, Any]:
        """The description :meth:`poke` just made of the execution it waits for."""
        if self._described is None:
            return dict(super().get_emr_response(context))
        return self._described

    def _identity(self, context: Any) -> dict[str, str]:
        ti = context["ti"]
        key = run_key(ti.dag_id, context["run_id"], ti.task_id, getattr(ti, "map_index", -1))
        return {"dagen:dag-id": ti.dag_id, "dagen:task-id": ti.task_id, RUN_TAG: key}

    def _listed(self, context: Any) -> list[str]:
        """Ids of the editor's executions on the cluster since this DAG run started."""
        request: dict[str, Any] = {"EditorId": self.editor_id, "ExecutionEngineId": self.cluster_id}
        started = getattr(context.get("dag_run"), "start_date", None)
        if started is not None:
            request["From"] = started - CLOCK_SLACK
        pages = self.hook.conn.get_paginator("list_notebook_executions").paginate(**request)
        return [
            summary["NotebookExecutionId"]
            for page in pages
            for summary in page.get("NotebookExecutions", [])
            if summary.get("EditorId") in (None, self.editor_id)
        ]

    def _executions_of_this_run(self, context: Any, tries: set[int]) -> dict[int, dict[str, Any]]:
        """Try number -> DescribeNotebookExecution of the execution that try started."""
        identity = self._identity(context)
        found: dict[int, dict[str, Any]] = {}
        for execution_id in self._listed(context):
            described = self.hook.conn.describe_notebook_execution(NotebookExecutionId=execution_id)
            tags = _tags(described["NotebookExecution"].get("Tags"))
            number = int(tags[TRY_TAG]) if tags.get(TRY_TAG, "").isdigit() else 0
            if number in tries and all(tags.get(key) == value for key, value in identity.items()):
                found[number] = described
        return found

    def _start(self, context: Any, current: int) -> str:
        ti = context["ti"]
        own = {**self._identity(context), TRY_TAG: str(current)}
        request: dict[str, Any] = {
            "EditorId": self.editor_id,
            "RelativePath": self.relative_path,
            "NotebookExecutionName": self.notebook_execution_name or f"{ti.dag_id}.{ti.task_id}"[:256],
            "ExecutionEngine": {"Id": self.cluster_id, "Type": "EMR"},
            "ServiceRole": self.service_role,
            "Tags": [
                *(tag for tag in self.tags if tag["Key"] not in own),
                *({"Key": k, "Value": v} for k, v in own.items()),
            ],
        }
        if self.notebook_params:
            request["NotebookParams"] = self.notebook_params
        execution_id = str(self.hook.conn.start_notebook_execution(**request)["NotebookExecutionId"])
        self.log.info("Notebook execution %s started (try %s, tags %s)", execution_id, current, own)
        deadline = time.monotonic() + LISTED_WITHIN
        while execution_id not in self._listed(context):
            if time.monotonic() > deadline:  # the next poke would not find it: let the retry look again
                raise AirflowException(
                    f"notebook execution {execution_id} is not listed {LISTED_WITHIN}s after its start"
                )
            time.sleep(2)
        return execution_id
