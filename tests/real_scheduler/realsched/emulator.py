"""The local AWS as a process of its own (``python -m generator emulator``), and what it holds at the end.

The emulator creates what the lane's specs refer to, injects the faults of the failure cases by resource,
and writes the environment Airflow needs (connection, Variables, dummy keys, endpoint) to ``--env-file``
once it is ready. What it holds at the end is read through the AWS API on its endpoint, as a user would.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from realsched.processes import Process

LIVE_CLUSTER_STATES = ("STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING", "TERMINATING")
EXECUTION_STATES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE")


@dataclass
class Cluster:
    id: str
    name: str
    state: str
    tags: dict[str, str]
    steps: list[dict[str, str]] = field(default_factory=list)  # {"id", "name", "state"}, oldest first


@dataclass
class EmulatorState:
    """Everything the lane's assertions read from the emulator, taken once after the DAG runs ended."""

    clusters: list[Cluster]
    executions: dict[str, list[dict[str, str]]]  # state machine name -> its executions, oldest first
    notebook_executions: list[dict[str, str]]  # {"id", "editor", "state", "start"}, oldest first

    def clusters_of(self, dag_id: str) -> list[Cluster]:
        return [cluster for cluster in self.clusters if cluster.tags.get("dagen:dag-id") == dag_id]

    def notebooks_of(self, editor: str) -> list[dict[str, str]]:
        """The notebook executions of an EMR Studio workspace (the API answers no notebook path)."""
        return [execution for execution in self.notebook_executions if execution["editor"] == editor]


class Emulator:
    def __init__(self, specs: Path, faults: list[str], folder: Path, env: dict[str, str]) -> None:
        self.env_file = folder / "emulator-env.json"
        self.process = Process(
            "emulator",
            [sys.executable, "-m", "generator", "emulator", str(specs), "--env-file", str(self.env_file), *faults],
            env,
            folder / "emulator.log",
            cwd=folder,
        )
        self.airflow_env: dict[str, str] = {}
        self._clients: dict[str, Any] = {}

    def start(self) -> Emulator:
        self.process.start()
        return self

    def wait_ready(self, timeout: float = 120.0) -> dict[str, str]:
        """The environment for Airflow, once the emulator wrote it (it writes the file only when ready)."""
        deadline = time.monotonic() + timeout
        while not self.env_file.is_file():
            if not self.process.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the emulator did not get ready:\n{self.process.log_tail()}")
            time.sleep(0.2)
        self.airflow_env = json.loads(self.env_file.read_text())
        return self.airflow_env

    @property
    def endpoint(self) -> str:
        return self.airflow_env["AWS_ENDPOINT_URL"]

    def client(self, service: str) -> Any:
        import boto3

        if service not in self._clients:
            self._clients[service] = boto3.session.Session(
                aws_access_key_id=self.airflow_env["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=self.airflow_env["AWS_SECRET_ACCESS_KEY"],
                region_name=self.airflow_env.get("AWS_DEFAULT_REGION", "us-east-1"),
            ).client(service, endpoint_url=self.endpoint)
        return self._clients[service]

    # ------------------------------------------------------------------ what it holds
    def cluster_ids(self, name: str) -> list[str]:
        """Ids of the clusters of that name, any state (ListClusters: no step is moved on by it)."""
        pages = self.client("emr").get_paginator("list_clusters").paginate()
        return [cluster["Id"] for page in pages for cluster in page["Clusters"] if cluster["Name"] == name]

    def cluster_state(self, cluster_id: str) -> str:
        return str(self.client("emr").describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"])

    def state(self) -> EmulatorState:
        """The clusters with their tags and steps, the executions, the notebook executions.

        ListSteps and DescribeNotebookExecution move an unfinished step or execution one state on (the
        emulator's pace is one state per poll): this is read once, after every DAG run ended.
        """
        emr, sfn = self.client("emr"), self.client("stepfunctions")
        clusters = []
        for page in emr.get_paginator("list_clusters").paginate():
            for summary in page["Clusters"]:
                described = emr.describe_cluster(ClusterId=summary["Id"])["Cluster"]
                steps = [
                    {"id": step["Id"], "name": step["Name"], "state": step["Status"]["State"]}
                    for step_page in emr.get_paginator("list_steps").paginate(ClusterId=summary["Id"])
                    for step in step_page["Steps"]
                ]
                clusters.append(
                    Cluster(
                        id=summary["Id"],
                        name=summary["Name"],
                        state=described["Status"]["State"],
                        tags={tag["Key"]: tag["Value"] for tag in described.get("Tags", [])},
                        steps=list(reversed(steps)),  # ListSteps answers newest first
                    )
                )
        executions: dict[str, list[dict[str, str]]] = {}
        for machine in sfn.list_state_machines()["stateMachines"]:
            # One status at a time: ListExecutions of a machine holding both an execution the emulator
            # completed and one moto ran answers 500 (it sorts naive and aware start dates together).
            found = [
                execution
                for status in EXECUTION_STATES
                for execution in sfn.list_executions(stateMachineArn=machine["stateMachineArn"], statusFilter=status)[
                    "executions"
                ]
            ]
            executions[machine["name"]] = [
                {"name": execution["name"], "state": execution["status"], "arn": execution["executionArn"]}
                for execution in sorted(found, key=lambda execution: execution["startDate"])
            ]
        notebooks = []
        for summary in emr.list_notebook_executions().get("NotebookExecutions", []):
            described = emr.describe_notebook_execution(NotebookExecutionId=summary["NotebookExecutionId"])
            execution = described["NotebookExecution"]
            notebooks.append(
                {
                    "id": execution["NotebookExecutionId"],
                    "editor": execution.get("EditorId", ""),
                    "state": execution["Status"],
                    "start": execution["StartTime"].isoformat(),
                }
            )
        notebooks.sort(key=lambda execution: execution["start"])
        return EmulatorState(clusters=clusters, executions=executions, notebook_executions=notebooks)

    def stop(self) -> None:
        for client in self._clients.values():
            client.close()
        self.process.stop()
