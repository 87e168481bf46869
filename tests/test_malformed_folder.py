"""A folder of malformed specs beside the seeds: every seed DAG stays, each malformed spec is one placeholder.

One file per way a spec was seen to take a whole DAGs folder down (or to pass
`dagen validate` and fail to build): each must give exactly one placeholder DAG
whose documentation shows its located diagnostic, with zero import errors (the
DagBag enforces the import timeout, so zero also means within it), in both lanes.
A spec that claims a seed's DAG id leaves the seed's DAG as it was.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from generator.loader.airflow_loader import BROKEN_TAG
from tests.airflow_compat import dagbag, graph

HEAD = 'start_date: 2024-01-01\nschedule: "@daily"\n'
TASK = "  run:\n    type: lambda_invoke\n    function_name: nightly\n"
TASKS = "tasks:\n" + TASK
CLUSTER = (
    "clusters:\n  etl:\n    release_label: emr-7.5.0\n{extra}    instance_groups:\n"
    "      primary: {{instance_type: m5.xlarge}}\n"
    "tasks:\n  step:\n    type: emr_step\n    cluster: etl\n    command: [echo, done]\n"
)


def _chain(count: int) -> str:
    return "tasks:\n" + "".join(
        f"  t{n}:\n    type: lambda_invoke\n    function_name: f\n" + (f"    depends_on: [t{n - 1}]\n" if n else "")
        for n in range(count)
    )


def _bomb() -> str:
    lines = ["x-lol:", "  - &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"  - &l{n} [{', '.join([f'*l{n - 1}'] * 10)}]" for n in range(1, 9)]
    return HEAD + "\n".join(lines) + "\n" + TASKS


# file name -> (its content, the code its placeholder reports)
MALFORMED: dict[str, tuple[str, str]] = {
    "salary batch etl (copy).yaml": (HEAD + TASKS, "DG412"),
    "tag_too_long.yaml": (HEAD + f"tags: [{'t' * 101}]\n" + TASKS, "DG207"),
    "max_active_runs_float.yaml": (HEAD + "max_active_runs: 2.0\n" + TASKS, "DG203"),
    "task_id_too_long.yaml": (
        HEAD + f"groups:\n  {'g' * 100}: {{}}\ntasks:\n  {'t' * 160}:\n    group: {'g' * 100}\n"
        "    type: lambda_invoke\n    function_name: f\n",
        "DG309",
    ),
    "cron_never_fires.yaml": ('start_date: 2024-01-01\nschedule: "0 0 31 2 *"\n' + TASKS, "DG401"),
    "start_year_1.yaml": ('start_date: 0001-01-01\nschedule: "@daily"\n' + TASKS, "DG407"),
    "start_year_9999.yaml": ('start_date: 9999-12-31\nschedule: "@daily"\n' + TASKS, "DG407"),
    "timezone_offset.yaml": (HEAD + 'timezone: "+02:00"\n' + TASKS, "DG204"),
    "timezone_region.yaml": (HEAD + "timezone: America\n" + TASKS, "DG204"),
    "continuous_parallel_runs.yaml": (
        'start_date: 2024-01-01\nschedule: "@continuous"\nmax_active_runs: 2\n' + TASKS,
        "DG413",
    ),
    "task_id_bool.yaml": (HEAD + "tasks:\n  yes:\n    type: lambda_invoke\n    function_name: f\n", "DG110"),
    "task_id_int.yaml": (HEAD + "tasks:\n  123:\n    type: lambda_invoke\n    function_name: f\n", "DG110"),
    "task_id_float.yaml": (HEAD + "tasks:\n  1.5:\n    type: lambda_invoke\n    function_name: f\n", "DG110"),
    "huge_execution_timeout.yaml": (HEAD + TASKS + "    execution_timeout: 99999999999999999d\n", "DG206"),
    "complex_key.yaml": (HEAD + "? [a, b]\n: c\n" + TASKS, "DG101"),
    "nesting_10000_deep.yaml": (HEAD + "description: " + "[" * 10_000 + "]" * 10_000 + "\n" + TASKS, "DG109"),
    "recursive_alias.yaml": (HEAD + "params:\n  p:\n    default: &p [*p]\n" + TASKS, "DG109"),
    "alias_bomb.yaml": (_bomb(), "DG109"),
    "poll_interval_zero.yaml": (HEAD + "task_defaults: {poll_interval: 0s}\n" + CLUSTER.format(extra=""), "DG206"),
    "idle_timeout_float.yaml": (HEAD + CLUSTER.format(extra="    idle_timeout: 2.0\n"), "DG203"),
    "chain_of_5000_tasks.yaml": (HEAD + _chain(5000), "DG207"),
    "yaml_1_1_boolean.yaml": (HEAD + "catchup: yes\n" + TASKS, "DG110"),
    "base_60_retries.yaml": (HEAD + TASKS + "    retries: 1:30\n", "DG110"),
    "control_character.yaml": (HEAD + "description: a\x07b\n" + TASKS, "DG101"),
    "merge_key_smuggling.yaml": (
        HEAD + "params:\n  p:\n    default:\n      <<: {__type__: airflow.sdk.AsyncCallback, __args__: [x]}\n" + TASKS,
        "DG105",
    ),
    "fifo_query_file.yaml": (
        HEAD + "tasks:\n  q:\n    type: athena_query\n    query_file: fifo.sql\n    database: d\n"
        "    output_location: s3://results/athena/\n",
        "DG107",
    ),
    # a second file with a seed's stem, and a spec that sorts first and claims a seed's DAG id
    "salary_batch_etl.yaml": (HEAD + TASKS, "DG406"),
    "a_hijacker.yaml": ("dag_id: movielens_emr_step_functions\n" + HEAD + TASKS, "DG406"),
}
NOT_UTF8 = "not_utf8.yaml"  # bytes, not text
MADE = {"fifo_spec.yaml": "DG106", "urandom.yaml": "DG106", "params_50_MB.yaml": "DG108", NOT_UTF8: "DG106"}


def _write_malformed(folder: Path) -> None:
    folder.mkdir()
    for name, (text, _) in MALFORMED.items():
        (folder / name).write_text(text, encoding="utf-8")
    os.mkfifo(folder / "fifo.sql")
    os.mkfifo(folder / "fifo_spec.yaml")
    (folder / "urandom.yaml").symlink_to("/dev/urandom")
    with open(folder / "params_50_MB.yaml", "wb") as handle:
        handle.write(HEAD.encode() + b"params:\n  blob:\n    default: ")
        handle.truncate(50 * 1024 * 1024)
    (folder / NOT_UTF8).write_bytes(HEAD.encode() + b"description: caf\xe9\n" + TASKS.encode())


@pytest.fixture
def dags(tmp_path: Path, repo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "dags"
    shutil.copytree(repo / "pipelines", folder / "pipelines")
    shutil.copy(repo / "dags" / "pipelines_loader.py", folder)
    monkeypatch.setenv("DAGEN_CACHE_DIR", str(tmp_path / "cache"))
    return folder


def test_malformed_specs_beside_the_seeds(dags: Path) -> None:
    seeds = dagbag(dags / "pipelines_loader.py")
    assert seeds.import_errors == {} and len(seeds.dag_ids) == 3
    _write_malformed(dags / "pipelines" / "malformed")

    bag = dagbag(dags / "pipelines_loader.py")

    assert bag.import_errors == {}
    for dag_id in seeds.dag_ids:  # every seed DAG intact, the hijacked one included
        before, after = seeds.dags[dag_id], bag.dags[dag_id]
        assert (graph(after), after.tags, after.doc_md) == (graph(before), before.tags, before.doc_md)
    placeholders = {dag_id: dag for dag_id, dag in bag.dags.items() if dag_id not in seeds.dag_ids}
    assert all(set(dag.tags) == {BROKEN_TAG} for dag in placeholders.values())
    expected = {name: code for name, (_, code) in MALFORMED.items()} | MADE
    found = {}
    for dag in placeholders.values():
        line = next(line for line in dag.doc_md.splitlines() if line.startswith("pipelines/malformed/"))
        found[line.split(":", 1)[0].removeprefix("pipelines/malformed/")] = line.split(": ", 1)[1].split()[0]
    assert found == expected
