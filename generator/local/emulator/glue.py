"""Glue in the emulator: job runs and crawls recorded, crawlers that report SUCCEEDED, GetCrawlerMetrics.

Crawlers finish at once (the server sets the state ``glue::crawl`` to immediate), their last crawl
reports ``SUCCEEDED`` (moto says ``COMPLETED``), and GetCrawlerMetrics and UpdateCrawler (missing in moto)
answer, so a ``create_if_missing`` crawler a retry finds is updated.  An injected failure ends a job run
FAILED with the cause as its ``ErrorMessage``.
"""

from __future__ import annotations

from typing import Any

from generator.local.emulator.shared import current_origin, fail_cause, lose_responses_of, record

# UpdateCrawler's request fields -> moto's FakeCrawler attributes.
_CRAWLER_FIELDS = {
    "Role": "role",
    "DatabaseName": "database_name",
    "Description": "description",
    "Targets": "targets",
    "TablePrefix": "table_prefix",
    "SchemaChangePolicy": "schema_change_policy",
    "RecrawlPolicy": "recrawl_policy",
}


def install() -> None:
    import moto.glue.models as glue_models
    import moto.glue.responses as glue_responses
    from moto.core.responses import ActionResult

    stock_job_start = glue_models.FakeJob.start_job_run

    def start_job_run(self: Any, *args: Any, **kwargs: Any) -> str:
        run_id = stock_job_start(self, *args, **kwargs)
        run = next(run for run in self.job_runs if run.job_run_id == run_id)
        run.origin = current_origin()
        run.failure_cause = fail_cause(run.origin, ("glue_job", str(self.name)))
        if run.failure_cause:
            run._transitions = [("STARTING", "RUNNING"), ("RUNNING", "FAILED")]
        record("job_run", run_id, run, parent=self.name)
        return run_id

    glue_models.FakeJob.start_job_run = start_job_run

    stock_run_as_dict = glue_models.FakeJobRun.as_dict

    def run_as_dict(self: Any) -> dict[str, Any]:
        out = stock_run_as_dict(self)
        if out.get("JobRunState") == "FAILED" and getattr(self, "failure_cause", None):
            out["ErrorMessage"] = self.failure_cause
        return out

    glue_models.FakeJobRun.as_dict = run_as_dict

    stock_crawler_as_dict = glue_models.FakeCrawler.as_dict

    def crawler_as_dict(self: Any) -> dict[str, Any]:
        out = stock_crawler_as_dict(self)
        last = out.get("LastCrawl")
        # The API's LastCrawl.Status is SUCCEEDED|CANCELLED|FAILED; moto says COMPLETED.
        if last and last.get("Status") == "COMPLETED":
            last["Status"] = "SUCCEEDED"
        return out

    glue_models.FakeCrawler.as_dict = crawler_as_dict

    stock_start_crawler = glue_models.GlueBackend.start_crawler

    def start_crawler(self: Any, name: str) -> None:
        stock_start_crawler(self, name)
        crawl = self.get_crawler(name).crawls[-1]
        record("crawl", crawl.crawl_id, crawl, parent=name)

    glue_models.GlueBackend.start_crawler = start_crawler

    def get_crawler_metrics(self: Any) -> Any:
        names = self.parameters.get("CrawlerNameList") or [c.name for c in self.glue_backend.get_crawlers()]
        metrics = []
        for name in names:
            crawler = self.glue_backend.get_crawler(name)
            metrics.append(
                {
                    "CrawlerName": crawler.name,
                    "TimeLeftSeconds": 0.0,
                    "StillEstimating": False,
                    "LastRuntimeSeconds": 1.0 if crawler.crawls else 0.0,
                    "MedianRuntimeSeconds": 1.0 if crawler.crawls else 0.0,
                    "TablesCreated": 0,
                    "TablesUpdated": 0,
                    "TablesDeleted": 0,
                }
            )
        return ActionResult({"CrawlerMetricsList": metrics})

    glue_responses.GlueResponse.get_crawler_metrics = get_crawler_metrics

    def update_crawler(self: Any) -> Any:
        crawler = self.glue_backend.get_crawler(self.parameters.get("Name"))
        for key, attribute in _CRAWLER_FIELDS.items():
            if key in self.parameters:
                setattr(crawler, attribute, self.parameters[key])
        crawler.version += 1
        return ActionResult({})

    glue_responses.GlueResponse.update_crawler = update_crawler
    lose_responses_of(
        glue_responses.GlueResponse,
        ("start_job_run", "start_crawler"),
        "InvalidInputException",
        lambda response, action: [
            ("glue_job", str(response.parameters.get("JobName")))
            if action == "start_job_run"
            else ("crawler", str(response.parameters.get("Name")))
        ],
    )
