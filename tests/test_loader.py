"""The single loader file under MWAA conditions: isolation, visibility, no network, no Variables."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest

from generator.compile.build import airflow_major
from generator.compile.pipelines import process
from generator.core.provider_profile import installed_profile
from generator.loader.airflow_loader import BROKEN_TAG, build_or_diagnose
from tests.airflow_compat import dagbag

SEEDS = ["emr_notebook_best_sellers", "movielens_emr_step_functions", "salary_batch_etl"]
BROKEN_SPEC = """\
start_date: 2024-01-01
schedule: "@daily"
tasks:
  crawl:
    type: glue_crawler
    crawler_nme: raw
"""


def bundle(tmp_path: Path, repo: Path, extra: dict[str, str]) -> Path:
    """A DAGs folder laid out as MWAA sees it: the loader, the package and pipelines/ side by side."""
    dags = tmp_path / "dags"
    dags.mkdir()
    shutil.copy(repo / "dags" / "pipelines_loader.py", dags)
    shutil.copytree(repo / "pipelines", dags / "pipelines")
    for name, text in extra.items():
        (dags / "pipelines" / name).write_text(text, encoding="utf-8")
    return dags


def test_one_broken_spec_hides_nothing_and_is_visible(tmp_path: Path, repo: Path) -> None:
    bag = dagbag(bundle(tmp_path, repo, {"broken_crawl.yaml": BROKEN_SPEC}))
    assert bag.import_errors == {}
    assert sorted(bag.dag_ids) == [
        "broken_crawl",
        "emr_notebook_best_sellers",
        "movielens_emr_step_functions",
        "salary_batch_etl",
    ]
    good = [bag.dags[dag_id] for dag_id in bag.dag_ids if dag_id != "broken_crawl"]
    assert all(BROKEN_TAG not in dag.tags for dag in good)

    broken = bag.dags["broken_crawl"]
    expected = (
        "pipelines/broken_crawl.yaml:6:5: DG201 unknown key 'crawler_nme' in tasks.crawl\n"
        "    hint: did you mean 'crawler_name'?"
    )
    assert BROKEN_TAG in broken.tags
    assert expected in broken.doc_md
    assert broken.description == "INVALID SPEC: DG201 unknown key 'crawler_nme' in tasks.crawl"
    assert [task.task_id for task in broken.tasks] == ["invalid_spec"]
    assert broken.is_paused_upon_creation is True
    assert broken.timetable.__class__.__name__ == "NullTimetable"
    with pytest.raises(ValueError) as failure:
        broken.get_task("invalid_spec").execute(context={})
    assert expected in str(failure.value)


def testbuild_or_diagnose_failure_becomes_a_placeholder_diagnostic(repo: Path) -> None:
    """DG601: if Airflow/dag-factory refuse a compiled pipeline, the spec gets a diagnostic, not a crash."""
    result = process(
        [repo / "pipelines" / "salary_batch_etl.yaml"],
        profile=installed_profile(),
        airflow_major=airflow_major(),
        root=repo,
    )[0]
    assert result.config is not None
    result.config["tasks"]["average_salaries"]["operator"] = "airflow.providers.amazon.aws.operators.emr.NoSuch"
    assert build_or_diagnose(result) is None
    assert [(d.code, d.file) for d in result.diagnostics] == [("DG601", "pipelines/salary_batch_etl.yaml")]
    assert "NoSuch" in result.diagnostics[0].message


def test_parsing_opens_no_socket_and_reads_no_variable(
    tmp_path: Path, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[str] = []

    def refuse(kind: str):
        def record(*args, **kwargs):
            attempts.append(f"{kind} {args[1:] if kind == 'connect' else args}")
            raise OSError("network access during DAG parsing")

        return record

    monkeypatch.setattr(socket.socket, "connect", refuse("connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("connect_ex"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
    monkeypatch.setattr(socket, "create_connection", refuse("create_connection"))
    variable_classes = []
    for module, name in (("airflow.models.variable", "Variable"), ("airflow.sdk", "Variable")):
        try:
            variable_classes.append(getattr(__import__(module, fromlist=[name]), name))
        except (ImportError, AttributeError):
            continue
    assert variable_classes
    for cls in variable_classes:
        monkeypatch.setattr(cls, "get", classmethod(lambda cls, *a, **k: attempts.append(f"Variable.get {a}")))

    bag = dagbag(bundle(tmp_path, repo, {}))

    assert bag.import_errors == {}
    assert len(bag.dag_ids) == 3
    assert attempts == []


class Detonator:
    """Would record its construction if a spec could make dag-factory build it."""

    built: list[str] = []

    def __init__(self, *args, **kwargs) -> None:
        Detonator.built.append("constructed")


def test_spec_cannot_construct_python_objects(tmp_path: Path, repo: Path) -> None:
    spec = """\
