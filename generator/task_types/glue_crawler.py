"""``glue_crawler``: run an existing AWS Glue crawler and wait for it.

On providers that have it, lowers to ``GlueCrawlerRunOperator`` (starts the
crawler, never touches its definition); on older ones to ``GlueCrawlerOperator``
with only the crawler name, so its configuration is left as it is.
"""

from __future__ import annotations

from generator.core.lowering_context import LowerContext
from generator.core.model import OperatorTask, TaskSpec
from generator.core.schema_parts import TEMPLATED_STRING, prop

NAME = "glue_crawler"
SUMMARY = "Run an existing AWS Glue crawler and wait for it."
RUN_OPERATOR = "airflow.providers.amazon.aws.operators.glue_crawler.GlueCrawlerRunOperator"
LEGACY_OPERATOR = "airflow.providers.amazon.aws.operators.glue_crawler.GlueCrawlerOperator"
OPERATORS = (RUN_OPERATOR, LEGACY_OPERATOR)

PROPERTIES = {
    "crawler_name": prop(TEMPLATED_STRING, "Name of the existing crawler.", "movielens-most-popular"),
}
REQUIRED = ("crawler_name",)


def lower(task: TaskSpec, ctx: LowerContext) -> list[OperatorTask]:
    name = task.settings["crawler_name"]
    common = {**ctx.aws(), "poll_interval": task.poll_interval, "wait_for_completion": True, "deferrable": True}
    if ctx.profile.crawler_run_operator:
        return [OperatorTask(task_id=task.task_id, operator=RUN_OPERATOR, kwargs={**common, "crawler_name": name})]
    return [OperatorTask(task_id=task.task_id, operator=LEGACY_OPERATOR, kwargs={**common, "config": {"Name": name}})]
