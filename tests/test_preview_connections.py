"""``dagen preview``'s Connections section and ``connections`` key, and the asset schedule in words.

Read from the built DAG (each operator's ``*_conn_id`` arguments, Airflow's own task email, the
notifiers' targets), so both Airflow lanes give the same answer.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generator.preview.command import main

REPO = Path(__file__).resolve().parent.parent
NOW = "2024-06-01T00:00:00Z"
EVERY_TYPE = "tests/local_run/every_type.yaml"
EMAIL_SPEC = """\
start_date: 2024-01-01
schedule: null
owner: data-platform
task_defaults:
  retries: 2
  email: [oncall@example.com]
tasks:
  crawl:
    type: glue_crawler
    crawler_name: raw
  ready:
    type: http_wait
    depends_on: [crawl]
    http_conn_id: partner_api
    endpoint: /status
"""


@pytest.fixture(autouse=True)
def in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)


def _section(text: str, title: str) -> str:
    start = text.index(f"\n{title}\n") + 1
    return text[start : text.index("\n\n", start) + 1]


def test_every_type_lists_each_connection_and_what_uses_it(tmp_path: Path) -> None:
    out = tmp_path / "preview.txt"
    assert main(["preview", EVERY_TYPE, "--now", NOW, "-o", str(out)]) == 0
    assert _section(out.read_text(encoding="utf-8"), "Connections") == (
        "Connections\n"
        "  connection    type  used by\n"
        "  aws_default   aws   ingest.landed, ingest.any_csv, process.daily_counts, process.daily_regions,\n"
        "                      process.clean, process.serverless_etl, process.eks_etl, process.load_partitions,\n"
        "                      process.weekly_total, process.report_notebook, publish.announce, publish.curate,\n"
        "                      publish.catalogue, publish.crawl; notifications on_task_failure, on_run_failure,\n"
        "                      on_run_success, on_sla_miss\n"
        "  orders_api    http  ingest.export_ready\n"
        "  smtp_default  smtp  notifications on_task_failure, on_run_success\n"
    )


def test_every_type_connections_as_json(tmp_path: Path) -> None:
    out = tmp_path / "preview.json"
    assert main(["preview", EVERY_TYPE, "--format", "json", "--now", NOW, "-o", str(out)]) == 0
    (dag,) = json.loads(out.read_text(encoding="utf-8"))["dags"]
    aws, http, smtp = dag["connections"]
    assert (aws["conn_id"], aws["type"], len(aws["tasks"])) == ("aws_default", "aws", 14)
    assert "publish.summarise" not in aws["tasks"]  # a python task names no connection
    assert aws["notifications"] == ["on_task_failure", "on_run_failure", "on_run_success", "on_sla_miss"]
    assert http == {"conn_id": "orders_api", "type": "http", "tasks": ["ingest.export_ready"], "notifications": []}
    assert smtp == {
        "conn_id": "smtp_default",
        "type": "smtp",
        "tasks": [],
        "notifications": ["on_task_failure", "on_run_success"],
    }


def test_airflow_task_email_needs_the_smtp_connection(tmp_path: Path) -> None:
    """``task_defaults.email``: every task mails through smtp_default; the http_wait task names its connection."""
    spec = tmp_path / "mailed.yaml"
    spec.write_text(EMAIL_SPEC, encoding="utf-8")
    out = tmp_path / "preview.txt"
    assert main(["preview", str(spec), "--now", NOW, "-o", str(out)]) == 0
    assert _section(out.read_text(encoding="utf-8"), "Connections") == (
        "Connections\n"
        "  connection    type  used by\n"
        "  aws_default   aws   crawl\n"
        "  smtp_default  smtp  every task (2)\n"
        "  partner_api   http  ready\n"
    )


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        (
            "tests/specs_features/curation_consumer.yaml",
            "runs when s3://warehouse/curated is updated (a task's outlets)",
        ),
        (
            "tests/specs_features/either_consumer.yaml",
            "runs when any of these assets are updated (tasks' outlets): s3://warehouse/curated, s3://warehouse/raw",
        ),
    ],
)
def test_an_asset_schedule_in_words(spec: str, words: str, tmp_path: Path) -> None:
    out = tmp_path / "preview.json"
    assert main(["preview", spec, "--format", "json", "--now", NOW, "-o", str(out)]) == 0
    (dag,) = json.loads(out.read_text(encoding="utf-8"))["dags"]
    assert dag["schedule"]["expression"] is None
    assert dag["schedule"]["description"] == words
    assert dag["schedule"]["next_runs"] == []


def test_the_deploying_docs_show_real_output(tmp_path: Path) -> None:
    """docs/deploying-dags.md's "Connections a pipeline needs" example is what the command prints."""
    out = tmp_path / "preview.txt"
    assert main(["preview", EVERY_TYPE, "--now", NOW, "-o", str(out)]) == 0
    docs = (REPO / "docs" / "deploying-dags.md").read_text(encoding="utf-8")
    start = docs.index("\nConnections\n", docs.index(f"$ dagen preview {EVERY_TYPE}\n")) + 1
    assert docs[start : docs.index("```", start)] == _section(out.read_text(encoding="utf-8"), "Connections")
