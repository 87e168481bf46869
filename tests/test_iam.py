"""`dagen iam`: the exact least-privilege policy of each seed, and what it must never grant."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from generator.compile.lower import lower
from generator.compile.pipelines import process
from generator.core.provider_profile import MODERN
from generator.iam.builder import Arns, widen
from generator.iam.policy import CLOUDFORMATION_ARNS, cloudformation_template, pipeline_policy
from tests.test_cli import run

EXPECTED = Path(__file__).parent / "expected" / "iam"
# (spec, region the expected file was written for)
CASES = [
    ("pipelines/emr_notebook_best_sellers.yaml", "us-east-1"),
    ("pipelines/movielens_emr_step_functions.yaml", "us-east-1"),
    ("pipelines/salary_batch_etl.yaml", "us-east-1"),
    ("tests/specs/catalogue.yaml", "eu-west-1"),
    ("tests/specs/catalogue_more.yaml", "eu-west-1"),
    ("tests/local_run/control_flow.yaml", "eu-west-1"),  # fan-out members, mapped tasks, an S3 condition
]


def policy_of(repo: Path, *specs: str, arns: Arns) -> dict:
    results = process([repo / spec for spec in specs], profile=MODERN, airflow_major=3)
    return pipeline_policy([lower(result.spec, MODERN) for result in results], arns)


@pytest.mark.parametrize(("spec", "region"), CASES, ids=[Path(s).stem for s, _ in CASES])
def test_exact_policy(repo: Path, spec: str, region: str) -> None:
    expected = json.loads((EXPECTED / f"{Path(spec).stem}.json").read_text())
    assert policy_of(repo, spec, arns=Arns(region=region, account="123456789012")) == expected


def actions(policy: dict) -> set[str]:
    found: set[str] = set()
    for statement in policy["Statement"]:
        found |= {statement["Action"]} if isinstance(statement["Action"], str) else set(statement["Action"])
    return found


@pytest.mark.parametrize(
    ("spec", "services"),
    [
        ("pipelines/salary_batch_etl.yaml", {"elasticmapreduce", "iam"}),
        ("pipelines/movielens_emr_step_functions.yaml", {"elasticmapreduce", "iam", "states"}),
        ("pipelines/emr_notebook_best_sellers.yaml", {"elasticmapreduce", "iam"}),
        (
            "tests/specs/catalogue_more.yaml",
            # athena + its catalog reads and result writes, s3_wait, both EMR job APIs, lambda, and what
            # the operator and python tasks declare (sns, s3, cloudwatch); the http sensor needs nothing
            {"athena", "glue", "s3", "emr-serverless", "emr-containers", "iam", "lambda", "sns", "cloudwatch"},
        ),
    ],
)
def test_grants_only_the_services_the_pipeline_uses(repo: Path, spec: str, services: set[str]) -> None:
    policy = policy_of(repo, spec, arns=Arns())
    assert {action.split(":")[0] for action in actions(policy)} == services
    notebook_actions = {a for a in actions(policy) if "Notebook" in a}
    assert bool(notebook_actions) == ("notebook" in spec)


def test_policy_invariants_over_every_spec(repo: Path) -> None:
    policy = policy_of(repo, "pipelines", "tests/specs", arns=Arns())
    assert len({s["Sid"] for s in policy["Statement"]}) == len(policy["Statement"])
    for statement in policy["Statement"]:
        listed = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        assert all("*" not in action for action in listed), statement
        condition = statement.get("Condition", {}).get("StringEquals", {})
        if "iam:PassRole" in listed:
            assert listed == ["iam:PassRole"] and "iam:PassedToService" in condition, statement
        cluster_actions = [a for a in listed if a.startswith("elasticmapreduce:") and "NotebookExecution" not in a]
        if "elasticmapreduce:RunJobFlow" in cluster_actions:
            assert list(condition) == ["elasticmapreduce:RequestTag/dagen:dag-id"], statement
        elif "elasticmapreduce:ListClusters" in cluster_actions:
            # EMR authorises ListClusters on no resource and no tag: alone, it reveals only clusters' summaries
            assert (listed, statement["Resource"], statement.get("Condition")) == (
                ["elasticmapreduce:ListClusters"],
                "*",
                None,
            ), statement
        elif statement["Sid"] in ("WaitForEmrClusters", "WaitForEmrSteps"):  # wait_until reads any cluster
            assert set(listed) <= {"elasticmapreduce:DescribeCluster", "elasticmapreduce:DescribeStep"}, statement
        elif cluster_actions or statement["Resource"] == "arn:aws:elasticmapreduce:*:*:cluster/*":
            assert list(condition) == ["elasticmapreduce:ResourceTag/dagen:dag-id"], statement
        if statement["Resource"] == "*" and not statement["Sid"].startswith("DeclaredByTasks"):
            assert listed in (
                ["elasticmapreduce:RunJobFlow"],
                ["elasticmapreduce:ListClusters"],
                ["elasticmapreduce:ListNotebookExecutions"],  # no resource-level permission either
                ["glue:GetCrawlerMetrics"],
                [
                    "redshift-data:CancelStatement",
                    "redshift-data:DescribeStatement",
                    "redshift-data:GetStatementResult",
                ],
            ), statement


@pytest.mark.parametrize(
    ("value", "widened"),
    [
        ("{{ var.value.movielens_state_machine_arn }}", "*"),
        ("raw-{{ params.bucket }}", "raw-*"),
        ("{% if x %}a{% endif %}-{{ y }}", "*a*-*"),
        ("plain", "plain"),
    ],
)
def test_templates_widen_to_wildcards(value: str, widened: str) -> None:
    assert widen(value) == widened


def test_committed_cloudformation_policy_is_current(repo: Path) -> None:
    policy = policy_of(repo, "pipelines", arns=CLOUDFORMATION_ARNS)
    committed = yaml.safe_load((repo / "cloudformation" / "pipelines-policy.yaml").read_text())
    assert committed == cloudformation_template(policy), "run `make generated`"


def test_iam_command(repo: Path) -> None:
    done = run(
        "iam", "pipelines/salary_batch_etl.yaml", "--region", "us-east-1", "--account-id", "123456789012", cwd=repo
    )
    assert done.returncode == 0
    assert json.loads(done.stdout) == json.loads((EXPECTED / "salary_batch_etl.json").read_text())
    refused = run("iam", "tests/cases/dg303_cycle", cwd=repo)
    assert refused.returncode == 1 and "DG303" in refused.stdout


def policy_of_tasks(tmp_path: Path, tasks: str) -> dict:
    """The policy of a one-off spec holding ``tasks`` (YAML, indented under tasks:)."""
    spec = tmp_path / "one_off.yaml"
    spec.write_text(f'start_date: 2024-01-01\nschedule: "@daily"\ntasks:\n{tasks}', encoding="utf-8")
    results = process([spec], profile=MODERN, airflow_major=3)
    assert results[0].spec is not None, results[0].diagnostics
    return pipeline_policy([lower(results[0].spec, MODERN)], Arns(region="us-east-1", account="123456789012"))


def statement(policy: dict, sid: str) -> dict:
    (found,) = [s for s in policy["Statement"] if s["Sid"] == sid]
    return found


@pytest.mark.parametrize(
    ("function", "qualifier", "resource"),
    [
        ("load", None, "arn:aws:lambda:us-east-1:123456789012:function:load"),
        ("load", "live", "arn:aws:lambda:us-east-1:123456789012:function:load:live"),
        ("load:live", None, "arn:aws:lambda:us-east-1:123456789012:function:load:live"),
        ("210987654321:function:load", None, "arn:aws:lambda:us-east-1:210987654321:function:load"),
        (
            "arn:aws:lambda:eu-west-1:210987654321:function:load",
            "7",
            "arn:aws:lambda:eu-west-1:210987654321:function:load:7",
        ),
        (
            "arn:aws:lambda:eu-west-1:210987654321:function:load:live",
            None,
            "arn:aws:lambda:eu-west-1:210987654321:function:load:live",
        ),
        ("{{ var.value.loader }}", None, "arn:aws:lambda:us-east-1:123456789012:function:*"),
    ],
)
def test_lambda_is_invoked_on_the_exact_function(tmp_path: Path, function: str, qualifier: str, resource: str) -> None:
    extra = f"\n    qualifier: '{qualifier}'" if qualifier else ""
    policy = policy_of_tasks(tmp_path, f"  load:\n    type: lambda_invoke\n    function_name: '{function}'{extra}\n")
    assert policy["Statement"] == [
        {"Sid": "LambdaInvokeFunctions", "Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": resource}
    ]


def test_s3_wait_reads_only_what_it_checks(tmp_path: Path) -> None:
    policy = policy_of_tasks(
        tmp_path,
        "  pattern:\n    type: s3_wait\n    key: s3://landing/in/{{ ds }}/*.csv\n"
        "  marker:\n    type: s3_wait\n    bucket: markers\n    key: done/{{ ds }}\n",
    )
    # a pattern only lists; a key is a HeadObject (GetObject), which needs ListBucket to tell a 404 from a 403
    assert statement(policy, "S3ListWaitedBuckets")["Resource"] == ["arn:aws:s3:::landing", "arn:aws:s3:::markers"]
    assert statement(policy, "S3ReadWaitedObjects")["Resource"] == "arn:aws:s3:::markers/done/*"


def test_emr_on_eks_limits_job_runs_to_the_named_execution_role(tmp_path: Path) -> None:
    policy = policy_of_tasks(
        tmp_path,
        "  eks:\n    type: emr_eks_job\n    virtual_cluster_id: vc1\n"
        "    execution_role_arn: arn:aws:iam::123456789012:role/job\n    release_label: emr-7.5.0-latest\n"
        "    spark: {entry_point: s3://code/job.py}\n",
    )
    assert statement(policy, "EmrEksStartJobRuns") == {
        "Sid": "EmrEksStartJobRuns",
        "Effect": "Allow",
        "Action": "emr-containers:StartJobRun",
        "Resource": "arn:aws:emr-containers:us-east-1:123456789012:/virtualclusters/vc1",
        "Condition": {"ArnLike": {"emr-containers:ExecutionRoleArn": "arn:aws:iam::123456789012:role/job"}},
    }
    assert not any(s["Action"] == "iam:PassRole" for s in policy["Statement"])  # assumed through IRSA, not passed


def test_code_dagen_does_not_see_gets_only_what_it_declares(tmp_path: Path) -> None:
    policy = policy_of_tasks(
        tmp_path,
        "  wait:\n    type: http_wait\n    endpoint: status\n"
        "  quiet:\n    type: python\n    callable: lib.jobs.quiet\n"
        "  publish:\n    type: operator\n    operator: airflow.providers.amazon.aws.operators.sns.SnsPublishOperator\n"
        "    arguments: {target_arn: 'arn:aws:sns:us-east-1:123456789012:t', message: hi}\n"
        "    iam: [{actions: [sns:Publish], resources: ['arn:aws:sns:us-east-1:123456789012:{{ var.value.t }}']}]\n",
    )
    assert policy["Statement"] == [
        {
            "Sid": "DeclaredByTasks",
            "Effect": "Allow",
            "Action": "sns:Publish",
            "Resource": "arn:aws:sns:us-east-1:123456789012:*",
        }
    ]


def test_exact_policy_of_the_s3_operations(repo: Path) -> None:
    """Copy reads its source and writes its destination; delete, list and keys-unchanged list under their
    prefixes only; create bucket may create and head its bucket; s3_wait's keys, patterns and checks."""
    expected = json.loads((EXPECTED / "s3_operations.json").read_text())
    arns = Arns(region="eu-west-1", account="123456789012")
    assert policy_of(repo, "tests/specs/s3_operations.yaml", arns=arns) == expected
    assert {a for a in actions(expected) if a.startswith("s3:")} == {
        "s3:CreateBucket",
        "s3:DeleteObject",
        "s3:GetObject",
        "s3:ListBucket",
        "s3:PutObject",
    }


