"""A cluster's identity is its DAG run's: a retried create adopts the run's live cluster, the teardown finds by tags.

The unit tests build a one-off spec exactly as the loader does (a fresh DAG for every try, as each try of a
task gets), render a task's templates for a run and execute it against the local AWS emulator (moto on
loopback, in this process) through the pipeline's own connection.  The last test is a real ``dagen run
--local`` whose ``create_etl`` loses the response of its first RunJobFlow.
"""

from __future__ import annotations

import json
import re
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from generator.compile.build import airflow_major, build_dag
from generator.compile.pipelines import process
from generator.core.provider_profile import installed_profile
from generator.local.emulator import DUMMY_KEY, LocalAws
from generator.runtime.emr_cluster import run_tag

RUN_ID = "scheduled__2024-01-01T00:00:00+00:00"
SPEC = """\
start_date: 2024-01-01
schedule: "@daily"
clusters:
  etl:
    release_label: emr-7.5.0
    instance_groups: {primary: {instance_type: m5.xlarge}}
    tags: {team: data}
  other:
    release_label: emr-7.5.0
    instance_groups: {primary: {instance_type: m5.xlarge}}
tasks:
  transform:
    type: emr_step
    cluster: etl
    spark: {script: "s3://scripts/transform.py"}
  report:
    type: emr_step
    cluster: other
    spark: {script: "s3://scripts/report.py"}
"""
# What EMR accepts as a tag value (the EMR Management Guide's tagging restrictions, ASCII part).
EMR_TAG_VALUE = re.compile(r"(?!aws:)[\w .:/=+\-@]{0,256}", re.IGNORECASE | re.ASCII)


def task_deferred() -> type[BaseException]:
    try:
        from airflow.sdk.exceptions import TaskDeferred  # Airflow 3
    except ImportError:
        from airflow.exceptions import TaskDeferred  # type: ignore[no-redef,attr-defined]  # Airflow 2
    return TaskDeferred  # type: ignore[no-any-return]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalAws]:
    """The emulator, empty; the pipeline's connection (aws_default) points at it."""
    with LocalAws() as emulator:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", DUMMY_KEY)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", DUMMY_KEY)
        monkeypatch.setenv("AWS_DEFAULT_REGION", emulator.region)  # some triggers drop region_name
        extra = {"endpoint_url": emulator.endpoint_url, "region_name": emulator.region}
        monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps({"conn_type": "aws", "extra": extra}))
        yield emulator


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "identity.yaml"
    path.write_text(SPEC, encoding="utf-8")
    return path


def one_try(
    spec: Path,
    task_id: str,
    *,
    run_id: str = RUN_ID,
    pushed: dict[str, str] | None = None,
    try_number: int = 1,
    max_tries: int = 2,
) -> Any:
    """``task_id`` of a freshly built DAG, its templates rendered for ``run_id``; returns (task, context).

    ``pushed`` is what each task returned to XCom in this run (a task missing from it pushed nothing).
    """
    (result,) = process([spec], profile=installed_profile(), airflow_major=airflow_major())
    assert result.config is not None, result.diagnostics
    dag = build_dag(result.dag_id, result.config)
    task = dag.get_task(task_id)
    ti = types.SimpleNamespace(
        dag_id=dag.dag_id,
        task_id=task_id,
        map_index=-1,
        try_number=try_number,
        max_tries=max_tries,
        xcom_push=lambda **_: None,  # operator links are stored through it
        xcom_pull=lambda task_ids, **_: (pushed or {}).get(task_ids),
    )
    context = {"dag": dag, "ti": ti, "task_instance": ti, "run_id": run_id, "params": {}}
    task.render_template_fields(context)
    return task, context


def awaited(deferred: Any) -> str:
    """The cluster a deferred task waits for, as its trigger is handed to the triggerer."""
    classpath, kwargs = deferred.trigger.serialize()
    assert classpath.startswith("airflow.providers.amazon.aws.triggers.emr.")  # the triggerer imports only these
    return str(kwargs["job_flow_id"])


