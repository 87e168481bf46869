"""The loader's compile cache: hits only on identical inputs, never on a stale or unsafe entry."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from generator.compile import cache as compile_cache
from generator.compile.cache import CompileCache
from generator.compile.constructed import Constructed
from generator.compile.pipelines import process
from generator.core.provider_profile import LEGACY, MODERN


def compile_folder(folder: Path, cache: CompileCache) -> dict:
    results = process([folder], profile=MODERN, airflow_major=3, root=folder.parent, cache=cache)
    return {r.dag_id: (r.config, r.spec is not None, [d.code for d in r.diagnostics]) for r in results}


@pytest.fixture
def specs(tmp_path: Path, repo: Path) -> Path:
    folder = tmp_path / "pipelines"
    shutil.copytree(repo / "pipelines", folder)
    return folder


def test_second_parse_is_served_from_the_cache_with_the_same_result(specs: Path, tmp_path: Path) -> None:
    cache = CompileCache(tmp_path / "cache")
    cache.folder.mkdir()
    first = compile_folder(specs, cache)
    assert len(list(cache.folder.glob("*.json"))) == 3
    second = compile_folder(specs, cache)
    assert {dag_id: entry[0] for dag_id, entry in second.items()} == {d: e[0] for d, e in first.items()}
    assert [entry[1] for entry in first.values()] == [True] * 3  # compiled
    assert [entry[1] for entry in second.values()] == [False] * 3  # served from the cache


def test_any_input_change_misses(specs: Path, tmp_path: Path) -> None:
    cache = CompileCache(tmp_path / "cache")
    cache.folder.mkdir()
    compile_folder(specs, cache)
    # a spec edit recompiles that spec only
    salary = specs / "salary_batch_etl.yaml"
    salary.write_text(salary.read_text().replace('schedule: "0 0 * * *"', 'schedule: "0 1 * * *"'))
    served = {dag_id: entry[1] for dag_id, entry in compile_folder(specs, cache).items()}
    assert served == {
        "emr_notebook_best_sellers": False,
        "movielens_emr_step_functions": False,
        "salary_batch_etl": True,
    }
    # a defaults edit recompiles every spec of the folder, and the new value is used
    defaults = specs / "defaults.yaml"
    defaults.write_text(defaults.read_text().replace("retries: 2", "retries: 5"))
    after = compile_folder(specs, cache)
    assert [entry[1] for entry in after.values()] == [True] * 3
    assert {entry[0]["default_args"]["retries"] for entry in after.values()} == {5}


def test_generator_change_misses(specs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = CompileCache(tmp_path / "cache")
    cache.folder.mkdir()
    compile_folder(specs, cache)
    monkeypatch.setattr(compile_cache, "generator_fingerprint", lambda: "a different generator")
    assert [entry[1] for entry in compile_folder(specs, cache).values()] == [True] * 3


def test_broken_specs_are_never_cached(specs: Path, tmp_path: Path) -> None:
    cache = CompileCache(tmp_path / "cache")
    cache.folder.mkdir()
    (specs / "broken.yaml").write_text("start_date: 2024-01-01\ntasks: {}\n")
    for _ in range(2):
        assert compile_folder(specs, cache)["broken"][2] == ["DG207"]
    assert len(list(cache.folder.glob("*.json"))) == 3


def test_corrupt_or_foreign_entries_are_ignored(specs: Path, tmp_path: Path) -> None:
    cache = CompileCache(tmp_path / "cache")
    cache.folder.mkdir()
    compile_folder(specs, cache)
    entries = sorted(cache.folder.glob("*.json"))
    entries[0].write_text("{not json")
    assert sum(entry[1] for entry in compile_folder(specs, cache).values()) == 1  # recompiled


def test_unsafe_cache_folder_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    os.chmod(folder, 0o777)
    monkeypatch.setenv("DAGEN_CACHE_DIR", str(folder))
    assert CompileCache.default() is None
    os.chmod(folder, 0o700)
    assert CompileCache.default() is not None
    monkeypatch.setenv("DAGEN_CACHE", "0")
    assert CompileCache.default() is None


QUERY_FILE_SPEC = """\
start_date: 2024-01-01
schedule: "@daily"
tasks:
  counts:
    type: athena_query
    query_file: sql/counts.sql
    database: analytics
    workgroup: analytics
