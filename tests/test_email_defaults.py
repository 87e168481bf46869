"""``task_defaults.email`` without ``email_on_retry``: mailed when a task fails for good, not at each retry.

Airflow's own ``email_on_retry`` defaults to true, so ``email`` alone would send 3 emails for one task with
2 retries; the compiler sets false unless the spec says otherwise.  Checked on the built DAG, both lanes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from generator.compile.build import airflow_major
from generator.compile.pipelines import process
from generator.core.provider_profile import installed_profile
from generator.loader.airflow_loader import build_or_diagnose

TASKS = """\
start_date: 2024-01-01
tasks:
  crawl:
    type: glue_crawler
    crawler_name: raw
"""


def _built(tmp_path: Path, task_defaults: str) -> tuple[dict[str, Any], Any]:
    spec = tmp_path / "mailed.yaml"
    spec.write_text(task_defaults + TASKS, encoding="utf-8")
    (result,) = process([spec], profile=installed_profile(), airflow_major=airflow_major())
    assert result.diagnostics == []
    assert result.config is not None
    dag = build_or_diagnose(result)
    return result.config["default_args"], dag.get_task("crawl")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Airflow 3: email on a task is deprecated
@pytest.mark.parametrize(
    ("task_defaults", "on_retry", "on_failure"),
    [
        ("task_defaults: {retries: 2, email: [oncall@example.com]}\n", False, True),
        ("task_defaults: {email: [oncall@example.com], email_on_retry: true}\n", True, True),
        ("task_defaults: {email: [oncall@example.com], email_on_failure: false}\n", False, False),
    ],
)
def test_email_without_email_on_retry_is_not_sent_on_retries(
    tmp_path: Path, task_defaults: str, on_retry: bool, on_failure: bool
) -> None:
    default_args, task = _built(tmp_path, task_defaults)
    assert default_args["email_on_retry"] is on_retry
    assert (task.email, task.email_on_retry, task.email_on_failure) == (["oncall@example.com"], on_retry, on_failure)


def test_no_email_adds_no_email_setting(tmp_path: Path) -> None:
    default_args, _ = _built(tmp_path, "task_defaults: {retries: 1}\n")
    assert not {"email", "email_on_retry", "email_on_failure"} & set(default_args)
