"""What a task type's lowering function may ask about the pipeline it is in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from generator.core.model import PipelineSpec, TaskSpec
from generator.core.provider_profile import ProviderProfile
from generator.core.templating import xcom_pull


def create_cluster_task_id(cluster: str) -> str:
    return f"create_{cluster}"


def terminate_cluster_task_id(cluster: str) -> str:
    return f"terminate_{cluster}"


@dataclass(frozen=True, kw_only=True)
class LowerContext:
    spec: PipelineSpec
    profile: ProviderProfile

    def aws(self) -> dict[str, Any]:
        """Connection (and region, where every operator of the lane accepts it)."""
        out: dict[str, Any] = {"aws_conn_id": self.spec.aws_conn_id}
        if self.spec.region and self.profile.region_on_every_operator:
            out["region_name"] = self.spec.region
        return out

    def cluster_id(self, cluster: str) -> str:
        """The id of a cluster: the one given for an existing cluster, else what its create task pushed."""
        settings = next(c.settings for c in self.spec.clusters if c.name == cluster)
        if "existing_cluster_id" in settings:
            return str(settings["existing_cluster_id"])
        return xcom_pull(create_cluster_task_id(cluster))

    def airflow_id(self, task: TaskSpec, task_id: str | None = None) -> str:
        """The id Airflow gives a task of ``task`` (a task group prefixes its name)."""
        own = task_id or task.task_id
        return f"{task.group}.{own}" if task.group else own

    def result_of(self, task: TaskSpec, task_id: str | None = None) -> str:
        """Template for the return value of a task of ``task`` (e.g. the id its start task returned)."""
        return xcom_pull(self.airflow_id(task, task_id))

    @staticmethod
    def max_attempts(task: TaskSpec) -> int:
        """Polls that fit in the task's wait timeout."""
        return max(1, -(-task.timeout // max(1, task.poll_interval)))
