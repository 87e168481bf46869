"""``dagen init`` and ``dagen --version``: the new repository, its refusals, and the files that must not drift.

The scaffold's run on the emulator and from an installed wheel is ``tests/test_wheel_install.py``; its
pre-commit hook is ``tests/test_precommit_hook.py``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from generator import __version__
from generator.cli import main
from generator.init.templates import release_tag, repository_files
from generator.loader.dag_file import loader_source

REPO = Path(__file__).resolve().parent.parent
FILES = [
    ".github/workflows/validate-pipelines.yml",
    ".gitignore",
    ".pre-commit-config.yaml",
    ".vscode/settings.json",
    "dags/pipelines_loader.py",
    "pipelines/defaults.yaml",
    "pipelines/example.yaml",
    "pipelines/sql/summarise.sql",
    "schemas/defaults.schema.json",
    "schemas/pipeline.schema.json",
    "spark_jobs/word_count.py",
]


def written(folder: Path) -> list[str]:
    return sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file())


def test_the_packaged_loader_is_the_repositorys_loader() -> None:
    # The wheel ships the loader as text (generator/loader/dag_file.py): it must be dags/pipelines_loader.py.
    assert loader_source() == (REPO / "dags" / "pipelines_loader.py").read_text(encoding="utf-8")


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"dagen {__version__}\n"


def test_release_tags_match_the_version_everywhere_they_are_written() -> None:
    assert release_tag(__version__) == f"v{__version__}"
    readme_revs = re.findall(r"^\s*rev: (\S+)$", (REPO / "README.md").read_text(encoding="utf-8"), re.MULTILINE)
    assert readme_revs == [release_tag(__version__)]
    files = repository_files(__version__)
    assert f"rev: v{__version__}\n" in files[".pre-commit-config.yaml"]
    assert f'@v{__version__}"' in files[".github/workflows/validate-pipelines.yml"]


def test_init_writes_a_repository_that_validates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "repo"
    assert main(["init", str(folder)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[:2] == [f"dagen init: wrote {len(FILES)} files into {folder.as_posix()}/", "next steps:"]
    assert written(folder) == FILES
    # The schemas are the package's (what `dagen schema` prints), and equal to this repository's.
    for name in ("pipeline", "defaults"):
        text = (folder / f"schemas/{name}.schema.json").read_text(encoding="utf-8")
        assert text == (REPO / f"schemas/{name}.schema.json").read_text(encoding="utf-8")
    settings = json.loads((folder / ".vscode/settings.json").read_text(encoding="utf-8"))
    assert settings["yaml.schemas"]["./schemas/pipeline.schema.json"][0] == "pipelines/**/*.yaml"
    assert main(["validate", str(folder / "pipelines")]) == 0
    assert capsys.readouterr().out == "1 file(s) checked, no errors\n"
    compile(Path(folder / "spark_jobs/word_count.py").read_text(encoding="utf-8"), "word_count.py", "exec")


def test_init_into_an_empty_existing_folder(tmp_path: Path) -> None:
    assert main(["init", str(tmp_path)]) == 0
    assert written(tmp_path) == FILES


def test_init_refuses_a_folder_that_holds_files_and_overwrites_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines/example.yaml").write_text("mine\n", encoding="utf-8")
    assert main(["init", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"dagen init: {tmp_path.as_posix()} is not empty; pass --force to write into it "
        "(files dagen writes are replaced)\n"
    )
    assert written(tmp_path) == ["pipelines/example.yaml"]
    assert (tmp_path / "pipelines/example.yaml").read_text(encoding="utf-8") == "mine\n"

    assert main(["init", str(tmp_path), "--force"]) == 0
    assert written(tmp_path) == FILES
    assert (tmp_path / "pipelines/example.yaml").read_text(encoding="utf-8") == repository_files(__version__)[
        "pipelines/example.yaml"
    ]


def test_init_refuses_a_file_and_a_folder_in_the_way(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "file"
    target.write_text("x", encoding="utf-8")
    assert main(["init", str(target)]) == 1
    assert capsys.readouterr().err == f"dagen init: {target.as_posix()} is a file, not a folder\n"

    (tmp_path / "repo/.gitignore").mkdir(parents=True)  # a folder where a file goes: one line, no traceback
    assert main(["init", str(tmp_path / "repo"), "--force"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"dagen init: cannot write {(tmp_path / 'repo/.gitignore').as_posix()}: ")
    assert err.count("\n") == 1


def test_the_init_repository_previews_in_every_text_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With Airflow (the lanes), the generated pipeline previews as the DAG the loader builds."""
    folder = tmp_path / "repo"
    assert main(["init", str(folder)]) == 0
    capsys.readouterr()
    spec = str(folder / "pipelines" / "example.yaml")
    assert main(["preview", spec, "--format", "json"]) == 0
    (dag,) = json.loads(capsys.readouterr().out)["dags"]
    graph = {task["task_id"]: task["upstream"] for task in dag["tasks"]}
    assert graph == {
        "create_etl": [],
        "count_words": ["create_etl"],
        "summarise": ["count_words"],
        "terminate_etl": ["create_etl", "count_words"],  # its setup, and the last task on the cluster
    }
    assert main(["preview", spec, "--format", "mermaid"]) == 0
    assert capsys.readouterr().out.startswith("flowchart LR\n")
    assert main(["preview", spec]) == 0
    assert "  create_etl  [setup]\n  ├── count_words\n" in capsys.readouterr().out