"""


def test_editing_a_query_file_recompiles_with_the_new_sql(tmp_path: Path) -> None:
    folder = tmp_path / "pipelines"
    (folder / "sql").mkdir(parents=True)
    (folder / "counts.yaml").write_text(QUERY_FILE_SPEC)
    sql = folder / "sql" / "counts.sql"
    sql.write_text("SELECT count(*) FROM events WHERE day = DATE '{{ ds }}'\n")
    cache = CompileCache(tmp_path / "cache")
    cache.folder.mkdir()

    def compiled() -> tuple[str | None, bool, list[str]]:
        """(the query compiled, whether it was compiled rather than served from the cache, the codes)."""
        config, recompiled, codes = compile_folder(folder, cache)["counts"]
        return (config["tasks"]["counts"]["query"] if config else None), recompiled, codes

    assert compiled() == ("SELECT count(*) FROM events WHERE day = DATE '{{ ds }}'\n", True, [])
    assert compiled() == ("SELECT count(*) FROM events WHERE day = DATE '{{ ds }}'\n", False, [])  # a hit
    # the spec's bytes are unchanged: only the SQL file's bytes can tell the cache that the query changed
    sql.write_text("SELECT count(*) FROM orders WHERE day = DATE '{{ ds }}'\n")
    assert compiled() == ("SELECT count(*) FROM orders WHERE day = DATE '{{ ds }}'\n", True, [])
    assert compiled() == ("SELECT count(*) FROM orders WHERE day = DATE '{{ ds }}'\n", False, [])
    # a file that disappears is reported, never served from the cache
    sql.unlink()
    assert compiled() == (None, False, ["DG107"])
    # a link that now leads out of the folder, to the very same bytes, is refused too
    outside = tmp_path / "counts.sql"
    outside.write_text("SELECT count(*) FROM orders WHERE day = DATE '{{ ds }}'\n")
    sql.symlink_to(outside)
    assert compiled() == (None, False, ["DG107"])
    # one entry (the spec's bytes never changed), holding the digest of the SQL it was compiled from
    (entry,) = [json.loads(path.read_text()) for path in cache.folder.glob("*.json")]
    assert entry["files"] == {"sql/counts.sql": hashlib.sha256(outside.read_bytes()).hexdigest()}


@pytest.mark.parametrize(("airflow_major", "profile"), [(3, MODERN), (2, LEGACY)])
def test_every_object_the_compiler_emits_comes_back_from_the_cache(
    repo: Path, tmp_path: Path, airflow_major: int, profile
) -> None:
    """Asset schedules, params and the SLA's Airflow objects are restored, so those specs are cache hits too."""
    cache = CompileCache(tmp_path / "cache")
    cache.folder.mkdir()
    folder = repo / "tests" / "specs_features"

    def compile_features() -> list:
        return process([folder], profile=profile, airflow_major=airflow_major, root=repo, cache=cache)

    first = compile_features()
    second = compile_features()
    assert [result.spec is None for result in second] == [True] * len(first)  # all served from the cache
    assert [result.config for result in second] == [result.config for result in first]


def _forge_every_entry(cache: CompileCache, change) -> None:  # type: ignore[no-untyped-def]
    for entry in cache.folder.glob("*.json"):
        if not entry.name.startswith("index-"):
            stored = json.loads(entry.read_text())
            change(stored)
            entry.write_text(json.dumps(stored))


def _without_tasks(stored: dict) -> None:
    stored["config"]["d"] = [pair for pair in stored["config"]["d"] if pair[0] != "tasks"]


MALFORMED_ENTRIES = {
    "config_a_string": lambda stored: stored.update(config="not a configuration"),
    "config_a_list": lambda stored: stored.update(config={"l": [1, 2]}),
    "config_a_bare_list": lambda stored: stored.update(config=[["tasks", {}]]),
    "config_without_tasks": _without_tasks,
    "marker_outside_the_allow_list": lambda stored: stored["config"]["d"].append(
        ["default_args", {"c": "os.system", "a": ["true"], "k": []}]
    ),
}


