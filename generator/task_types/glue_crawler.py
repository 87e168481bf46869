"""``glue_crawler``: run an AWS Glue crawler and wait for it; optionally create it when it is missing.

Without ``create_if_missing`` the crawler exists already (CloudFormation, the console): on providers
that have it, the task lowers to ``GlueCrawlerRunOperator`` (starts the crawler, never touches its
definition); on older ones to ``GlueCrawlerOperator`` with only the crawler name, so its configuration
is left as it is.

With ``create_if_missing`` the pipeline owns the crawler: the task lowers to ``GlueCrawlerOperator``
with the whole definition as ``config`` (``Name``, ``Role``, ``DatabaseName``, ``Targets`` and, when
given, ``TablePrefix``).  Its ``execute`` calls GetCrawler; a missing crawler is created
(CreateCrawler), an existing one is updated (UpdateCrawler) when its definition differs from
``config``; then the crawl starts.  **A retry** finds the crawler the first try created, updates it
only if the spec's definition differs, and starts a new crawl; on the 9.34 line
``fail_on_already_running: false`` makes a retry whose earlier crawl still runs wait for that crawl
instead of failing.  The crawler is never deleted by the pipeline.
"""

from __future__ import annotations

from typing import Any

from generator.core.lowering_context import LowerContext
from generator.core.model import OperatorTask, TaskSpec
from generator.core.schema_parts import ROLE, S3_URI, STRING, TEMPLATED_STRING, obj, prop

NAME = "glue_crawler"
SUMMARY = "Run an AWS Glue crawler and wait for it (optionally creating it)."
RUN_OPERATOR = "airflow.providers.amazon.aws.operators.glue_crawler.GlueCrawlerRunOperator"
LEGACY_OPERATOR = "airflow.providers.amazon.aws.operators.glue_crawler.GlueCrawlerOperator"
OPERATORS = (RUN_OPERATOR, LEGACY_OPERATOR)

CREATE_IF_MISSING = obj(
    {
        "role": prop(
            ROLE,
            "The role the crawler runs as (name or ARN); the MWAA role gets iam:PassRole on it to Glue.",
            "arn:aws:iam::123456789012:role/glue-crawler",
        ),
        "database": prop(STRING, "Glue database the crawler writes its tables to.", "movielens"),
        "targets": prop(
            obj(
                {
                    "s3": prop(
                        {"type": "array", "items": S3_URI, "minItems": 1},
                        "S3 folders the crawler reads.",
                        ["s3://my-bucket/curated/movies/"],
                    )
                },
                required=("s3",),
            ),
            "What the crawler crawls.",
            {"s3": ["s3://my-bucket/curated/movies/"]},
        ),
        "table_prefix": prop(STRING, "Prefix of the names of the tables the crawler creates.", "curated_"),
    },
    required=("role", "database", "targets"),
)

PROPERTIES = {
    "crawler_name": prop(TEMPLATED_STRING, "Name of the crawler.", "movielens-most-popular"),
    "create_if_missing": prop(
        CREATE_IF_MISSING,
        "Create the crawler when it does not exist (and update it when its definition differs).",
        {
            "role": "arn:aws:iam::123456789012:role/glue-crawler",
            "database": "movielens",
            "targets": {"s3": ["s3://my-bucket/curated/movies/"]},
        },
    ),
}
REQUIRED = ("crawler_name",)


def crawler_config(name: str, create: dict[str, Any]) -> dict[str, Any]:
    """The CreateCrawler/UpdateCrawler request of a ``create_if_missing`` crawler."""
    config: dict[str, Any] = {
        "Name": name,
        "Role": create["role"],
        "DatabaseName": create["database"],
        "Targets": {"S3Targets": [{"Path": path} for path in create["targets"]["s3"]]},
    }
    if "table_prefix" in create:
        config["TablePrefix"] = create["table_prefix"]
    return config


def lower(task: TaskSpec, ctx: LowerContext) -> list[OperatorTask]:
    name = task.settings["crawler_name"]
    common = {**ctx.aws(), "poll_interval": task.poll_interval, "wait_for_completion": True, "deferrable": True}
    create = task.settings.get("create_if_missing")
    if create is not None:
        kwargs = {**common, "config": crawler_config(name, create)}
        if ctx.profile.crawler_run_operator:
            kwargs["fail_on_already_running"] = False
        return [OperatorTask(task_id=task.task_id, operator=LEGACY_OPERATOR, kwargs=kwargs)]
    if ctx.profile.crawler_run_operator:
        return [OperatorTask(task_id=task.task_id, operator=RUN_OPERATOR, kwargs={**common, "crawler_name": name})]
    return [OperatorTask(task_id=task.task_id, operator=LEGACY_OPERATOR, kwargs={**common, "config": {"Name": name}})]
