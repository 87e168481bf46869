"""The dagen command as users run it: exit codes, report formats, compile output dag-factory can load."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from generator.cli import main
from tests.airflow_compat import graph

CASES = Path(__file__).parent / "cases"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "generator", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        check=False,
    )


def test_validate_clean_tree_exits_0(repo: Path) -> None:
    done = run("validate", "pipelines/", cwd=repo)
    assert (done.returncode, done.stdout, done.stderr) == (0, "3 file(s) checked, no errors\n", "")


def test_validate_reports_every_file_and_exits_1(repo: Path) -> None:
    done = run("validate", "tests/cases/dg301_unknown_dependency", "tests/cases/dg401_invalid_cron", cwd=repo)
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        "tests/cases/dg301_unknown_dependency/pipeline.yaml:15:18: DG301 task 'transform' depends on 'extrat', "
        "which is not a task or group of this pipeline",
        "    hint: did you mean 'extract'?",
        # both files are named pipeline.yaml: one DAG id for two specs
        "tests/cases/dg401_invalid_cron/pipeline.yaml:1:1: DG406 DAG id 'pipeline' is already used by "
        "tests/cases/dg301_unknown_dependency/pipeline.yaml",
        "    hint: set a different dag_id or rename one of the files",
        "tests/cases/dg401_invalid_cron/pipeline.yaml:2:11: DG401 schedule: invalid cron expression '0 0 0 * *': "
        "day-of-month must be 1-31, got 0",
        "    hint: cron fields are: minute hour day-of-month month day-of-week; '@daily' is '0 0 * * *'",
        "3 error(s) in 2 of 2 file(s)",
    ]
    assert "Traceback" not in done.stderr


def test_validate_json(repo: Path) -> None:
    done = run("validate", "--format", "json", "tests/cases/dg302_unknown_cluster", cwd=repo)
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["files_checked"] == 1
    assert report["diagnostics"][1] == {
        "code": "DG302",
        "severity": "error",
        "file": "tests/cases/dg302_unknown_cluster/pipeline.yaml",
        "line": 12,
        "column": 14,
        "path": "tasks/transform/cluster",
        "hint": "did you mean 'etl'?",
        "message": "task 'transform' runs on cluster 'elt', which is not defined under clusters",
    }


def test_validate_github_annotations(repo: Path) -> None:
    done = run("validate", "--format", "github", "tests/cases/dg201_unknown_key_typo", cwd=repo)
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        "::error file=tests/cases/dg201_unknown_key_typo/pipeline.yaml,line=3,col=1,title=DG201::"
        "unknown key 'schedul' in the top level%0Ahint: did you mean 'schedule'?",
        "1 error(s) in 1 of 1 file(s)",
    ]


@pytest.mark.parametrize(
    ("argv", "code", "stderr"),
    [
        (["validate", "no/such/dir"], 2, "dagen: no such file or folder: no/such/dir\n"),
        (["validate", "docs"], 1, "dagen: DG701 no pipeline specs (*.yaml, *.yml) under docs\n"),
    ],
)
def test_bad_input_exit_codes(repo: Path, argv: list[str], code: int, stderr: str) -> None:
    done = run(*argv, cwd=repo)
    assert (done.returncode, done.stderr) == (code, stderr)


def test_unknown_command_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["frobnicate"])
    assert exit_.value.code == 2


def test_schema_command_prints_the_committed_schema(repo: Path) -> None:
    done = run("schema", cwd=repo)
    assert done.returncode == 0
    assert json.loads(done.stdout) == json.loads((repo / "schemas" / "pipeline.schema.json").read_text())


def test_compile_output_is_loadable_by_dag_factory(repo: Path, tmp_path: Path) -> None:
    """`dagen compile` prints real dag-factory YAML: dag-factory alone builds the same task graph from it."""
    import dagfactory

    from generator.loader.airflow_loader import load_pipelines

    out = tmp_path / "compiled.yaml"
    done = run("compile", "pipelines/movielens_emr_step_functions.yaml", "-o", str(out), cwd=repo)
    assert (done.returncode, done.stderr) == (0, "")
    from_yaml: dict = {}
    dagfactory.load_yaml_dags(globals_dict=from_yaml, config_filepath=str(out))
    ours: dict = {}
    load_pipelines(repo / "pipelines", ours, root=repo)

    theirs, mine = graph(from_yaml["movielens_emr_step_functions"]), graph(ours["movielens_emr_step_functions"])
    # dag-factory has no setup/teardown: the loader adds them after dag-factory built the DAG.
    for shape in (theirs, mine):
        for task in shape.values():
            task.pop("role"), task.pop("trigger_rule")
        shape["terminate_preprocess"]["upstream"] = [
            t for t in shape["terminate_preprocess"]["upstream"] if t != "create_preprocess"
        ]
    assert theirs == mine
    assert from_yaml["movielens_emr_step_functions"].params["data_bucket"] == "mwaa-movielens-demo"


def test_compile_refuses_an_invalid_spec(repo: Path) -> None:
    done = run("compile", "tests/cases/dg303_cycle", cwd=repo)
    assert done.returncode == 1
    assert "DG303 dependency cycle: a -> b -> c -> a" in done.stdout


def test_parallel_validation_reports_exactly_what_sequential_does(repo: Path, tmp_path: Path) -> None:
    """Many files are validated in forked processes; the report must not change (order included)."""
    import shutil

    from generator.compile.pipelines import PARALLEL_FROM, process
    from generator.core.provider_profile import MODERN

    cases = sorted(path for path in (repo / "tests" / "cases").iterdir() if path.is_dir())
    for index in range(PARALLEL_FROM):
        case = cases[index % len(cases)]
        shutil.copytree(case, tmp_path / f"{index:03d}_{case.name}", ignore=shutil.ignore_patterns("expected.txt"))

    def report(workers: int) -> list[tuple]:
        results = process(
            [tmp_path], profile=MODERN, airflow_major=3, root=tmp_path, compile_specs=False, workers=workers
        )
        return [(r.file, r.dag_id, [d.text() for d in r.diagnostics]) for r in results]

    sequential = report(1)
    assert len(sequential) >= PARALLEL_FROM and any(diagnostics for _, _, diagnostics in sequential)
    assert report(2) == sequential


def test_validate_of_one_file_reports_a_clash_with_its_folder(repo: Path, tmp_path: Path) -> None:
    folder = tmp_path / "pipelines"
    folder.mkdir()
    (folder / "salary_batch_etl.yaml").write_bytes((repo / "pipelines" / "salary_batch_etl.yaml").read_bytes())
    (folder / "copy.yaml").write_text(
        "dag_id: salary_batch_etl\nstart_date: 2024-01-01\nschedule: null\n"
        "tasks:\n  run:\n    type: lambda_invoke\n    function_name: nightly\n",
        encoding="utf-8",
    )
    done = run("validate", "pipelines/copy.yaml", cwd=tmp_path)
    assert (done.returncode, done.stdout) == (
        1,
        "pipelines/copy.yaml:1:1: DG406 DAG id 'salary_batch_etl' is already used by pipelines/salary_batch_etl.yaml "
        "in the same folder\n"
        "    hint: set a different dag_id or rename one of the files: deployed together, the one deployed later "
        "would be a placeholder\n"
        "1 error(s) in 1 of 1 file(s)\n",
    )
    both = run("validate", "pipelines/copy.yaml", "pipelines/salary_batch_etl.yaml", cwd=tmp_path)
    assert "DG406 DAG id 'salary_batch_etl' is already used by pipelines/copy.yaml\n" in both.stdout
