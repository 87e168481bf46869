"""The Amazon provider's example DAGs re-expressed as dagen specs, in ``tests/provider_examples/`` (both lanes).

Each spec names, in its header comment, the provider system test it re-expresses and what it leaves out (the
system-test scaffolding, fixtures a pipeline does not create).  Every spec validates with no diagnostic, builds
the golden graph in ``tests/expected/graphs/provider_examples/`` (``DAGEN_UPDATE_GOLDEN=1`` writes them on the
Airflow 3 lane), the folder loads in one DagBag, and a real local run of each ends green with exact task states;
an example with a cleanup or teardown also runs with a work task failing, and ends FAILED with its cleanup done.

A spec uses ``type: operator`` only where no typed task type exists; :data:`OPERATOR_USES` lists every such use
(example -> task -> operator, and why), and a test checks it equals the specs' ``operator`` tasks.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator.compile.build import airflow_major
from generator.compile.pipelines import process
from generator.core.provider_profile import installed_profile
from tests.airflow_compat import dagbag, graph
from tests.test_local_run import REPO, emulator, local_runs, monkeypatch_module, states  # noqa: F401 - a fixture
from tests.test_operator_contract import DAG_FACTORY_KEYS, accepted_keywords, operator_class

FOLDER = REPO / "tests" / "provider_examples"
GOLDEN = REPO / "tests" / "expected" / "graphs" / "provider_examples"  # DAGEN_UPDATE_GOLDEN=1 writes them

S3_OPERATORS = "airflow.providers.amazon.aws.operators.s3"
NO_BUCKET_DELETE = "no typed type deletes a bucket (s3_delete removes objects, never the bucket)"
NO_OBJECT_PUT = "no typed type puts an object with inline data"
REDSHIFT_OPERATORS = "airflow.providers.amazon.aws.operators.redshift_cluster"
EMR_OPERATORS = "airflow.providers.amazon.aws.operators.emr"
NO_BUCKET_TAGGING = "no typed type puts, reads or deletes bucket tags"
NO_REDSHIFT_CLUSTER = (
    "the snapshot, pause and resume tasks (operators) name the cluster: a `kind: redshift` cluster's identifier "
    "is derived from the DAG id, and its teardown would not wait for tasks that are not on it"
)

EXAMPLES = [
    "example_emr_eks",
    "example_emr_serverless",
    "example_glue",
    "example_glue_data_quality",
    "example_lambda",
    "example_sns",
    "example_step_functions",
    "example_s3",
    "example_athena",
    "example_redshift_s3_transfers",
    "example_redshift",
    "example_emr",
    "example_emr_job_flow_manual_steps",
    "example_emr_job_flow_automatic_steps",
    "example_emr_notebook_execution",
]

# (example, task) -> (operator, why no typed type does it)
OPERATOR_USES: dict[tuple[str, str], tuple[str, str]] = {
    ("example_emr_serverless", "delete_s3_bucket"): (f"{S3_OPERATORS}.S3DeleteBucketOperator", NO_BUCKET_DELETE),
    ("example_emr_eks", "upload_s3_file"): (f"{S3_OPERATORS}.S3CreateObjectOperator", NO_OBJECT_PUT),
    ("example_emr_eks", "delete_bucket"): (f"{S3_OPERATORS}.S3DeleteBucketOperator", NO_BUCKET_DELETE),
    ("example_glue", "upload_csv"): (f"{S3_OPERATORS}.S3CreateObjectOperator", NO_OBJECT_PUT),
    ("example_glue", "upload_script"): (f"{S3_OPERATORS}.S3CreateObjectOperator", NO_OBJECT_PUT),
    ("example_glue", "delete_bucket"): (f"{S3_OPERATORS}.S3DeleteBucketOperator", NO_BUCKET_DELETE),
    ("example_glue_data_quality", "upload_sample_data"): (f"{S3_OPERATORS}.S3CreateObjectOperator", NO_OBJECT_PUT),
    ("example_glue_data_quality", "delete_s3_bucket"): (f"{S3_OPERATORS}.S3DeleteBucketOperator", NO_BUCKET_DELETE),
    ("example_s3", "put_tagging"): (f"{S3_OPERATORS}.S3PutBucketTaggingOperator", NO_BUCKET_TAGGING),
    ("example_s3", "get_tagging"): (f"{S3_OPERATORS}.S3GetBucketTaggingOperator", NO_BUCKET_TAGGING),
    ("example_s3", "delete_tagging"): (f"{S3_OPERATORS}.S3DeleteBucketTaggingOperator", NO_BUCKET_TAGGING),
    ("example_s3", "create_object"): (f"{S3_OPERATORS}.S3CreateObjectOperator", NO_OBJECT_PUT),
    ("example_s3", "create_object_2"): (f"{S3_OPERATORS}.S3CreateObjectOperator", NO_OBJECT_PUT),
    ("example_s3", "list_prefixes"): (
        f"{S3_OPERATORS}.S3ListPrefixesOperator",
        "no typed type lists common prefixes (s3_list returns keys)",
    ),
    ("example_s3", "file_transform"): (
        f"{S3_OPERATORS}.S3FileTransformOperator",
        "no typed type transforms an object with a script (s3_copy copies it as it is)",
    ),
    ("example_s3", "delete_bucket"): (f"{S3_OPERATORS}.S3DeleteBucketOperator", NO_BUCKET_DELETE),
    ("example_s3", "delete_bucket_2"): (f"{S3_OPERATORS}.S3DeleteBucketOperator", NO_BUCKET_DELETE),
    ("example_athena", "upload_sample_data"): (f"{S3_OPERATORS}.S3CreateObjectOperator", NO_OBJECT_PUT),
    ("example_athena", "delete_s3_bucket"): (f"{S3_OPERATORS}.S3DeleteBucketOperator", NO_BUCKET_DELETE),
    ("example_redshift_s3_transfers", "create_object"): (f"{S3_OPERATORS}.S3CreateObjectOperator", NO_OBJECT_PUT),
    ("example_redshift_s3_transfers", "delete_bucket"): (f"{S3_OPERATORS}.S3DeleteBucketOperator", NO_BUCKET_DELETE),
    ("example_redshift", "create_cluster"): (
        f"{REDSHIFT_OPERATORS}.RedshiftCreateClusterOperator",
        NO_REDSHIFT_CLUSTER,
    ),
    ("example_redshift", "create_cluster_snapshot"): (
        f"{REDSHIFT_OPERATORS}.RedshiftCreateClusterSnapshotOperator",
        "no typed type snapshots a Redshift cluster",
    ),
    ("example_redshift", "pause_cluster"): (
        f"{REDSHIFT_OPERATORS}.RedshiftPauseClusterOperator",
        "no typed type pauses a Redshift cluster",
    ),
    ("example_redshift", "resume_cluster"): (
        f"{REDSHIFT_OPERATORS}.RedshiftResumeClusterOperator",
        "no typed type resumes a Redshift cluster",
    ),
    ("example_redshift", "delete_cluster_snapshot"): (
        f"{REDSHIFT_OPERATORS}.RedshiftDeleteClusterSnapshotOperator",
        "no typed type deletes a Redshift snapshot",
    ),
    ("example_redshift", "delete_cluster"): (
        f"{REDSHIFT_OPERATORS}.RedshiftDeleteClusterOperator",
        NO_REDSHIFT_CLUSTER,
    ),
    ("example_emr", "delete_s3_bucket"): (f"{S3_OPERATORS}.S3DeleteBucketOperator", NO_BUCKET_DELETE),
    ("example_emr_notebook_execution", "start_execution"): (
        f"{EMR_OPERATORS}.EmrStartNotebookExecutionOperator",
        "emr_notebook waits for the execution's end; none starts one to stop it while it runs",
    ),
    ("example_emr_notebook_execution", "stop_execution"): (
        f"{EMR_OPERATORS}.EmrStopNotebookExecutionOperator",
        "no typed type stops a notebook execution",
    ),
}

S3_TASKS = (
    "create_bucket",
    "create_bucket_2",
    "put_tagging",
    "get_tagging",
    "delete_tagging",
    "create_object",
    "create_object_2",
    "list_prefixes",
    "list_keys",
    "sensor_one_key",
    "sensor_two_keys",
    "sensor_key_with_function",
    "sensor_key_with_regex",
    "sensor_one_key_deferrable",
    "sensor_two_keys_deferrable",
    "sensor_key_with_function_deferrable",
    "sensor_key_with_regex_deferrable",
    "copy_object",
    "file_transform",
    "sensor_keys_unchanged",
    "delete_objects",
    "delete_bucket",
    "delete_bucket_2",
)
ATHENA_TASKS = (
    "create_s3_bucket",
    "upload_sample_data",
    "create_database",
    "create_table",
    "read_table",
    "await_query",
    "read_results_from_s3",
    "drop_table",
    "drop_database",
    "delete_s3_bucket",
)

# example -> the task states of a green local run (every example runs locally).
GREEN: dict[str, dict[str, str]] = {
    "example_glue_data_quality": {
        task: "success"
        for task in (
            "create_s3_bucket",
            "upload_sample_data",
            "create_database",
            "create_table",
            "start_evaluation_run_ruleset",
            "start_evaluation_run",
            "drop_table",
            "drop_database",
            "delete_s3_bucket",
        )
    },
    "example_glue": {
        task: "success"
        for task in (
            "create_bucket",
            "upload_csv",
            "upload_script",
            "crawl_s3",
            "wait_for_catalog_partition",  # the partition the local crawl wrote to the catalog
            "submit_glue_job",
            "delete_bucket",
        )
    },
    "example_emr_serverless": {
        "create_s3_bucket": "success",
        "create_emr_serverless_app": "success",
        "start_emr_serverless_job": "success",
        "delete_emr_serverless_app": "success",
        "delete_s3_bucket": "success",
    },
    "example_emr_eks": {
        "create_bucket": "success",
        "upload_s3_file": "success",
        "create_emr_eks_cluster": "success",
        "start_job": "success",
        "delete_emr_eks_cluster": "success",
        "delete_bucket": "success",
    },
    "example_step_functions": {"start_execution": "success"},
    "example_lambda": {"invoke_lambda_function_create_function": "success", "invoke_lambda_function": "success"},
    "example_sns": {"publish_message": "success"},
    "example_s3": {task: "success" for task in S3_TASKS},
    "example_athena": {task: "success" for task in ATHENA_TASKS},
    "example_redshift_s3_transfers": {
        task: "success"
        for task in (
            "s3_create_bucket",
            "create_cluster",
            "create_object",
            "create_table_redshift_data",
            "insert_data",
            "transfer_redshift_to_s3",
            "check_if_key_exists",
            "transfer_s3_to_redshift",
            "transfer_s3_to_redshift_multiple",
            "transfer_redshift_to_s3_reuse_session",
            "check_if_tmp_table_key_exists",
            "transfer_s3_to_redshift_tmp_table",
            "drop_table",
            "delete_bucket",
            "delete_cluster",
        )
    },
    "example_redshift": {
        task: "success"
        for task in (
            "create_cluster",
            "wait_cluster_available",
            "create_cluster_snapshot",
            "wait_cluster_available_before_pause",
            "pause_cluster",
            "wait_cluster_paused",
            "resume_cluster",
            "wait_cluster_available_after_resume",
            "create_table_redshift_data",
            "insert_data",
            "insert_data_reuse_session",
            "delete_cluster_snapshot",
            "delete_cluster",
        )
    },
    "example_emr": {
        "create_s3_bucket": "success",
        "create_job_flow": "success",
        "add_steps": "success",
        "delete_s3_bucket": "success",
        "terminate_job_flow": "success",
    },
    "example_emr_job_flow_manual_steps": {
        "create_job_flow": "success",
        "add_steps": "success",
        "terminate_job_flow": "success",
    },
    "example_emr_job_flow_automatic_steps": {
        "create_job_flow": "success",
        "calculate_pi": "success",
        "terminate_job_flow": "success",
    },
    "example_emr_notebook_execution": {
        "start_execution": "success",
        "wait_for_execution_start": "success",
        "stop_execution": "success",
        "wait_for_execution_stop": "success",
        "finish_execution": "success",
    },
}

# example -> (the work task --fail fails, the task states of that run): the cleanups and teardowns still run
FAILED: dict[str, tuple[str, dict[str, str]]] = {
    "example_glue": (
        "submit_glue_job",
        {
            "create_bucket": "success",
            "upload_csv": "success",
            "upload_script": "success",
            "crawl_s3": "success",
            "wait_for_catalog_partition": "success",
            "submit_glue_job": "failed",
            "delete_bucket": "success",
        },
    ),
    "example_glue_data_quality": (
        "start_evaluation_run",
        {
            "create_s3_bucket": "success",
            "upload_sample_data": "success",
            "create_database": "success",
            "create_table": "success",
            "start_evaluation_run_ruleset": "success",
            "start_evaluation_run": "failed",
            "drop_table": "success",
            "drop_database": "success",
            "delete_s3_bucket": "success",
        },
    ),
    "example_emr_serverless": (
        "start_emr_serverless_job",
        {
            "create_s3_bucket": "success",
            "create_emr_serverless_app": "success",
            "start_emr_serverless_job": "failed",
            "delete_emr_serverless_app": "success",
            "delete_s3_bucket": "success",
        },
    ),
    "example_emr_eks": (
        "start_job",
        {
            "create_bucket": "success",
            "upload_s3_file": "success",
            "create_emr_eks_cluster": "success",
            "start_job": "failed",
            "delete_emr_eks_cluster": "success",
            "delete_bucket": "success",
        },
    ),
    "example_redshift_s3_transfers": (
        "transfer_redshift_to_s3",
        {
            "s3_create_bucket": "success",
            "create_cluster": "success",
            "create_object": "success",
            "create_table_redshift_data": "success",
            "insert_data": "success",
            "transfer_redshift_to_s3": "failed",
            "check_if_key_exists": "upstream_failed",
            "transfer_s3_to_redshift": "upstream_failed",
            "transfer_s3_to_redshift_multiple": "upstream_failed",
            "transfer_redshift_to_s3_reuse_session": "success",
            "check_if_tmp_table_key_exists": "success",
            "transfer_s3_to_redshift_tmp_table": "success",
            "drop_table": "success",
            "delete_bucket": "success",
            "delete_cluster": "success",
        },
    ),
    "example_redshift": (
        "insert_data",
        {
            "create_cluster": "success",
            "wait_cluster_available": "success",
            "create_cluster_snapshot": "success",
            "wait_cluster_available_before_pause": "success",
            "pause_cluster": "success",
            "wait_cluster_paused": "success",
            "resume_cluster": "success",
            "wait_cluster_available_after_resume": "success",
            "create_table_redshift_data": "success",
            "insert_data": "failed",
            "insert_data_reuse_session": "success",
            "delete_cluster_snapshot": "success",
            "delete_cluster": "success",
        },
    ),
    "example_emr": (
        "add_steps",
        {
            "create_s3_bucket": "success",
            "create_job_flow": "success",
            "add_steps": "failed",
            "delete_s3_bucket": "success",
            "terminate_job_flow": "success",
        },
    ),
    "example_emr_job_flow_manual_steps": (
        "add_steps",
        {"create_job_flow": "success", "add_steps": "failed", "terminate_job_flow": "success"},
    ),
    "example_emr_job_flow_automatic_steps": (
        "calculate_pi",
        {"create_job_flow": "success", "calculate_pi": "failed", "terminate_job_flow": "success"},
    ),
    # the copy is refused: what follows it does not run, and neither does the removal of what it would have made
    "example_s3": (
        "copy_object",
        {
            **{task: "success" for task in S3_TASKS},
            "copy_object": "failed",
            "file_transform": "upstream_failed",
            "sensor_keys_unchanged": "upstream_failed",
            "delete_objects": "upstream_failed",
        },
    ),
    "example_athena": (
        "read_table",
        {
            **{task: "success" for task in ATHENA_TASKS},
            "read_table": "failed",
            "await_query": "upstream_failed",
            "read_results_from_s3": "upstream_failed",
        },
    ),
}

# the tasks that submit Redshift Data statements (one statement or one batch each)
TRANSFER_STATEMENTS = (
    "create_table_redshift_data",
    "insert_data",
    "transfer_redshift_to_s3",
    "transfer_s3_to_redshift",
    "transfer_s3_to_redshift_multiple",
    "transfer_redshift_to_s3_reuse_session",
    "transfer_s3_to_redshift_tmp_table",
    "drop_table",
)
REDSHIFT_STATEMENTS = ("create_table_redshift_data", "insert_data", "insert_data_reuse_session")

# example -> what the emulator saw of its work, in a green run and in the failure run: (kind, origin, state)
WORK: dict[str, tuple[list[tuple[str, str, str]], list[tuple[str, str, str]]]] = {
    "example_emr_serverless": (
        [
            ("applications", "create_emr_serverless_app", "TERMINATED"),
            ("serverless_job_runs", "start_emr_serverless_job", "SUCCESS"),
        ],
        [
            ("applications", "create_emr_serverless_app", "TERMINATED"),
            ("serverless_job_runs", "start_emr_serverless_job", "FAILED"),
        ],
    ),
    "example_emr_eks": (
        [
            ("eks_job_runs", "start_job", "COMPLETED"),
            ("objects", "upload_s3_file", "s3://example-emr-eks-bucket/pi.py"),
            ("virtual_clusters", "create_emr_eks_cluster", "TERMINATED"),
        ],
        [
            ("eks_job_runs", "start_job", "FAILED"),
            ("objects", "upload_s3_file", "s3://example-emr-eks-bucket/pi.py"),
            ("virtual_clusters", "create_emr_eks_cluster", "TERMINATED"),
        ],
    ),
    "example_sns": (
        [
            (
                "messages",
                "publish_message",
                "This is a sample message sent to SNS via an Apache Airflow DAG task.",
            )
        ],
        [],
    ),
    "example_step_functions": ([("executions", "start_execution", "SUCCEEDED")], []),
    "example_lambda": ([("invocations", "invoke_lambda_function", "SUCCEEDED")], []),
    "example_redshift_s3_transfers": (
        [("statements", task, "FINISHED") for task in TRANSFER_STATEMENTS],
        [
            ("statements", task, "FAILED" if task == "transfer_redshift_to_s3" else "FINISHED")
            for task in TRANSFER_STATEMENTS
            if task not in ("transfer_s3_to_redshift", "transfer_s3_to_redshift_multiple")
        ],
    ),
    "example_redshift": (
        [("statements", task, "FINISHED") for task in REDSHIFT_STATEMENTS],
        [("statements", task, "FAILED" if task == "insert_data" else "FINISHED") for task in REDSHIFT_STATEMENTS],
    ),
    "example_emr": (
        [("clusters", "create_job_flow", "TERMINATED"), ("steps", "add_steps", "COMPLETED")],
        [("clusters", "create_job_flow", "TERMINATED"), ("steps", "add_steps", "FAILED")],
    ),
    "example_emr_job_flow_manual_steps": (
        [("clusters", "create_job_flow", "TERMINATED"), ("steps", "add_steps", "COMPLETED")],
        [("clusters", "create_job_flow", "TERMINATED"), ("steps", "add_steps", "FAILED")],
    ),
    "example_emr_job_flow_automatic_steps": (
        [("clusters", "create_job_flow", "TERMINATED"), ("steps", "calculate_pi", "COMPLETED")],
        [("clusters", "create_job_flow", "TERMINATED"), ("steps", "calculate_pi", "FAILED")],
    ),
    "example_glue": (
        [("crawls", "crawl_s3", "SUCCEEDED"), ("job_runs", "submit_glue_job", "SUCCEEDED")],
        [("crawls", "crawl_s3", "SUCCEEDED"), ("job_runs", "submit_glue_job", "FAILED")],
    ),
    "example_glue_data_quality": (
        [("dq_evaluations", "start_evaluation_run", "SUCCEEDED")],
        # as in Glue, the evaluation run succeeds and its first rule fails, which fails the task
        [("dq_evaluations", "start_evaluation_run", "SUCCEEDED")],
    ),
    "example_s3": (
        [
            ("objects", "create_object", "s3://example-s3-bucket/example-s3-key"),
            ("objects", "create_object_2", "s3://example-s3-bucket/example-s3-key2"),
            ("objects", "copy_object", "s3://example-s3-bucket-2/example-s3-key2"),
            ("objects", "file_transform", "s3://example-s3-bucket-2/example-s3-key2"),
        ],
        [
            ("objects", "create_object", "s3://example-s3-bucket/example-s3-key"),
            ("objects", "create_object_2", "s3://example-s3-bucket/example-s3-key2"),
        ],
    ),
    "example_athena": (
        [
            ("queries", "create_database", "SUCCEEDED"),
            ("queries", "create_table", "SUCCEEDED"),
            ("queries", "read_table", "SUCCEEDED"),
            ("queries", "drop_table", "SUCCEEDED"),
            ("queries", "drop_database", "SUCCEEDED"),
        ],
        [
            ("queries", "create_database", "SUCCEEDED"),
            ("queries", "create_table", "SUCCEEDED"),
            ("queries", "read_table", "FAILED"),
            ("queries", "drop_table", "SUCCEEDED"),
            ("queries", "drop_database", "SUCCEEDED"),
        ],
    ),
    "example_emr_notebook_execution": (
        [
            ("notebook_executions", "start_execution", "STOPPED"),
            ("notebook_executions", "finish_execution", "FINISHED"),
        ],
        [],
    ),
}


def _spec(name: str) -> Path:
    return FOLDER / f"{name}.yaml"


# what a WORK row shows of an emulator record, by kind (others: its state)
SHOWN_AS = {"messages": "message", "objects": "uri"}


def _work(outcome: Any, kinds: set[str]) -> list[tuple[str, str, str]]:
    seen = emulator(outcome)
    return sorted((kind, row["origin"], row[SHOWN_AS.get(kind, "state")]) for kind in kinds for row in seen[kind])


def test_the_examples_table_lists_every_spec_of_the_folder() -> None:
    assert sorted(EXAMPLES) == sorted(path.stem for path in FOLDER.glob("*.yaml"))


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_spec_validates_with_no_diagnostic(name: str) -> None:
    (result,) = process([_spec(name)], profile=installed_profile(), airflow_major=airflow_major())
    assert [str(diagnostic) for diagnostic in result.diagnostics] == []
    assert result.config is not None


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_operator_argument_is_a_parameter_of_the_operator(name: str) -> None:
    from generator.compile.lower import lower

    (result,) = process([_spec(name)], profile=installed_profile(), airflow_major=airflow_major())
    unknown = {
        task.task_id: sorted(set(task.kwargs) - accepted_keywords(operator_class(task.operator)) - DAG_FACTORY_KEYS)
        for task in lower(result.spec, installed_profile()).tasks
    }
    assert {task_id: keys for task_id, keys in unknown.items() if keys} == {}


def test_the_operator_table_is_every_operator_task_of_the_specs() -> None:
    used = {}
    for name in EXAMPLES:
        spec = yaml.safe_load(_spec(name).read_text(encoding="utf-8"))
        for task_id, task in spec["tasks"].items():
            if task["type"] == "operator":
                used[(name, task_id)] = task["operator"]
    assert used == {key: operator for key, (operator, _why) in OPERATOR_USES.items()}


@pytest.fixture(scope="module")
def bag(tmp_path_factory: pytest.TempPathFactory) -> Any:
    dags = tmp_path_factory.mktemp("provider_examples") / "dags"
    dags.mkdir()
    shutil.copy(REPO / "dags" / "pipelines_loader.py", dags)
    shutil.copytree(FOLDER, dags / "pipelines")
    return dagbag(dags)


def test_the_folder_loads_in_a_dagbag_with_no_import_error(bag: Any) -> None:
    assert bag.import_errors == {}
    assert sorted(bag.dags) == sorted(EXAMPLES)


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_compiled_graph_is_the_golden_one(bag: Any, name: str) -> None:
    shape = graph(bag.dags[name])
    golden = GOLDEN / f"{name}.yaml"
    if os.environ.get("DAGEN_UPDATE_GOLDEN") and airflow_major() >= 3:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(yaml.safe_dump(shape, sort_keys=True), encoding="utf-8")
    assert shape == yaml.safe_load(golden.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def runs(request: pytest.FixtureRequest, monkeypatch_module: pytest.MonkeyPatch) -> Any:  # noqa: F811
    # every green run, then every failure run, as the tests below ask for them: started ahead, two at a time
    ahead = [(_path(name),) for name in sorted(GREEN)] + [
        (_path(name), "--fail", FAILED[name][0]) for name in sorted(FAILED)
    ]
    run = local_runs(request, monkeypatch_module, ahead)
    return lambda name, *options: run(_path(name), *options)


def _path(name: str) -> str:
    return f"tests/provider_examples/{name}.yaml"


@pytest.mark.parametrize("name", sorted(GREEN))
def test_a_local_run_ends_green(runs: Any, name: str) -> None:
    outcome = runs(name)
    assert states(outcome) == GREEN[name]
    assert (outcome.exit_code, outcome.report["state"]) == (0, "success"), outcome.output
    if name in WORK:
        expected = WORK[name][0]
        assert _work(outcome, {kind for kind, _, _ in expected}) == sorted(expected)


@pytest.mark.parametrize("name", sorted(FAILED))
def test_a_failed_work_task_fails_the_run_and_the_cleanups_still_run(runs: Any, name: str) -> None:
    task, expected_states = FAILED[name]
    outcome = runs(name, "--fail", task)
    assert states(outcome) == expected_states
    assert (outcome.exit_code, outcome.report["state"]) == (1, "failed"), outcome.output
    expected = WORK[name][1]
    assert _work(outcome, {kind for kind, _, _ in expected}) == sorted(expected)