def create(spec: Path, cluster: str = "etl", *, run_id: str = RUN_ID) -> str:
    """One try of ``create_<cluster>``: the id of the cluster it waits for (it defers, as compiled)."""
    task, context = one_try(spec, f"create_{cluster}", run_id=run_id)
    with pytest.raises(task_deferred()) as deferred:
        task.execute(context)
    assert deferred.value.method_name == "execute_complete"  # type: ignore[attr-defined]
    cluster_id = awaited(deferred.value)
    event = {"status": "success", "job_flow_id": cluster_id}
    assert task.execute_complete(context, event) == cluster_id  # what reaches XCom once the cluster is ready
    return cluster_id


def clusters(aws: LocalAws) -> dict[str, dict[str, Any]]:
    """Every cluster in the emulator: id -> state, name and tags."""
    emr = aws.client("emr")
    out = {}
    for summary in (item for page in emr.get_paginator("list_clusters").paginate() for item in page["Clusters"]):
        cluster = emr.describe_cluster(ClusterId=summary["Id"])["Cluster"]
        tags = {tag["Key"]: tag["Value"] for tag in cluster["Tags"]}
        out[summary["Id"]] = {"state": cluster["Status"]["State"], "name": cluster["Name"], "tags": tags}
    return out


def started_by_hand(aws: LocalAws, *, name: str, tags: dict[str, str]) -> str:
    """A cluster RunJobFlow started outside the operator (an orphan of an earlier try, another run's...)."""
    return str(
        aws.client("emr").run_job_flow(
            Name=name,
            ReleaseLabel="emr-7.5.0",
            Instances={
                "KeepJobFlowAliveWhenNoSteps": True,
                "InstanceGroups": [{"InstanceRole": "MASTER", "InstanceType": "m5.xlarge", "InstanceCount": 1}],
            },
            JobFlowRole="EMR_EC2_DefaultRole",
            ServiceRole="EMR_DefaultRole",
            Tags=[{"Key": key, "Value": value} for key, value in tags.items()],
        )["JobFlowId"]
    )


def identity(run_id: str = RUN_ID, cluster: str = "etl", dag_id: str = "identity") -> dict[str, str]:
    return {"dagen:dag-id": dag_id, "dagen:cluster": cluster, "dagen:run-id": run_id}


# ----------------------------------------------------------------------------- create


def test_first_try_creates_a_cluster_tagged_with_its_run(aws: LocalAws, spec: Path) -> None:
    cluster_id = create(spec)
    assert clusters(aws) == {
        cluster_id: {"state": "WAITING", "name": "identity-etl", "tags": {**identity(), "team": "data"}}
    }


def test_a_second_try_of_the_run_adopts_its_cluster(aws: LocalAws, spec: Path) -> None:
    first = create(spec)
    assert create(spec) == first
    assert list(clusters(aws)) == [first]  # RunJobFlow was not called again


@pytest.mark.parametrize(("try_number", "left"), [(2, "WAITING"), (3, "TERMINATED")])
def test_only_the_last_try_failing_terminates_the_runs_cluster(
    aws: LocalAws, spec: Path, try_number: int, left: str
) -> None:
    """A failed setup never runs its teardown: create's last try cleans up; an earlier one leaves it to adopt."""
    cluster_id = create(spec)
    task, context = one_try(spec, "create_etl", try_number=try_number, max_tries=2)
    with pytest.raises(Exception, match="cluster"):
        task.execute_complete(context, {"status": "failure", "message": "cluster never got ready"})
    assert clusters(aws)[cluster_id]["state"] == left


