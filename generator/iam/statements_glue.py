"""IAM statements of the Glue tasks: jobs and crawlers, by name.

A task with ``create_if_missing`` also creates what it runs: CreateJob (the hook's GetJob finds no job) or
CreateCrawler/UpdateCrawler (GlueCrawlerOperator updates a crawler whose definition differs), and
iam:PassRole on the role the job or crawler runs as, to Glue only; a job role given by name is looked up
with iam:GetRole (the hook turns it into an ARN).

A ``glue_data_quality`` evaluation starts a run of named rulesets (StartDataQualityRulesetEvaluationRun and
GetDataQualityRuleset on each ruleset, the provider checks they exist), polls it
(GetDataQualityRulesetEvaluationRun: a run is not named by its rulesets, so on ``dataQualityRuleset/*``), reads
its results (BatchGetDataQualityResult, which Glue Data Quality authorises as glue:GetDataQualityResult on the
ruleset: both are granted), reads the table (GetTable on the catalog, the database and the table) and passes
the evaluation role to Glue.  Its ``<task>_ruleset`` task reads, creates and updates the ruleset it owns.

A ``glue_partition_wait`` sensor calls GetPartitions, which Glue authorises on the catalog, the database
and the table.
"""

from __future__ import annotations

from typing import Any

from generator.core.model import OperatorTask
from generator.iam.builder import PolicyBuilder, role_arn, widen

GLUE_SERVICE = "glue.amazonaws.com"


def _pass_role(builder: PolicyBuilder, role: str) -> None:
    builder.allow(
        "PassGlueRoles",
        ["iam:PassRole"],
        [role_arn(builder.arns, role)],
        ("StringEquals", "iam:PassedToService", GLUE_SERVICE),
    )


def _job(builder: PolicyBuilder, kwargs: dict[str, Any]) -> None:
    job = builder.arns.make("glue", f"job/{widen(kwargs['job_name'])}")
    builder.allow("GlueRunJobs", ["glue:GetJob", "glue:GetJobRun", "glue:StartJobRun"], [job])
    if "create_job_kwargs" not in kwargs:
        return
    builder.allow("GlueCreateJobs", ["glue:CreateJob"], [job])
    role = kwargs.get("iam_role_arn") or kwargs["iam_role_name"]
    _pass_role(builder, role)
    if "iam_role_name" in kwargs:
        builder.allow("GlueReadJobRoles", ["iam:GetRole"], [role_arn(builder.arns, role)])


def _table(builder: PolicyBuilder, database: str, table: str) -> list[str]:
    arns, database = builder.arns, widen(database)
    return [
        arns.make("glue", "catalog"),
        arns.make("glue", f"database/{database}"),
        arns.make("glue", f"table/{database}/{widen(table)}"),
    ]


def _data_quality(builder: PolicyBuilder, name: str, kwargs: dict[str, Any]) -> None:
    if name == "EnsureDataQualityRulesetOperator":
        ruleset = builder.arns.make("glue", f"dataQualityRuleset/{widen(kwargs['name'])}")
        actions = ["glue:CreateDataQualityRuleset", "glue:GetDataQualityRuleset", "glue:UpdateDataQualityRuleset"]
        builder.allow("GlueOwnDataQualityRulesets", actions, [ruleset])
        target = kwargs["data_quality_ruleset_kwargs"]["TargetTable"]
        builder.allow(
            "GlueReadDataQualityTables", ["glue:GetTable"], _table(builder, target["DatabaseName"], target["TableName"])
        )
        return
    rulesets = [builder.arns.make("glue", f"dataQualityRuleset/{widen(n)}") for n in kwargs["rule_set_names"]]
    actions = [
        "glue:BatchGetDataQualityResult",
        "glue:GetDataQualityResult",
        "glue:GetDataQualityRuleset",
        "glue:StartDataQualityRulesetEvaluationRun",
    ]
    builder.allow("GlueEvaluateDataQuality", actions, rulesets)
    builder.allow(
        "GlueReadDataQualityRuns",
        ["glue:GetDataQualityRulesetEvaluationRun"],
        [builder.arns.make("glue", "dataQualityRuleset/*")],
    )
    source = kwargs["datasource"]["GlueTable"]
    builder.allow(
        "GlueReadDataQualityTables", ["glue:GetTable"], _table(builder, source["DatabaseName"], source["TableName"])
    )
    _pass_role(builder, kwargs["role"])


def glue_tasks(builder: PolicyBuilder, task: OperatorTask) -> None:
    arns = builder.arns
    name = task.operator.rsplit(".", 1)[1]
    if name == "GlueJobOperator":
        _job(builder, task.kwargs)
    elif name in ("GlueDataQualityRuleSetEvaluationRunOperator", "EnsureDataQualityRulesetOperator"):
        _data_quality(builder, name, task.kwargs)
    elif name == "GlueCatalogPartitionSensor":
        database, table = widen(task.kwargs["database_name"]), widen(task.kwargs["table_name"])
        catalog = [arns.make("glue", "catalog"), arns.make("glue", f"database/{database}")]
        builder.allow(
            "GlueReadPartitions", ["glue:GetPartitions"], [*catalog, arns.make("glue", f"table/{database}/{table}")]
        )
    elif name in ("GlueCrawlerRunOperator", "GlueCrawlerOperator"):
        config = task.kwargs.get("config") or {}
        crawler = arns.make("glue", f"crawler/{widen(task.kwargs.get('crawler_name') or config['Name'])}")
        builder.allow("GlueRunCrawlers", ["glue:GetCrawler", "glue:StartCrawler"], [crawler])
        # GetCrawlerMetrics has no resource type: it can only be granted on "*".
        builder.allow("GlueReadCrawlerMetrics", ["glue:GetCrawlerMetrics"], ["*"])
        if "Role" in config:  # create_if_missing: the operator creates a missing crawler, updates a differing one
            builder.allow("GlueCreateCrawlers", ["glue:CreateCrawler", "glue:UpdateCrawler"], [crawler])
            _pass_role(builder, config["Role"])
