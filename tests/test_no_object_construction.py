"""No path from a spec constructs a Python object: merge keys, anchors, the compile cache, compile output.

A canary module on ``sys.path`` records its import; specs and cache entries try every route to it,
cold and warm.  The loader refuses the spec (DG105), the cache restores only its own envelope and
allow-list, and ``dagen compile`` never writes user data as a dag-factory marker.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from generator.cli import main as dagen
from generator.compile.build import airflow_major
from generator.compile.cache import CompileCache
from generator.compile.dagfactory_config import to_dagfactory_yaml
from generator.compile.pipelines import process
from generator.core.provider_profile import installed_profile
from tests.airflow_compat import dagbag

CANARY = """\
import os, pathlib
pathlib.Path(os.environ["DAGEN_CANARY"]).write_text("imported")


class Boom:
    def __init__(self, *args, **kwargs):
        pathlib.Path(os.environ["DAGEN_CANARY"]).write_text("constructed")


def doc(*args, **kwargs):
    Boom()
"""

SMUGGLED = """\
start_date: 2024-01-01
schedule: "@daily"
params:
  doc:
    default:
      <<: {__type__: airflow.sdk.AsyncCallback, __args__: [dagen_canary.doc]}
    type: object
tasks:
  run:
    type: step_function
    state_machine_arn: arn:aws:states:us-east-1:123456789012:stateMachine:curate
"""
ANCHORED = """\
x-payload: &payload {__type__: dagen_canary.Boom}
start_date: 2024-01-01
schedule: "@daily"
tasks:
  run:
    type: step_function
    state_machine_arn: arn:aws:states:us-east-1:123456789012:stateMachine:curate
    input:
      <<: [{a: 1}, *payload]
"""
NESTED = """\
start_date: 2024-01-01
schedule: "@daily"
tasks:
  run:
    type: step_function
    state_machine_arn: arn:aws:states:us-east-1:123456789012:stateMachine:curate
    input:
      deep: &deep {<<: {inner: {__args__: [dagen_canary.doc]}}}
      payload: {<<: *deep}
"""


@pytest.fixture
def canary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "dagen_canary.py").write_text(CANARY, encoding="utf-8")
    marker = tmp_path / "canary-fired"
    monkeypatch.setenv("DAGEN_CANARY", str(marker))
    monkeypatch.syspath_prepend(str(modules))
    monkeypatch.setenv("DAGEN_CACHE_DIR", str(tmp_path / "cache"))
    yield marker
    sys.modules.pop("dagen_canary", None)


def bundle(tmp_path: Path, repo: Path) -> Path:
    dags = tmp_path / "dags"
    (dags / "pipelines").mkdir(parents=True)
    shutil.copy(repo / "dags" / "pipelines_loader.py", dags)
    shutil.copy(repo / "pipelines" / "salary_batch_etl.yaml", dags / "pipelines")
    for name, text in {"smuggled": SMUGGLED, "anchored": ANCHORED, "nested": NESTED}.items():
        (dags / "pipelines" / f"{name}.yaml").write_text(text, encoding="utf-8")
    return dags


@pytest.mark.parametrize("parse", ["cold", "warm"])
def test_smuggled_markers_never_import_the_canary(canary: Path, tmp_path: Path, repo: Path, parse: str) -> None:
    dags = bundle(tmp_path, repo)
    bags = [dagbag(dags) for _ in range(1 if parse == "cold" else 2)]
    bag = bags[-1]
    assert not canary.exists() and "dagen_canary" not in sys.modules
    assert bag.import_errors == {}
    expected = {
        "smuggled": "pipelines/smuggled.yaml:6:12: DG105 key '__type__' is not allowed",
        "anchored": "pipelines/anchored.yaml:1:22: DG105 key '__type__' is not allowed",
        "nested": "pipelines/nested.yaml:8:33: DG105 key '__args__' is not allowed",
    }
    for dag_id, text in expected.items():
        assert text in bag.dags[dag_id].doc_md, dag_id
    assert "create_etl" in bag.dags["salary_batch_etl"].task_ids


def test_compile_refuses_the_smuggled_spec(canary: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "smuggled.yaml"
    spec.write_text(SMUGGLED, encoding="utf-8")
    output = tmp_path / "compiled.yaml"
    assert dagen(["compile", str(spec), "-o", str(output)]) == 1
    assert "smuggled.yaml:6:12: DG105 key '__type__' is not allowed" in capsys.readouterr().out
    assert not output.exists() and not canary.exists()


def test_compile_output_never_writes_user_data_as_a_marker() -> None:
    config = {"tasks": {"run": {"operator": "x.Y", "input": {"__type__": "dagen_canary.Boom"}}}}
    with pytest.raises(ValueError, match="only the compiler writes dag-factory markers"):
        to_dagfactory_yaml({"forged": config})


def _entries(cache: CompileCache) -> list[Path]:
    return sorted(path for path in cache.folder.glob("*.json") if not path.name.startswith("index-"))


def _served_with_description(tmp_path: Path, repo: Path, description: object) -> tuple[Path, list]:
    """The seed salary spec compiled into the cache, its entry's description replaced, then processed again."""
    dags = bundle(tmp_path, repo)
    for name in ("smuggled", "anchored", "nested"):
        (dags / "pipelines" / f"{name}.yaml").unlink()
    dagbag(dags)
    cache = CompileCache.default()
    assert cache is not None
    [entry] = _entries(cache)
    stored = json.loads(entry.read_text())
    pairs = dict(stored["config"]["d"])
    pairs["description"] = description
    stored["config"]["d"] = [[key, value] for key, value in pairs.items()]
    entry.write_text(json.dumps(stored))
    results = process(
        [dags / "pipelines"], profile=installed_profile(), airflow_major=airflow_major(), root=dags, cache=cache
    )
    return dags, results


def test_a_marker_shaped_user_value_in_the_cache_stays_user_data(canary: Path, tmp_path: Path, repo: Path) -> None:
    """User data travels inside the envelope: a `__type__` key there is a plain key of a plain mapping."""
    description = {"d": [["__type__", "dagen_canary.Boom"], ["__args__", {"l": []}]]}
    dags, results = _served_with_description(tmp_path, repo, description)
    assert results[0].spec is None  # served from the cache
    assert results[0].config["description"] == {"__type__": "dagen_canary.Boom", "__args__": []}
    bag = dagbag(dags)
    assert bag.import_errors == {}
    assert not canary.exists() and "dagen_canary" not in sys.modules


@pytest.mark.parametrize(
    "forged",
    [
        {"c": "dagen_canary.Boom", "a": [], "k": []},  # a marker outside the allow-list
        {"__type__": "dagen_canary.Boom", "__args__": []},  # the old marker form: not an envelope
        {"l": [{"c": "dagen_canary.Boom", "a": [], "k": []}]},
    ],
    ids=["unlisted_marker", "bare_type_key", "nested_marker"],
)
def test_forged_cache_entries_are_ignored_and_recompiled(
    canary: Path, tmp_path: Path, repo: Path, forged: dict
) -> None:
    _, results = _served_with_description(tmp_path, repo, forged)
    assert results[0].spec is not None  # compiled again, the entry refused
    assert isinstance(results[0].config["description"], str)
    assert not canary.exists() and "dagen_canary" not in sys.modules
