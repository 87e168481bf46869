"""The README's console examples are what the commands print."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from tests.test_cli import run


def console_block(readme: str, command: str) -> list[str]:
    block = re.search(rf"```console\n\$ {re.escape(command)}\n(.*?)```", readme, re.DOTALL)
    assert block, command
    return block.group(1).splitlines()


def test_validate_example(repo: Path, tmp_path: Path) -> None:
    """The tour breaks the salary spec (the seed's invalid cron and a typo) and shows the report."""
    shutil.copytree(repo / "pipelines", tmp_path / "pipelines")
    spec = tmp_path / "pipelines" / "salary_batch_etl.yaml"
    text = spec.read_text().replace('schedule: "0 0 * * *"', 'schedule: "0 0 0 * *"')
    spec.write_text(text.replace("      deploy_mode: client", "      deploymode: client"))
    readme = (repo / "README.md").read_text()
    assert run("validate", "pipelines/", cwd=tmp_path).stdout.splitlines() == console_block(
        readme, "dagen validate pipelines/"
    )


def test_preview_example(repo: Path) -> None:
    """The tour shows the task graph part of the preview (after a '...' line)."""
    readme = (repo / "README.md").read_text()
    shown = console_block(readme, "dagen preview pipelines/salary_batch_etl.yaml")
    assert shown[0] == "..."
    output = run("preview", "pipelines/salary_batch_etl.yaml", cwd=repo).stdout.splitlines()
    start = output.index(shown[1])
    assert output[start : start + len(shown) - 1] == shown[1:]