def test_exact_policy_of_the_wait_until_sensors(repo: Path) -> None:
    # each sensor's one describe/get call, on the ARN of a literal id and widened for a templated one
    expected = json.loads((EXPECTED / "waits.json").read_text())
    assert policy_of(repo, "tests/specs/waits.yaml", arns=Arns(region="eu-west-1", account="123456789012")) == expected


def test_glue_and_lambda_tasks_that_create_what_they_run(repo: Path) -> None:
    # create_if_missing: CreateCrawler/UpdateCrawler, CreateJob, PassRole to Glue only, GetRole for a role by name;
    # CreateFunction/GetFunction, the code object, PassRole to Lambda only; sns:Publish on the topic; an EMR
    # runtime role passed to EMR only
    expected = json.loads((EXPECTED / "glue_lambda.json").read_text())
    spec = "tests/specs/glue_lambda.yaml"
    assert policy_of(repo, spec, arns=Arns(region="eu-west-1", account="123456789012")) == expected


def test_exact_policy_of_the_glue_partition_waits(repo: Path) -> None:
    # GetPartitions on the catalog, the database and the table; templated names widen to * in their segment
    expected = json.loads((EXPECTED / "glue_partition.json").read_text())
    arns = Arns(region="eu-west-1", account="123456789012")
    assert policy_of(repo, "tests/specs/glue_partition.yaml", arns=arns) == expected
    assert actions(expected) == {"glue:GetPartitions"}