def test_another_run_or_another_cluster_gets_its_own(aws: LocalAws, spec: Path) -> None:
    first = create(spec)
    later_run = create(spec, run_id="scheduled__2024-01-02T00:00:00+00:00")
    other_cluster = create(spec, "other")
    assert len({first, later_run, other_cluster}) == 3
    seen = clusters(aws)
    assert seen[later_run]["tags"]["dagen:run-id"] == "scheduled__2024-01-02T00:00:00+00:00"
    assert (seen[other_cluster]["name"], seen[other_cluster]["tags"]["dagen:cluster"]) == ("identity-other", "other")


def test_only_a_live_cluster_with_the_name_and_all_three_tags_is_adopted(aws: LocalAws, spec: Path) -> None:
    not_ours = [
        started_by_hand(aws, name="identity-etl", tags=identity(dag_id="elsewhere")),
        started_by_hand(aws, name="identity-etl", tags=identity(cluster="other")),
        started_by_hand(aws, name="renamed", tags=identity()),
        started_by_hand(aws, name="identity-etl", tags={"dagen:dag-id": "identity", "dagen:cluster": "etl"}),
    ]
    gone = started_by_hand(aws, name="identity-etl", tags=identity())
    aws.client("emr").terminate_job_flows(JobFlowIds=[gone])
    created = create(spec)
    assert created not in [*not_ours, gone]
    newer = started_by_hand(aws, name="identity-etl", tags=identity())  # as if a race had made two
    assert create(spec) == created != newer  # of several, the oldest is adopted


def test_a_custom_run_id_emr_refuses_as_a_tag_is_tagged_and_adopted_by_its_rendering(aws: LocalAws, spec: Path) -> None:
    run_id = "backfill~2024 #1"
    first = create(spec, run_id=run_id)
    assert create(spec, run_id=run_id) == first
    (seen,) = clusters(aws).values()
    assert seen["tags"]["dagen:run-id"] == run_tag(run_id) != run_id
    assert EMR_TAG_VALUE.fullmatch(seen["tags"]["dagen:run-id"])


def test_the_compiled_pair_names_the_same_identity(tmp_path: Path) -> None:
    """Both tasks name the cluster by the same tags (a spec cannot set a ``dagen:`` tag: DG205, see the case
    ``dg205_reserved_cluster_tag``)."""
    from generator.compile.lower import lower

    path = tmp_path / "identity.yaml"
    path.write_text(SPEC, encoding="utf-8")
    (result,) = process([path], profile=installed_profile(), airflow_major=airflow_major())
    assert result.spec is not None, result.diagnostics
    tasks = {task.task_id: task for task in lower(result.spec, installed_profile()).tasks}
    request = tasks["create_etl"].kwargs["job_flow_overrides"]
    tags = {tag["Key"]: tag["Value"] for tag in request["Tags"]}
    assert tags == {**identity("{{ run_id }}"), "team": "data"}
    teardown = tasks["terminate_etl"]
    assert teardown.operator == "generator.runtime.emr_cluster.RetrySafeEmrTerminateJobFlowOperator"
    assert (teardown.kwargs["cluster_name"], teardown.kwargs["cluster_tags"]) == (
        request["Name"],
        identity("{{ run_id }}"),
    )


# ----------------------------------------------------------------------------- the run id as a tag value


@pytest.mark.parametrize(
    "run_id",
    [
        "scheduled__2024-01-01T00:00:00+00:00",
        "manual__2024-06-01T12:30:45.123456+00:00",
        "manual__2024-06-01T12:30:45.123456+00:00_aB3dE5fG",  # Airflow 3, no logical date
        "backfill__2024-01-01T00:00:00+00:00",
        "dataset_triggered__2024-01-01T00:00:00+00:00",
        "asset_triggered__2024-01-01T00:00:00+00:00",
        "asset_materialization__2024-01-01T00:00:00+00:00",
        "operator_triggered__2024-01-01T00:00:00+00:00",
    ],
)
def test_every_run_id_airflow_makes_is_its_own_tag_value(run_id: str) -> None:
    assert run_tag(run_id) == run_id and EMR_TAG_VALUE.fullmatch(run_id)