start_date: 2024-01-01
tasks:
  run:
    type: step_function
    state_machine_arn: arn:aws:states:us-east-1:123456789012:stateMachine:curate
    input:
      x: {__type__: tests.test_loader.Detonator}
"""
    tagged = spec.replace("{__type__: tests.test_loader.Detonator}", "!!python/object:tests.test_loader.Detonator {}")
    bag = dagbag(bundle(tmp_path, repo, {"typed.yaml": spec, "tagged.yaml": tagged}))
    assert Detonator.built == []
    assert "DG105 key '__type__' is not allowed" in bag.dags["typed"].doc_md
    assert "DG103 YAML tag '!!python/object:tests.test_loader.Detonator' is not allowed" in bag.dags["tagged"].doc_md


def test_a_copied_file_name_shows_its_error_and_hides_nothing(tmp_path: Path, repo: Path) -> None:
    """`salary batch etl (copy).yaml` (a file browser's duplicate) cannot name a DAG: DG412, under a safe id."""
    copy = (repo / "pipelines" / "salary_batch_etl.yaml").read_text()
    bag = dagbag(bundle(tmp_path, repo, {"salary batch etl (copy).yaml": copy}))
    assert bag.import_errors == {}
    placeholder_id = "dagen_invalid__pipelines_salary_batch_etl__copy_.yaml"
    assert sorted(bag.dag_ids) == sorted([*SEEDS, placeholder_id])
    assert "DG412 the file name 'salary batch etl (copy).yaml' does not give a valid DAG id" in (
        bag.dags[placeholder_id].doc_md
    )


@pytest.mark.parametrize(
    ("spec_owner", "defaults_owner", "expected"),
    [
        ("owner: ml-team\n", "owner: data-platform\n", "ml-team"),  # the spec's own owner wins
        ("", "owner: data-platform\n", "data-platform"),  # else its folder's defaults.yaml
        ("owner: [not, a, string]\n", "owner: data-platform\n", "data-platform"),  # not a string: not an owner
        ("owner: 42\n", "tags: [x]\n", "airflow"),  # no owner anywhere: Airflow's default
        ('owner: ""\n', "owner: {team: x}\n", "airflow"),
    ],
)
def test_the_placeholder_is_owned_as_its_spec_asks(
    tmp_path: Path, repo: Path, spec_owner: str, defaults_owner: str, expected: str
) -> None:
    dags = bundle(tmp_path, repo, {"broken_crawl.yaml": spec_owner + BROKEN_SPEC})
    (dags / "pipelines" / "defaults.yaml").write_text(defaults_owner, encoding="utf-8")
    bag = dagbag(dags)
    broken = bag.dags["broken_crawl"]
    assert BROKEN_TAG in broken.tags
    assert broken.owner == expected
    assert broken.get_task("invalid_spec").owner == expected


def test_the_placeholder_of_unparsable_yaml_takes_the_defaults_owner(tmp_path: Path, repo: Path) -> None:
    """A spec whose YAML does not parse has no owner to read; its folder's defaults.yaml still names one."""
    bag = dagbag(bundle(tmp_path, repo, {"broken_yaml.yaml": "owner: ml-team\ntasks: [unclosed\n"}))
    assert bag.dags["broken_yaml"].owner == "data-platform"
