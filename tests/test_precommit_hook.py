"""The ``dagen-validate`` pre-commit hook (``.pre-commit-hooks.yaml``) blocks a commit that breaks (or deletes) only
a ``.sql`` file.

Real pre-commit (the tools lane's, ``requirements/tools.lock``) runs in a git repository made by ``dagen init``,
offline.  The hook's own definition is ``language: python``: pre-commit would build a virtualenv and
``pip install`` this repository into it, which needs an index (setuptools for the build, the dependencies).  So
the test takes every other field of the hook from ``.pre-commit-hooks.yaml`` (``id``, ``entry``, ``files``,
``pass_filenames``, ``args``) into a ``repo: local`` config with ``language: system`` and the entry resolved to
this lane's ``dagen``: what is tested is which commits trigger the hook and what it runs on them, with the
dagen under test, and no network.  Installing the hook from a tag is pre-commit's own business.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from generator.cli import main

REPO = Path(__file__).resolve().parent.parent
PRE_COMMIT = REPO / ".venv-tools" / "bin" / "pre-commit"


def _git(repo: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = ["git", *args]
    return subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, timeout=120, check=False)


def local_config() -> str:
    """``.pre-commit-hooks.yaml``'s hook as a ``repo: local`` hook run by this lane's dagen."""
    (hook,) = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    command, *rest = hook["entry"].split()
    assert command == "dagen"
    hook = {**hook, "language": "system", "entry": " ".join([str(Path(sys.executable).parent / "dagen"), *rest])}
    return yaml.safe_dump({"repos": [{"repo": "local", "hooks": [hook]}]}, sort_keys=False)


def test_the_hook_reads_every_file_a_spec_can_read() -> None:
    (hook,) = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert (hook["files"], hook["pass_filenames"], hook["args"]) == ("^pipelines/", False, ["pipelines/"])
    assert hook["always_run"] is True  # git passes no deleted file to a hook: a deletion must be seen too


def test_a_commit_that_breaks_only_a_sql_file_is_blocked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if not PRE_COMMIT.exists():
        pytest.fail(f"{PRE_COMMIT} not found: pre-commit is in the tools lane (make .venv-tools/.installed)")
    repo = tmp_path / "repo"
    assert main(["init", str(repo)]) == 0
    capsys.readouterr()
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "GIT_AUTHOR_NAME": "dagen test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "dagen test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    (repo / ".pre-commit-config.yaml").write_text(local_config(), encoding="utf-8")
    assert _git(repo, "init", "-q", "-b", "main", env=env).returncode == 0
    installed = subprocess.run(  # noqa: S603
        [str(PRE_COMMIT), "install"], cwd=repo, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert _git(repo, "add", "-A", env=env).returncode == 0
    first = _git(repo, "commit", "-q", "-m", "dagen init", env=env)
    assert first.returncode == 0, first.stdout + first.stderr  # the scaffold passes its own hook

    (repo / "pipelines/sql/summarise.sql").write_text("", encoding="utf-8")  # only the .sql file changes
    assert _git(repo, "add", "pipelines/sql/summarise.sql", env=env).returncode == 0
    blocked = _git(repo, "commit", "-m", "empty the query", env=env)
    assert blocked.returncode == 1, blocked.stdout + blocked.stderr
    output = blocked.stdout + blocked.stderr
    assert "dagen validate" in output and "Failed" in output
    (line,) = [line for line in output.splitlines() if " DG107 " in line]
    assert line.startswith("pipelines/example.yaml:")
    assert "sql/summarise.sql" in line
    assert _git(repo, "rev-list", "--count", "HEAD", env=env).stdout.strip() == "1"  # nothing landed

    assert _git(repo, "checkout", "HEAD", "--", "pipelines/sql/summarise.sql", env=env).returncode == 0
    assert _git(repo, "rm", "-q", "pipelines/sql/summarise.sql", env=env).returncode == 0  # only a deletion
    deleted = _git(repo, "commit", "-m", "drop the query", env=env)
    assert deleted.returncode == 1, deleted.stdout + deleted.stderr
    (line,) = [line for line in (deleted.stdout + deleted.stderr).splitlines() if " DG107 " in line]
    assert line.startswith("pipelines/example.yaml:") and "sql/summarise.sql" in line
    assert _git(repo, "rev-list", "--count", "HEAD", env=env).stdout.strip() == "1"