def test_the_run_ids_airflow_makes_now_are_valid_tag_values() -> None:
    from datetime import datetime, timezone

    from airflow.models.dagrun import DagRun
    from airflow.utils.types import DagRunType

    when = datetime(2024, 6, 1, 12, 30, 45, 123456, tzinfo=timezone.utc)
    for run_type in DagRunType:
        if airflow_major() >= 3:
            made = [
                DagRun.generate_run_id(run_type=run_type, logical_date=when, run_after=when),
                DagRun.generate_run_id(run_type=run_type, logical_date=None, run_after=when),
            ]
        else:
            made = [DagRun.generate_run_id(run_type, when)]
        for run_id in made:
            assert run_tag(run_id) == run_id and EMR_TAG_VALUE.fullmatch(run_id), run_id


@pytest.mark.parametrize(
    "run_id", ["nightly~rerun", "x" * 250, "~" * 250, "aws:rerun", "AWS:rerun", "café run", "a\tb", "a\nb"]
)
def test_a_custom_run_id_becomes_a_valid_tag_value_that_stays_distinct(run_id: str) -> None:
    value = run_tag(run_id)
    assert EMR_TAG_VALUE.fullmatch(value) and len(value) <= 256
    assert run_tag(run_id) == value  # the same on every try and in the teardown
    assert run_tag(value) == value  # already a valid value: kept
    assert run_tag(run_id + "!") != value


# ----------------------------------------------------------------------------- terminate


def terminate(spec: Path, *, pushed: dict[str, str], cluster: str = "etl") -> str | None:
    """One try of ``terminate_<cluster>``: the id it waits for (it defers), or None when it had nothing to do."""
    task, context = one_try(spec, f"terminate_{cluster}", pushed=pushed)
    try:
        assert task.execute(context) is None
    except task_deferred() as deferred:
        return awaited(deferred)
    return None


def test_teardown_terminates_the_xcomd_cluster_and_the_orphan_of_an_earlier_try_only(aws: LocalAws, spec: Path) -> None:
    orphan = started_by_hand(aws, name="identity-etl", tags=identity())  # try 1: RunJobFlow, then lost
    pushed = create(spec)
    assert pushed == orphan  # try 2 adopted it...
    created = started_by_hand(aws, name="identity-etl", tags=identity())  # ...so make a second one by hand
    others = {
        started_by_hand(aws, name="identity-etl", tags=identity(run_id="scheduled__2024-01-02T00:00:00+00:00")),
        started_by_hand(aws, name="identity-other", tags=identity(cluster="other")),
        started_by_hand(aws, name="identity-etl", tags=identity(dag_id="elsewhere")),
    }
    assert terminate(spec, pushed={"create_etl": created}) == created  # the XCom'd one is awaited
    states = {cluster_id: seen["state"] for cluster_id, seen in clusters(aws).items()}
    assert {cluster_id for cluster_id, state in states.items() if state == "TERMINATED"} == {orphan, created}
    assert {states[cluster_id] for cluster_id in others} == {"WAITING"}


def test_teardown_without_an_xcom_terminates_the_runs_clusters(aws: LocalAws, spec: Path) -> None:
    created = create(spec)  # its XCom never got written (the worker died before)
    assert terminate(spec, pushed={}) == created
    assert clusters(aws)[created]["state"] == "TERMINATED"


def test_teardown_reads_every_page_of_clusters(aws: LocalAws, spec: Path) -> None:
    # ListClusters answers 50 clusters a page: 51 of the run's cannot all be on the first.
    orphans = {started_by_hand(aws, name="identity-etl", tags=identity()) for _ in range(51)}
    assert terminate(spec, pushed={}) in orphans
    assert {seen["state"] for seen in clusters(aws).values()} == {"TERMINATED"}


