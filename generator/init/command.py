"""``dagen init [DIR]``: write a working pipelines repository (``generator.init.templates``).

Exit codes: 0 written, 1 refused (a non-empty folder without ``--force``, a file in the way, a
write that failed), 2 bad command line.  Never a traceback: each refusal is one line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from generator.init.templates import repository_files

NEXT_STEPS = """\
next steps:
  cd {folder}
  git init && pre-commit install            # validate the pipelines before each commit
  dagen validate pipelines/                 # check every spec
  dagen preview pipelines/example.yaml      # the DAG it becomes (needs dagen[airflow])
  dagen run pipelines/example.yaml --local  # run it on a local AWS emulator (needs dagen[airflow])
"""


def register(subparsers: Any) -> None:
    """Add ``dagen init`` to the ``dagen`` command's subparsers."""
    init = subparsers.add_parser(
        "init",
        help="start a new pipelines repository: an example spec, defaults, the loader, CI and pre-commit",
        description="Write a new pipelines repository into DIR: an example pipeline (pipelines/example.yaml, "
        "with the .sql file it reads and its Spark job in spark_jobs/), pipelines/defaults.yaml, the loader "
        "(dags/pipelines_loader.py), the JSON Schemas, .pre-commit-config.yaml, a GitHub validation workflow, "
        ".gitignore and VS Code settings.  A folder that holds files is refused unless --force.",
    )
    init.add_argument("folder", nargs="?", default=".", metavar="DIR", help="where to write (default: here)")
    init.add_argument(
        "--force", action="store_true", help="write into a folder that holds files, replacing those dagen writes"
    )
    init.set_defaults(run=run)


def _refusal(folder: Path, force: bool) -> str | None:
    """Why ``folder`` cannot take a new repository, or None."""
    if folder.exists() and not folder.is_dir():
        return f"{folder.as_posix()} is a file, not a folder"
    if force or not folder.exists():
        return None
    try:
        holds_files = any(folder.iterdir())
    except OSError as error:
        return f"cannot read {folder.as_posix()}: {error.strerror or error}"
    if holds_files:
        return f"{folder.as_posix()} is not empty; pass --force to write into it (files dagen writes are replaced)"
    return None


def run(args: argparse.Namespace) -> int:
    folder = Path(args.folder)
    refusal = _refusal(folder, args.force)
    if refusal:
        print(f"dagen init: {refusal}", file=sys.stderr)
        return 1
    files = repository_files(args.dagen_version)  # the cli's generator.__version__
    for relative, text in files.items():
        target = folder / relative
        try:
            if target.is_dir():
                raise IsADirectoryError(21, "a folder is in the way", str(target))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        except OSError as error:
            print(f"dagen init: cannot write {target.as_posix()}: {error.strerror or error}", file=sys.stderr)
            return 1
    print(f"dagen init: wrote {len(files)} files into {folder.as_posix()}/")
    print(NEXT_STEPS.format(folder=folder.as_posix()), end="")
    return 0
