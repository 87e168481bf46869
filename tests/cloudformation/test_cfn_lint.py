"""cfn-lint (pinned in requirements/tools.in) passes on every template.

Errors, warnings and informational findings all count; nothing is ignored.
"""

from __future__ import annotations

import re

import cfnlint.version
import pytest
from cfnlint.api import ManualArgs, lint, lint_file

from cfn_support import CFN_DIR, REPO_ROOT, TEMPLATE_NAMES, template_text

# Regions where MWAA, EMR, Glue and Step Functions all exist; cfn-lint checks
# resource types and properties against each Region's spec.
LINT_REGIONS = [
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-northeast-1",
    "ap-southeast-2",
]

LINT_CONFIG = ManualArgs(regions=LINT_REGIONS, include_checks=["I"])


def _format(matches) -> str:
    return "\n".join(
        f"{m.rule.id} {m.filename}:{m.linenumber}:{m.columnnumber} {m.message}" for m in matches
    )


def test_the_pinned_cfn_lint_is_installed():
    pinned = re.search(
        r"^cfn-lint==(\S+)", (REPO_ROOT / "requirements" / "tools.in").read_text(), re.M
    )
    assert pinned, "requirements/tools.in must pin cfn-lint exactly"
    assert cfnlint.version.__version__ == pinned.group(1)


def test_there_are_templates_to_lint():
    assert {"emr-roles.yaml", "movielens.yaml", "mwaa-environment.yaml", "mwaa-execution-role.yaml"} <= set(
        TEMPLATE_NAMES
    )


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_cfn_lint_finds_nothing(name):
    matches = lint_file(CFN_DIR / name, config=LINT_CONFIG)
    assert matches == [], f"cfn-lint findings in {name}:\n{_format(matches)}"


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_no_cfn_lint_rule_is_suppressed(name):
    text = template_text(name)
    for marker in ("cfn-lint", "cfn_lint", "ignore_checks", "cfn-nag"):
        assert marker not in text, f"{name} suppresses checks ({marker})"


def test_no_cfn_lint_config_file_changes_the_rules():
    for folder in (REPO_ROOT, CFN_DIR):
        assert not (folder / ".cfnlintrc").exists()
        assert not (folder / ".cfnlintrc.yaml").exists()
        assert not (folder / ".cfnlintrc.json").exists()


# cfn-lint validates inline state machine definitions (rule E3601: the ASL
# schema, state types, StartAt). It does not follow Next/Default/Catch targets
# or reachability; test_cfn_state_machine.py checks those.
@pytest.mark.parametrize(
    ("old", "new", "rule"),
    [
        pytest.param("StartAt: RunCurationJob", "StartAt: NoSuchState", "E3601", id="StartAt-missing"),
        pytest.param("Type: Parallel", "Type: Paralel", "E3601", id="unknown-state-type"),
        pytest.param("Seconds: 30", "Seconds: -1", "E3601", id="negative-wait"),
    ],
)
def test_cfn_lint_validates_the_inline_state_machine(old, new, rule):
    text = template_text("movielens.yaml")
    assert old in text
    matches = lint(text.replace(old, new, 1), config=LINT_CONFIG)
    assert rule in {m.rule.id for m in matches}, _format(matches)


def test_cfn_lint_checks_iam_action_names():
    text = template_text("mwaa-execution-role.yaml")
    broken = text.replace("elasticmapreduce:DescribeStep\n", "elasticmapreduce:DescribeSteps\n", 1)
    assert broken != text
    matches = lint(broken, config=LINT_CONFIG)
    assert "W3037" in {m.rule.id for m in matches}, _format(matches)

