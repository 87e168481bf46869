"""`dagen iam`: the exact least-privilege policy of each seed, and what it must never grant."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from generator.iam_policy import CLOUDFORMATION_ARNS, Arns, cloudformation_template, pipeline_policy, widen
from generator.lower import lower
from generator.pipelines import process
from generator.provider_profile import MODERN
from tests.test_cli import run

EXPECTED = Path(__file__).parent / "expected" / "iam"
# (spec, region the expected file was written for)
CASES = [
    ("pipelines/emr_notebook_best_sellers.yaml", "us-east-1"),
    ("pipelines/movielens_emr_step_functions.yaml", "us-east-1"),
    ("pipelines/salary_batch_etl.yaml", "us-east-1"),
    ("tests/specs/catalogue.yaml", "eu-west-1"),
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
        elif cluster_actions or statement["Resource"] == "arn:aws:elasticmapreduce:*:*:cluster/*":
            assert list(condition) == ["elasticmapreduce:ResourceTag/dagen:dag-id"], statement
        if statement["Resource"] == "*":
            assert listed in (["elasticmapreduce:RunJobFlow"], ["glue:GetCrawlerMetrics"]), statement


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