def test_exact_policy_of_an_emr_serverless_application_the_pipeline_owns(repo: Path) -> None:
    # CreateApplication and TagResource only with the DAG's tag in the request; the waits, stop, delete and
    # job listing only on applications carrying it; the service-linked role of EMR Serverless only
    expected = json.loads((EXPECTED / "managed_resources.json").read_text())
    arns = Arns(region="eu-west-1", account="123456789012")
    assert policy_of(repo, "tests/specs/managed_resources.yaml", arns=arns) == expected


def test_exact_policy_of_the_redshift_tasks(repo: Path) -> None:
    # the Data API's run calls on the cluster or workgroup/* (its ARN holds an id), its statement calls on *
    # (no resource-level permission), and each way to sign in; nothing on S3 and no iam:PassRole for COPY/UNLOAD
    expected = json.loads((EXPECTED / "redshift.json").read_text())
    assert (
        policy_of(repo, "tests/specs/redshift.yaml", arns=Arns(region="eu-west-1", account="123456789012")) == expected
    )
    assert not {action for action in actions(expected) if action.startswith(("s3:", "iam:"))}


# each expected policy and the spec it is the policy of (the tests above and tests/test_glue_data_quality.py)
POLICY_SPECS = {
    **{Path(spec).stem: spec for spec, _ in CASES},
    "s3_operations": "tests/specs/s3_operations.yaml",
    "waits": "tests/specs/waits.yaml",
    "glue_lambda": "tests/specs/glue_lambda.yaml",
    "glue_partition": "tests/specs/glue_partition.yaml",
    "managed_resources": "tests/specs/managed_resources.yaml",
    "redshift": "tests/specs/redshift.yaml",
    "glue_data_quality": "tests/specs/data_quality.yaml",
}


def test_every_task_type_has_an_expected_policy(repo: Path) -> None:
    """A new task type comes with an exact expected policy: some spec with one uses it."""
    from generator.task_types import TASK_TYPES

    assert set(POLICY_SPECS) == {path.stem for path in EXPECTED.glob("*.json")}
    used = {
        task["type"]
        for spec in POLICY_SPECS.values()
        for task in yaml.safe_load((repo / spec).read_text(encoding="utf-8"))["tasks"].values()
    }
    assert used == set(TASK_TYPES)
