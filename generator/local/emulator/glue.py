"""Glue in the emulator: job runs and crawls recorded, crawlers that report SUCCEEDED, GetCrawlerMetrics.

Crawlers finish at once (the server sets the state ``glue::crawl`` to immediate), their last crawl
reports ``SUCCEEDED`` (moto says ``COMPLETED``), and GetCrawlerMetrics and UpdateCrawler (missing in moto)
answer, so a ``create_if_missing`` crawler a retry finds is updated.  An injected failure ends a job run
FAILED with the cause as its ``ErrorMessage``.

A crawl writes the Data Catalog the way a real crawler does for Hive-style S3 data (:func:`crawl_catalog`):
for each S3 target ``s3://bucket/prefix`` it lists the objects under the prefix in moto's S3 backend,
creates the crawler's database when missing and one table per target that has objects, named
``TablePrefix`` + the target's last path segment (lowercased, as Glue does), with
``StorageDescriptor.Location`` the target.  The ``key=value`` folders below the target are the partition
keys (type ``string``, in path order, taken from the first object that has any; objects under other keys
are left out) and each distinct tuple of values is one partition (``Values``, ``StorageDescriptor.Location``
its folder).  Columns come from the header line of the first ``.csv`` object (type ``string``; no CSV
object, no columns).  A re-crawl adds the partitions that are new (never a duplicate) and updates the
table when its columns or keys changed; GetCrawlerMetrics reports the last crawl's ``TablesCreated`` and
``TablesUpdated``.  moto's GetPartitions evaluates an ``Expression`` (its ``PartitionFilter`` parses
comparisons, ``AND``/``OR``, ``IN``, ``BETWEEN`` and ``LIKE`` over the partition keys), so a
GlueCatalogPartitionSensor's expression is checked as on AWS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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


@dataclass
class _Found:
    """What a crawl found under one S3 target: partition keys, partitions (values -> folder) and columns."""

    keys: list[str] = field(default_factory=list)
    partitions: dict[tuple[str, ...], str] = field(default_factory=dict)
    columns: list[str] | None = None
    objects: int = 0


def _split_target(path: str) -> tuple[str, str]:
    """``s3://bucket/a/b/`` -> (``bucket``, ``a/b``)."""
    bucket, _, prefix = path.removeprefix("s3://").partition("/")
    return bucket, prefix.strip("/")


def _scan(objects: dict[str, Any], prefix: str, location: str) -> _Found:
    """The Hive-style layout of the objects (key -> moto FakeKey) under ``prefix``."""
    found = _Found()
    start = f"{prefix}/" if prefix else ""
    for key in sorted(objects):
        if not key.startswith(start) or key.endswith("/") or not hasattr(objects[key], "value"):
            continue  # another prefix, a folder marker, a delete marker
        found.objects += 1
        folders = key[len(start) :].split("/")[:-1]
        pairs = [folder.split("=", 1) for folder in folders if "=" in folder]
        if pairs and not found.keys:
            found.keys = [name for name, _ in pairs]
        if pairs and [name for name, _ in pairs] == found.keys:
            values = tuple(value for _, value in pairs)
            found.partitions.setdefault(values, location + "/" + "/".join(f"{k}={v}" for k, v in pairs))
        if found.columns is None and key.endswith(".csv"):
            header = bytes(objects[key].value).split(b"\n", 1)[0].decode("utf-8", "replace").strip()
            found.columns = [name.strip() for name in header.split(",") if name.strip()]
    return found


def _table_input(name: str, location: str, found: _Found) -> dict[str, Any]:
    return {
        "Name": name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"classification": "csv" if found.columns is not None else "unknown"},
        "StorageDescriptor": {
            "Location": location,
            "Columns": [{"Name": column, "Type": "string"} for column in found.columns or []],
        },
        "PartitionKeys": [{"Name": key, "Type": "string"} for key in found.keys],
    }


def crawl_catalog(glue: Any, crawler: Any) -> tuple[int, int]:
    """Write what ``crawler`` finds in S3 to the Data Catalog of ``glue`` (a moto GlueBackend); returns
    (tables created, tables updated)."""
    from moto.s3.models import s3_backends

    buckets = s3_backends[glue.account_id]["global"].buckets
    created = updated = 0
    for target in (crawler.targets or {}).get("S3Targets", []):
        bucket, prefix = _split_target(target["Path"])
        location = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
        found = _scan(dict(buckets[bucket].keys.items()) if bucket in buckets else {}, prefix, location)
        if not found.objects:
            continue  # a crawler makes no table of an empty folder
        if crawler.database_name not in glue.databases:
            glue.create_database(crawler.database_name, {"Name": crawler.database_name})
        name = ((crawler.table_prefix or "") + (prefix.rsplit("/", 1)[-1] or bucket)).lower()
        table_input = _table_input(name, location, found)
        table = glue.databases[crawler.database_name].tables.get(name)
        new, changed = table is None, False
        if table is None:
            table = glue.create_table(crawler.database_name, name, table_input)
        elif any(table.as_dict().get(part) != table_input[part] for part in ("StorageDescriptor", "PartitionKeys")):
            table.update(table_input)
            changed = True
        for values, folder in found.partitions.items():
            if str(list(values)) not in table.partitions:  # moto keys partitions by str(Values)
                table.create_partition({"Values": list(values), "StorageDescriptor": {"Location": folder}})
                changed = True
        created += new
        updated += changed and not new
    return created, updated


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
        crawler = self.get_crawler(name)
        crawler.dagen_metrics = crawl_catalog(self, crawler)
        crawl = crawler.crawls[-1]
        record("crawl", crawl.crawl_id, crawl, parent=name)

    glue_models.GlueBackend.start_crawler = start_crawler

    def get_crawler_metrics(self: Any) -> Any:
        names = self.parameters.get("CrawlerNameList") or [c.name for c in self.glue_backend.get_crawlers()]
        metrics = []
        for name in names:
            crawler = self.glue_backend.get_crawler(name)
            created, updated = getattr(crawler, "dagen_metrics", (0, 0))
            metrics.append(
                {
                    "CrawlerName": crawler.name,
                    "TimeLeftSeconds": 0.0,
                    "StillEstimating": False,
                    "LastRuntimeSeconds": 1.0 if crawler.crawls else 0.0,
                    "MedianRuntimeSeconds": 1.0 if crawler.crawls else 0.0,
                    "TablesCreated": created,
                    "TablesUpdated": updated,
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
