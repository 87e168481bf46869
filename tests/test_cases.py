"""Data-driven validation cases: each folder of tests/cases holds specs and the exact expected report.

A case folder has one or more ``*.yaml`` specs (optionally a ``defaults.yaml``)
and ``expected.txt``: the text ``dagen validate`` prints for the folder, paths
relative to the folder.  An optional one-line ``target`` file names the target the
folder is validated for (``mwaa-serverless``; default ``mwaa``).  Regenerate one with
``DAGEN_UPDATE_CASES=1`` only after reading the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from generator.compile.pipelines import MWAA, TARGETS, process
from generator.core.diagnostics import CODES, REPORTERS, sorted_unique
from generator.core.provider_profile import MODERN

CASES = Path(__file__).parent / "cases"
CASE_DIRS = sorted(path for path in CASES.iterdir() if path.is_dir())


def case_target(case: Path) -> str:
    file = case / "target"
    target = file.read_text(encoding="utf-8").strip() if file.exists() else MWAA
    assert target in TARGETS, f"{file}: unknown target {target!r}"
    return target


def report(case: Path) -> str:
    results = process([case], profile=MODERN, airflow_major=3, root=case, target=case_target(case))
    diagnostics = sorted_unique(d for result in results for d in result.diagnostics)
    return REPORTERS["text"](diagnostics, len(results)) + "\n"


@pytest.mark.parametrize("case", CASE_DIRS, ids=[path.name for path in CASE_DIRS])
def test_case(case: Path) -> None:
    expected_file = case / "expected.txt"
    actual = report(case)
    if os.environ.get("DAGEN_UPDATE_CASES"):
        expected_file.write_text(actual, encoding="utf-8")
    assert actual == expected_file.read_text(encoding="utf-8")


def test_every_code_has_a_case() -> None:
    covered = set()
    for case in CASE_DIRS:
        text = (case / "expected.txt").read_text(encoding="utf-8")
        covered |= {code for code in CODES if f": {code} " in text}
    # DG601 (build failure) needs Airflow and is covered by test_loader; DG701 by test_cli; DG108 (a file
    # over 1 MiB) by test_input_limits, which makes the file instead of committing it.
    assert set(CODES) - covered == {"DG108", "DG601", "DG701"}
