"""The package's layout is its architecture: imports run only downward, and no module grows past a reader's reach.

Layers, bottom up: ``core`` (shared vocabulary) -> ``runtime`` (operators the built DAGs name by path) ->
``resources`` -> ``task_types`` -> ``spec`` (load, validate,
normalise) -> ``compile`` (lower, configure, build) -> ``loader`` -> the commands (``preview``, ``deploy``,
``local``, ``iam``, which never import one another) -> ``cli``.  Lazy imports inside functions count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "generator"
RANK = {"core": 0, "runtime": 1, "resources": 2, "task_types": 3, "spec": 4, "compile": 5, "loader": 6}
COMMANDS = ("preview", "deploy", "local", "iam", "init")
TOP = 8  # cli, __main__, the package's __init__
MAX_LINES = 450


def layer(module: str) -> tuple[int, str]:
    """The rank and name of the layer a dotted module (``generator.spec.load``) belongs to."""
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else ""
    if top in RANK:
        return RANK[top], top
    if top in COMMANDS:
        return 7, top
    return TOP, top


def modules() -> list[Path]:
    return sorted(path for path in PACKAGE.rglob("*.py") if "__pycache__" not in path.parts)


def name_of(path: Path) -> str:
    parts = ["generator", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_bytes())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("generator"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names if node.module == "generator")
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("generator"))
    return found


def test_every_module_sits_in_a_layer_and_the_top_holds_only_the_command_line() -> None:
    top = sorted(name_of(path) for path in modules() if layer(name_of(path))[0] == TOP)
    assert top == ["generator", "generator.__main__", "generator.cli"]


@pytest.mark.parametrize("path", modules(), ids=lambda path: path.relative_to(PACKAGE).as_posix())
def test_imports_run_only_downward(path: Path) -> None:
    rank, own = layer(name_of(path))
    upward = []
    for module in sorted(imported(path)):
        other_rank, other = layer(module)
        sideways = rank == 7 and other_rank == 7 and other != own  # one command never imports another
        if other_rank > rank or sideways or (own == "resources" and other == "task_types"):
            upward.append(module)
    assert upward == []


@pytest.mark.parametrize("path", modules(), ids=lambda path: path.relative_to(PACKAGE).as_posix())
def test_no_module_is_past_the_size_a_reader_can_hold(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) <= MAX_LINES
