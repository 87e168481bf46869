"""IAM statements of the Glue tasks: jobs and crawlers, by name."""

from __future__ import annotations

from generator.core.model import OperatorTask
from generator.iam.builder import PolicyBuilder, widen


def glue_tasks(builder: PolicyBuilder, task: OperatorTask) -> None:
    arns = builder.arns
    name = task.operator.rsplit(".", 1)[1]
    if name == "GlueJobOperator":
        builder.allow(
            "GlueRunJobs",
            ["glue:GetJob", "glue:GetJobRun", "glue:StartJobRun"],
            [arns.make("glue", f"job/{widen(task.kwargs['job_name'])}")],
        )
    elif name in ("GlueCrawlerRunOperator", "GlueCrawlerOperator"):
        crawler = task.kwargs.get("crawler_name") or task.kwargs["config"]["Name"]
        builder.allow(
            "GlueRunCrawlers",
            ["glue:GetCrawler", "glue:StartCrawler"],
            [arns.make("glue", f"crawler/{widen(crawler)}")],
        )
        # GetCrawlerMetrics has no resource type: it can only be granted on "*".
        builder.allow("GlueReadCrawlerMetrics", ["glue:GetCrawlerMetrics"], ["*"])