@pytest.mark.parametrize("shape", MALFORMED_ENTRIES)
def test_a_malformed_entry_is_ignored_and_the_dags_equal_a_clean_build(
    shape: str, tmp_path: Path, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.airflow_compat import dagbag, graph

    dags = tmp_path / "dags"
    shutil.copytree(repo / "pipelines", dags / "pipelines")
    shutil.copy(repo / "dags" / "pipelines_loader.py", dags)
    monkeypatch.setenv("DAGEN_CACHE_DIR", str(tmp_path / "clean"))
    clean = dagbag(dags / "pipelines_loader.py")
    monkeypatch.setenv("DAGEN_CACHE_DIR", str(tmp_path / "forged"))
    dagbag(dags / "pipelines_loader.py")  # fills the cache
    cache = CompileCache.default()
    assert cache is not None
    _forge_every_entry(cache, MALFORMED_ENTRIES[shape])
    assert all(cache.get(entry.stem) is None for entry in cache.folder.glob("*.json") if len(entry.stem) == 64)

    bag = dagbag(dags / "pipelines_loader.py")

    assert bag.import_errors == {}
    assert sorted(bag.dag_ids) == sorted(clean.dag_ids)
    for dag_id in clean.dag_ids:
        assert (graph(bag.dags[dag_id]), bag.dags[dag_id].tags) == (graph(clean.dags[dag_id]), clean.dags[dag_id].tags)


def test_the_folder_is_used_through_the_descriptor_it_was_checked_on(specs: Path, tmp_path: Path) -> None:
    """Swapping the checked folder for a link to a folder of forged entries changes nothing."""
    folder = tmp_path / "cache"
    folder.mkdir(mode=0o700)
    cache = CompileCache(folder)
    compile_folder(specs, cache)
    keys = sorted(entry.stem for entry in folder.glob("*.json"))
    forged = tmp_path / "forged"
    forged.mkdir(mode=0o700)
    for key in keys:
        (forged / f"{key}.json").write_text('{"key": "", "dag_id": "hijacked", "config": {"d": []}}')
    folder.rename(tmp_path / "moved")
    folder.symlink_to(forged)

    assert {cache.get(key).dag_id for key in keys} == set(compile_folder(specs, CompileCache(tmp_path / "moved")))
    assert CompileCache(folder).get(keys[0]) is None  # a fresh cache refuses the link itself


def test_an_entry_that_is_a_link_is_not_followed(specs: Path, tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    folder.mkdir(mode=0o700)
    cache = CompileCache(folder)
    compile_folder(specs, cache)
    entry = sorted(folder.glob("*.json"))[0]
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_bytes(entry.read_bytes())
    entry.unlink()
    entry.symlink_to(elsewhere)
    assert cache.get(entry.stem) is None


TASKS = {"d": [["tasks", {"d": [["t", {"d": [["operator", "x.Y"]]}]]}]]}
DECODED_TASKS = {"tasks": {"t": {"operator": "x.Y"}}}
# A configuration as an entry stores it (envelopes) -> what the loader gets, or None: the entry is refused.
ENTRY_CONFIGS = {
    "values_of_every_kind": (
        {"d": [*TASKS["d"], ["v", {"l": [1, 2.5, None, True, "s", {"d": []}, {"l": []}]}]]},
        {**DECODED_TASKS, "v": [1, 2.5, None, True, "s", {}, []]},
    ),
    "an_allowed_marker": (
        {"d": [*TASKS["d"], ["t", {"c": "datetime.timedelta", "a": [], "k": [["seconds", 5]]}]]},
        {**DECODED_TASKS, "t": Constructed("datetime.timedelta", kwargs={"seconds": 5})},
    ),
    "user_keys_shaped_like_envelopes": (
        {"d": [*TASKS["d"], ["u", {"d": [["c", "x"], ["a", {"l": []}], ["k", {"d": []}]]}]]},
        {**DECODED_TASKS, "u": {"c": "x", "a": [], "k": {}}},
    ),
    "a_bare_list_in_a_list": ({"d": [*TASKS["d"], ["v", {"l": [[1]]}]]}, None),
    "a_bare_list_as_a_value": ({"d": [*TASKS["d"], ["v", [1]]]}, None),
    "a_pair_of_one": ({"d": [*TASKS["d"], ["v"]]}, None),
    "a_key_not_a_string": ({"d": [*TASKS["d"], [1, "v"]]}, None),
    "an_envelope_with_an_extra_key": ({"d": [*TASKS["d"], ["v", {"l": [], "x": 1}]]}, None),
    "a_plain_object_inside": ({"d": [*TASKS["d"], ["v", {"x": 1}]]}, None),
    "a_marker_with_bare_kwargs": (
        {"d": [*TASKS["d"], ["t", {"c": "datetime.timedelta", "a": [], "k": {"d": []}}]]},
        None,
    ),
    "a_marker_inside_a_marker_outside_the_list": (
        {"d": [*TASKS["d"], ["t", {"c": "datetime.timedelta", "a": [{"c": "os.system", "a": [], "k": []}], "k": []}]]},
        None,
    ),
    "no_tasks": ({"d": [["tasks", {"d": []}]]}, None),
}


@pytest.mark.parametrize("shape", ENTRY_CONFIGS)
def test_an_entry_is_read_back_exactly_or_refused(shape: str) -> None:
    stored, expected = ENTRY_CONFIGS[shape]
    raw = json.dumps({"key": "k", "dag_id": "d", "config": stored, "files": {"d": "sha"}}).encode()
    entry = compile_cache.parse_entry(raw)
    assert (entry.config if entry is not None else None) == expected
    if expected is not None:  # and what the encoder writes for it is what was stored
        assert compile_cache.encode_config(entry.config) == stored
