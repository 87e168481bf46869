"""The loader as MWAA runs it: a task process builds only its DAG, and a spec that breaks keeps its last good DAG.

In a task process Airflow's parsing context names the DAG; the loader finds its
spec through the spec index (written by the DAG processor's full parse) and
opens no other spec.  A spec that built once and is broken now builds its last
good configuration, tagged and documented as stale; one that never built gets
its placeholder.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from generator.compile import build
from generator.loader.airflow_loader import BROKEN_TAG, STALE_TAG
from tests.airflow_compat import dagbag as folder_bag
from tests.airflow_compat import graph, serialized

CONTEXT = "_AIRFLOW_PARSING_CONTEXT_DAG_ID"  # what Airflow's task runner sets around the parse, in both lanes
SPECS = 50
OPENED: list[str] = []
_RECORDING: list[bool] = []


LISTED: list[str] = []


def _audit(event: str, args: tuple) -> None:
    if not _RECORDING or not args or not isinstance(args[0], (str, bytes, Path)):
        return
    path = args[0].decode() if isinstance(args[0], bytes) else str(args[0])
    if event == "open":
        OPENED.append(path)
    elif event in ("os.scandir", "os.listdir"):
        LISTED.append(path)


sys.addaudithook(_audit)  # audit hooks cannot be removed: this one records only while a test asks


def dagbag(dags: Path):
    """Airflow parsing the loader file, as a task process parses its DAG's file (no folder walk)."""
    return folder_bag(dags / "pipelines_loader.py")


def recorded_dagbag(dags: Path):
    """``dagbag(dags)``, with the files it opens in OPENED and the folders it lists in LISTED."""
    OPENED.clear()
    LISTED.clear()
    _RECORDING.append(True)
    try:
        return dagbag(dags)
    finally:
        _RECORDING.clear()


