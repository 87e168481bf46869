"""docs/mwaa-serverless.md says what the code does: its commands run, its tables are the code's.

(Its local-run example is checked by tests/test_local_run_serverless.py, against a real run.)
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from generator import cli
from generator.core import mwaa_serverless as rules
from generator.core.diagnostics import CODES

REPO = Path(__file__).resolve().parent.parent
DOCS = (REPO / "docs" / "mwaa-serverless.md").read_text(encoding="utf-8")


def _commands() -> list[list[str]]:
    block = DOCS.split("```sh\n", 1)[1].split("```", 1)[0].replace("\\\n", " ")
    return [shlex.split(line.split("#", 1)[0]) for line in block.splitlines() if line.strip()]


def _table(heading: str) -> list[list[str]]:
    """The rows (header and rule aside) of the first table after ``heading``."""
    section = DOCS.split(heading, 1)[1].lstrip("\n").split("\n\n")
    table = next(part for part in section if part.startswith("|"))
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in table.splitlines()[2:]]


def test_every_example_command_is_one_the_cli_takes() -> None:
    commands = _commands()
    assert [command[:2] for command in commands] == [
        ["dagen", "validate"],
        ["dagen", "compile"],
        ["dagen", "iam"],
        ["dagen", "deploy"],
        ["dagen", "run"],
    ]
    for command in commands:
        args = cli.parser().parse_args(command[1:])
        if command[1] != "iam":
            assert args.target == "mwaa-serverless", command


@pytest.mark.parametrize("index", [0, 1, 2])
def test_the_validate_compile_and_iam_examples_succeed(index: int, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    command = _commands()[index]
    command = [tmp_path / "out" if arg == "out/" else tmp_path / arg if arg == "roles.yaml" else arg for arg in command]
    monkeypatch.chdir(REPO)
    assert cli.main([str(arg) for arg in command[1:]]) == 0


def test_the_codes_table_is_the_code_table() -> None:
    table = _table("## Validation for the target (DG8xx)")
    assert [row[0] for row in table] == sorted(code for code in CODES if code.startswith("DG8"))
    for code in (row[0] for row in table):
        assert any((REPO / "tests" / "cases").glob(f"{code.lower()}_*")), code


def test_the_limits_and_seeds_are_the_rules() -> None:
    assert (rules.MAX_RETRIES, rules.MAX_RETRY_DELAY_SECONDS, rules.MAX_EXECUTION_SECONDS) == (3, 300, 3600)
    assert "retries 0-3, retry delay at most 5 min, every try at most 60 min" in DOCS
    assert "`@daily` → `0 0 * * *`" in DOCS and rules.PRESET_CRON["@daily"] == "0 0 * * *"
    seeds = sorted(path.stem for path in (REPO / "pipelines").glob("*.yaml") if path.stem != "defaults")
    assert sorted(row[0].strip("`") for row in _table("## The seeds on each target")) == seeds
    assert re.search(rf"`{rules.WORK_SUCCEEDED_TASK}`", DOCS)


def test_the_readme_examples_validate_and_compile(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Two targets", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    commands = [shlex.split(line) for line in block.splitlines()]
    assert [command[:2] for command in commands] == [["dagen", "validate"], ["dagen", "compile"]]
    monkeypatch.chdir(REPO)
    for command in commands:
        arguments = [str(tmp_path / "workflows") if arg == "workflows/" else arg for arg in command[1:]]
        assert cli.main(arguments) == 0
    assert sorted(path.name for path in (tmp_path / "workflows").iterdir()) == [
        "emr_notebook_best_sellers.yaml",
        "movielens_emr_step_functions.yaml",
        "salary_batch_etl.yaml",
    ]