def test_teardown_with_nothing_to_find_succeeds(aws: LocalAws, spec: Path) -> None:
    bystander = started_by_hand(aws, name="identity-etl", tags=identity(run_id="manual__2024-01-01"))
    assert terminate(spec, pushed={}) is None  # the run's create failed before RunJobFlow
    assert clusters(aws)[bystander]["state"] == "WAITING"


# ----------------------------------------------------------------------------- what IAM may refuse


def stubbed_emr() -> Any:
    """A real boto3 EMR client answering from botocore's Stubber: the emulator enforces no IAM."""
    import boto3
    from botocore.stub import Stubber

    emr = boto3.client("emr", region_name="us-east-1", aws_access_key_id=DUMMY_KEY, aws_secret_access_key=DUMMY_KEY)
    return emr, Stubber(emr)


def test_a_same_named_cluster_of_another_dag_the_role_may_not_describe_is_skipped() -> None:
    from generator.runtime.emr_cluster import LIVE_STATES, live_clusters

    emr, stub = stubbed_emr()
    summaries = [{"Id": "j-THEIRS", "Name": "identity-etl"}, {"Id": "j-OURS", "Name": "identity-etl"}]
    stub.add_response("list_clusters", {"Clusters": summaries}, {"ClusterStates": list(LIVE_STATES)})
    stub.add_client_error("describe_cluster", "AccessDeniedException", http_status_code=400)
    ours = {"Id": "j-OURS", "Name": "identity-etl", "Status": {"State": "WAITING"}}
    ours["Tags"] = [{"Key": key, "Value": value} for key, value in identity().items()]
    stub.add_response("describe_cluster", {"Cluster": ours}, {"ClusterId": "j-OURS"})
    with stub:
        assert live_clusters(emr, name="identity-etl", tags=identity()) == ["j-OURS"]
    stub.assert_no_pending_responses()


def test_a_role_that_may_not_list_clusters_keeps_the_provider_behaviour() -> None:
    from generator.runtime.emr_cluster import _live_clusters_or_none

    emr, stub = stubbed_emr()
    stub.add_client_error("list_clusters", "AccessDeniedException", http_status_code=400)
    warnings: list[str] = []
    log = types.SimpleNamespace(warning=lambda message, *args: warnings.append(message % args))
    with stub:
        assert _live_clusters_or_none(emr, log, name="identity-etl", tags=identity()) is None
    assert warnings and "grant what `dagen iam` lists" in warnings[0]
    stub.add_client_error("list_clusters", "ThrottlingException", http_status_code=400)
    with stub, pytest.raises(Exception, match="ThrottlingException"):
        _live_clusters_or_none(emr, log, name="identity-etl", tags=identity())  # anything else fails the try


# ----------------------------------------------------------------------------- a real local run


def test_a_create_whose_first_response_is_lost_costs_no_second_cluster(
    repo: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    from generator.local.command import run_local

    cache = request.config.cache
    assert cache is not None
    monkeypatch.setenv("DAGEN_CACHE_DIR", str(cache.mkdir("dagen-local-run")))  # the migrated Airflow DB
    monkeypatch.chdir(repo)
    outcome = run_local("pipelines/salary_batch_etl.yaml", flaky=["create_etl"])
    assert outcome.exit_code == 0, outcome.output
    report = outcome.report
    assert report is not None
    rows = {row["task_id"]: row for row in report["tasks"]}
    assert (rows["create_etl"]["state"], rows["create_etl"]["try_number"]) == ("success", 2)
    assert report["lost_responses"] == [["create_etl", "run_job_flow"]]
    (cluster,) = report["emulator"]["clusters"]  # try 2 adopted what try 1 started
    assert (cluster["state"], cluster["origin"]) == ("TERMINATED", "create_etl")
    assert {step["cluster"] for step in report["emulator"]["steps"]} == {cluster["id"]}
    assert {row["state"] for row in rows.values()} == {"success"}