@pytest.fixture
def dags(tmp_path: Path, repo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A DAGs folder with 50 specs (the seeds under many names) and a fresh compile cache."""
    folder = tmp_path / "dags"
    (folder / "pipelines").mkdir(parents=True)
    shutil.copy(repo / "dags" / "pipelines_loader.py", folder)
    shutil.copy(repo / "pipelines" / "defaults.yaml", folder / "pipelines")
    seeds = sorted(path for path in (repo / "pipelines").glob("*.yaml") if path.name != "defaults.yaml")
    for index in range(SPECS):
        seed = seeds[index % len(seeds)]
        shutil.copy(seed, folder / "pipelines" / f"p{index:02d}_{seed.name}")
    monkeypatch.setenv("DAGEN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv(CONTEXT, raising=False)
    return folder


def test_a_task_process_reads_and_builds_only_its_own_spec(dags: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    full = dagbag(dags)  # the DAG processor: every spec, and the index it leaves behind
    assert full.import_errors == {} and len(full.dag_ids) == SPECS
    wanted = "p16_movielens_emr_step_functions"

    built: list[str] = []
    real_build = build.build_dag
    monkeypatch.setattr(
        build, "build_dag", lambda dag_id, config, **how: built.append(dag_id) or real_build(dag_id, config, **how)
    )
    monkeypatch.setenv(CONTEXT, wanted)
    task = recorded_dagbag(dags)

    specs_opened = sorted({Path(path).name for path in OPENED if "/pipelines/" in path and path.endswith(".yaml")})
    assert specs_opened == ["defaults.yaml", f"{wanted}.yaml"]
    assert [path for path in LISTED if "pipelines" in path] == []  # the index names the spec: no folder listing
    assert built == [wanted]
    assert task.import_errors == {}
    assert list(task.dag_ids) == [wanted]
    assert serialized(task.dags[wanted]) == serialized(full.dags[wanted])


def test_without_an_index_a_task_process_still_builds_its_dag_and_leaves_an_index(
    dags: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that never ran the DAG processor: specs are read for their ids once, then never again."""
    wanted = "p03_emr_notebook_best_sellers"
    monkeypatch.setenv(CONTEXT, wanted)
    first = dagbag(dags)
    assert list(first.dag_ids) == [wanted]
    again = recorded_dagbag(dags)
    assert sorted({Path(p).name for p in OPENED if p.endswith(".yaml")}) == ["defaults.yaml", f"{wanted}.yaml"]
    assert list(again.dag_ids) == [wanted]


def test_a_spec_that_declares_its_dag_id_is_found_by_that_id(dags: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = dags / "pipelines" / "p05_salary_batch_etl.yaml"
    spec.write_text("dag_id: payroll_nightly\n" + spec.read_text())
    full = dagbag(dags)
    assert "payroll_nightly" in full.dag_ids and "p05_salary_batch_etl" not in full.dag_ids
    monkeypatch.setenv(CONTEXT, "payroll_nightly")
    task = dagbag(dags)
    assert list(task.dag_ids) == ["payroll_nightly"]
    assert serialized(task.dags["payroll_nightly"]) == serialized(full.dags["payroll_nightly"])


def test_a_task_process_logs_only_its_own_pipeline(
    dags: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    (dags / "pipelines" / "p09_broken.yaml").write_text("start_date: 2024-01-01\ntasks: {}\n")
    dagbag(dags)
    monkeypatch.setenv(CONTEXT, "p10_movielens_emr_step_functions")
    caplog.clear()
    dagbag(dags)
    assert [r.getMessage() for r in caplog.records if r.name.startswith("generator")] == []


BREAK = ("      deploy_mode: client", "      deploymode: client")


def test_a_spec_that_breaks_keeps_its_last_good_dag_marked_stale(dags: Path, caplog: pytest.LogCaptureFixture) -> None:
    good = dagbag(dags).dags["p02_salary_batch_etl"]
    spec = dags / "pipelines" / "p02_salary_batch_etl.yaml"
    spec.write_text(spec.read_text().replace(*BREAK))
    caplog.clear()

    bag = dagbag(dags)

    stale = bag.dags["p02_salary_batch_etl"]
    assert bag.import_errors == {} and len(bag.dag_ids) == SPECS
    assert graph(stale) == graph(good)  # a running run keeps its tasks: no "removed", no invalid_spec
    assert sorted(stale.tags) == sorted([*good.tags, STALE_TAG])
    diagnostic = (
        "pipelines/p02_salary_batch_etl.yaml:41:7: DG201 unknown key 'deploymode' in tasks.average_salaries.spark\n"
        "    hint: did you mean 'deploy_mode'?"
    )
    assert stale.doc_md.startswith(
        "# Stale: this DAG runs the last good version of `pipelines/p02_salary_batch_etl.yaml`"
    )
    assert diagnostic in stale.doc_md.split("---")[0]
    assert good.doc_md in stale.doc_md
    assert stale.description == "STALE SPEC: DG201 unknown key 'deploymode' in tasks.average_salaries.spark"
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR" and r.name.startswith("generator")]
    assert errors == [
        diagnostic,
        "pipelines/p02_salary_batch_etl.yaml is invalid: DAG p02_salary_batch_etl runs its last good build "
        f"({STALE_TAG})",
    ]

    spec.write_text(spec.read_text().replace(BREAK[1], BREAK[0]))  # fixed: the DAG is itself again
    fixed = dagbag(dags).dags["p02_salary_batch_etl"]
    assert STALE_TAG not in fixed.tags and serialized(fixed) == serialized(good)


def test_a_spec_that_never_built_gets_its_placeholder(dags: Path) -> None:
    dagbag(dags)
    (dags / "pipelines" / "p50_new.yaml").write_text("start_date: 2024-01-01\ntasks: {}\n")
    bag = dagbag(dags)
    placeholder = bag.dags["p50_new"]
    assert set(placeholder.tags) == {BROKEN_TAG} and list(placeholder.task_ids) == ["invalid_spec"]
    assert placeholder.is_paused_upon_creation is True


def test_a_broken_spec_in_a_task_process_builds_the_same_stale_dag(dags: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dagbag(dags)
    spec = dags / "pipelines" / "p02_salary_batch_etl.yaml"
    spec.write_text(spec.read_text().replace(*BREAK))
    processor = dagbag(dags).dags["p02_salary_batch_etl"]
    monkeypatch.setenv(CONTEXT, "p02_salary_batch_etl")
    task = dagbag(dags)
    assert list(task.dag_ids) == ["p02_salary_batch_etl"]
    assert serialized(task.dags["p02_salary_batch_etl"]) == serialized(processor)


def test_a_clashing_dag_id_never_takes_an_established_pipeline(dags: Path) -> None:
    """A new spec that sorts first and claims an existing id gets DG406; the established pipeline keeps it."""
    established = dagbag(dags).dags["p02_salary_batch_etl"]
    (dags / "pipelines" / "a_newcomer.yaml").write_text(
        "dag_id: p02_salary_batch_etl\nstart_date: 2024-01-01\ntasks:\n  run:\n    type: python\n"
        "    callable: lib.jobs.run\n"
    )
    bag = dagbag(dags)
    assert bag.import_errors == {}
    assert serialized(bag.dags["p02_salary_batch_etl"]) == serialized(established)
    placeholder = bag.dags["dagen_invalid__pipelines_a_newcomer.yaml"]
    assert set(placeholder.tags) == {BROKEN_TAG}
    assert (
        "pipelines/a_newcomer.yaml:1:1: DG406 DAG id 'p02_salary_batch_etl' is already used by "
        "pipelines/p02_salary_batch_etl.yaml" in placeholder.doc_md
    )


def test_a_task_process_builds_the_established_pipeline_when_a_newcomer_claims_its_id(
    dags: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index's holder of a DAG id keeps it, in a task process as in the DAG processor, without a listing."""
    dagbag(dags)
    (dags / "pipelines" / "a_newcomer.yaml").write_text(
        "dag_id: p02_salary_batch_etl\nstart_date: 2024-01-01\ntasks:\n  run:\n    type: python\n"
        "    callable: lib.jobs.run\n"
    )
    processor = dagbag(dags).dags["p02_salary_batch_etl"]
    monkeypatch.setenv(CONTEXT, "p02_salary_batch_etl")
    task = recorded_dagbag(dags)
    assert "a_newcomer.yaml" not in {Path(path).name for path in OPENED}
    assert list(task.dag_ids) == ["p02_salary_batch_etl"]
    assert serialized(task.dags["p02_salary_batch_etl"]) == serialized(processor)


def test_a_task_process_finds_a_renamed_spec(dags: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The holder is gone: the specs are looked up (their ids read), and the DAG is the one the rename gives."""
    spec = dags / "pipelines" / "p05_salary_batch_etl.yaml"
    spec.write_text("dag_id: payroll_nightly\n" + spec.read_text())
    dagbag(dags)
    spec.rename(spec.with_name("payroll.yaml"))
    monkeypatch.setenv(CONTEXT, "payroll_nightly")
    task = dagbag(dags)
    monkeypatch.delenv(CONTEXT)
    processor = dagbag(dags)
    assert list(task.dag_ids) == ["payroll_nightly"] and task.import_errors == {}
    assert serialized(task.dags["payroll_nightly"]) == serialized(processor.dags["payroll_nightly"])
