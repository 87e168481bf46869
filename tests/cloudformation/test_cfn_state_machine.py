"""The MovieLens state machine definition, taken from movielens.yaml.

The definition lives inline in the template (single source). The tests render
it with its DefinitionSubstitutions, validate it with statelint (a Python port
of awslabs/statelint) and with the graph checks below, and cross-check it
against the state machine role and the Glue resources of the same template.
"""

from __future__ import annotations

import copy
import json
import re
from collections import deque
from typing import Any, Iterator

import pytest
from statelint.linter import Linter

from cfn_support import ACCOUNT_ID, REGION, render

GLUE_JOB_SYNC = "arn:aws:states:::glue:startJobRun.sync"
GLUE_START_CRAWLER = "arn:aws:states:::aws-sdk:glue:startCrawler"
GLUE_GET_CRAWLER = "arn:aws:states:::aws-sdk:glue:getCrawler"

# Integration -> the IAM actions Step Functions needs for it (Step Functions
# developer guide, "IAM policies for AWS Glue"; AWS SDK integrations need the
# action of the API they call).
INTEGRATION_ACTIONS = {
    GLUE_JOB_SYNC: {"glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"},
    GLUE_START_CRAWLER: {"glue:StartCrawler"},
    GLUE_GET_CRAWLER: {"glue:GetCrawler"},
}
TRANSIENT_GLUE_ERRORS = {
    "Glue.InternalServiceException",
    "Glue.OperationTimeoutException",
    "Glue.ThrottlingException",
}
TERMINAL_TYPES = {"Succeed", "Fail"}


def _substitute(node: Any, substitutions: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {k: _substitute(v, substitutions) for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute(v, substitutions) for v in node]
    if isinstance(node, str):
        return re.sub(r"\$\{([A-Za-z0-9_]+)\}", lambda m: substitutions.get(m.group(1), m.group(0)), node)
    return node


def rendered_state_machine(**params: Any) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    resources = render("movielens.yaml", **params).resources()
    props = resources["StateMachine"]["Properties"]
    definition = _substitute(props["Definition"], props["DefinitionSubstitutions"])
    # The deployed definition is JSON: keep only JSON types.
    return json.loads(json.dumps(definition)), resources


@pytest.fixture(scope="module")
def machine() -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    return rendered_state_machine()


# --------------------------------------------------------------- checks
def iter_scopes(scope: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """The top-level machine and every Parallel branch / Map processor in it."""
    yield path or "/", scope
    for name, state in scope.get("States", {}).items():
        for i, branch in enumerate(state.get("Branches", [])):
            yield from iter_scopes(branch, f"{path}/{name}/Branches/{i}")
        for key in ("ItemProcessor", "Iterator"):
            if key in state:
                yield from iter_scopes(state[key], f"{path}/{name}/{key}")


def state_targets(state: dict[str, Any]) -> list[str]:
    targets = []
    if "Next" in state:
        targets.append(state["Next"])
    if "Default" in state:
        targets.append(state["Default"])
    targets.extend(choice["Next"] for choice in state.get("Choices", []))
    targets.extend(catcher["Next"] for catcher in state.get("Catch", []))
    return targets


def graph_problems(definition: dict[str, Any]) -> list[str]:
    """Structural problems of an ASL definition that cfn-lint does not check."""
    problems = []
    for path, scope in iter_scopes(definition):
        states = scope.get("States", {})
        if scope.get("StartAt") not in states:
            problems.append(f"{path}: StartAt {scope.get('StartAt')!r} is not a state")
            continue
        for name, state in states.items():
            kind = state.get("Type")
            for target in state_targets(state):
                if target not in states:
                    problems.append(f"{path}: {name} -> {target!r}: no such target")
            if kind == "Choice":
                if not state.get("Choices"):
                    problems.append(f"{path}: Choice {name} has no Choices")
            elif kind not in TERMINAL_TYPES and ("Next" in state) == bool(state.get("End")):
                problems.append(f"{path}: {name} needs exactly one of Next and End")
        # Every state reachable from StartAt.
        seen, queue = set(), deque([scope["StartAt"]])
        while queue:
            name = queue.popleft()
            if name in seen or name not in states:
                continue
            seen.add(name)
            queue.extend(state_targets(states[name]))
        for name in states:
            if name not in seen:
                problems.append(f"{path}: {name} is unreachable")
        # Every state can reach a terminal state (no loop without an exit).
        terminal = {n for n, s in states.items() if s.get("Type") in TERMINAL_TYPES or s.get("End")}
        if not terminal:
            problems.append(f"{path}: no terminal state")
        can_finish, changed = set(terminal), True
        while changed:
            changed = False
            for name, state in states.items():
                if name not in can_finish and any(t in can_finish for t in state_targets(state)):
                    can_finish.add(name)
                    changed = True
        for name in states:
            if name not in can_finish:
                problems.append(f"{path}: {name} can never reach a terminal state")
    return problems


def error_handling_problems(definition: dict[str, Any]) -> list[str]:
    """Every Task/Parallel state catches States.ALL into a Fail state carrying the error."""
    problems = []
    for path, scope in iter_scopes(definition):
        states = scope.get("States", {})
        for name, state in states.items():
            if state.get("Type") not in ("Task", "Parallel"):
                continue
            catchers = [c for c in state.get("Catch", []) if "States.ALL" in c.get("ErrorEquals", [])]
            if not catchers:
                problems.append(f"{path}: {name} has no Catch for States.ALL")
                continue
            for catcher in catchers:
                target = states.get(catcher["Next"], {})
                if target.get("Type") != "Fail":
                    problems.append(f"{path}: {name} catches into {catcher['Next']!r}, not a Fail state")
                    continue
                result_path = catcher.get("ResultPath")
                if not result_path:
                    problems.append(f"{path}: {name} drops the caught error (no ResultPath)")
                    continue
                if (target.get("ErrorPath"), target.get("CausePath")) != (
                    f"{result_path}.Error",
                    f"{result_path}.Cause",
                ):
                    problems.append(f"{path}: {catcher['Next']} does not carry the error/cause caught by {name}")
    return problems


def resource_problems(definition: dict[str, Any]) -> list[str]:
    problems = []
    for path, scope in iter_scopes(definition):
        for name, state in scope.get("States", {}).items():
            if state.get("Type") == "Task" and state.get("Resource") not in INTEGRATION_ACTIONS:
                problems.append(f"{path}: {name} uses unexpected integration {state.get('Resource')!r}")
    return problems


def all_states(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {}
    for _, scope in iter_scopes(definition):
        found.update(scope.get("States", {}))
    return found


# ---------------------------------------------------------------- tests
def test_definition_has_no_unresolved_substitution(machine):
    definition, resources = machine
    text = json.dumps(definition)
    assert "${" not in text
    used = set(
        re.findall(
            r"\$\{([A-Za-z0-9_]+)\}",
            json.dumps(render("movielens.yaml").template["Resources"]["StateMachine"]["Properties"]["Definition"]),
        )
    )
    declared = set(resources["StateMachine"]["Properties"]["DefinitionSubstitutions"])
    assert used == declared


def test_statelint_accepts_the_definition(machine):
    definition, _ = machine
    assert Linter.validate(definition) == []


def test_graph_is_sound(machine):
    definition, _ = machine
    assert graph_problems(definition) == []


def test_every_task_catches_into_a_fail_state_with_error_and_cause(machine):
    definition, _ = machine
    assert error_handling_problems(definition) == []
    top_fail = definition["States"]["CurationFailed"]
    assert top_fail == {
        "Type": "Fail",
        "Comment": top_fail["Comment"],
        "ErrorPath": "$.error.Error",
        "CausePath": "$.error.Cause",
    }


def test_tasks_use_only_the_native_glue_integrations(machine):
    definition, _ = machine
    assert resource_problems(definition) == []
    resources = {s["Resource"] for s in all_states(definition).values() if s["Type"] == "Task"}
    assert resources == set(INTEGRATION_ACTIONS)


def test_flow_runs_the_job_then_both_crawlers_in_parallel(machine):
    definition, resources = machine
    states = definition["States"]
    assert definition["StartAt"] == "RunCurationJob"
    job = states["RunCurationJob"]
    assert job["Resource"] == GLUE_JOB_SYNC
    assert job["Parameters"] == {"JobName": resources["GlueJob"]["Properties"]["Name"]}
    assert job["Next"] == "CrawlCuratedTables"
    crawl = states["CrawlCuratedTables"]
    assert crawl["Type"] == "Parallel"
    started = set()
    for branch in crawl["Branches"]:
        first = branch["States"][branch["StartAt"]]
        assert first["Resource"] == GLUE_START_CRAWLER
        started.add(first["Parameters"]["Name"])
        polled = {s["Parameters"]["Name"] for s in branch["States"].values() if s.get("Resource") == GLUE_GET_CRAWLER}
        assert polled == {first["Parameters"]["Name"]}
    assert started == {
        resources["MostPopularCrawler"]["Properties"]["Name"],
        resources["TopRatedCrawler"]["Properties"]["Name"],
    }
    assert crawl["Next"] == "CurationSucceeded"
    assert states["CurationSucceeded"]["Type"] == "Succeed"
    assert isinstance(definition["TimeoutSeconds"], int) and definition["TimeoutSeconds"] > 0


def test_retries_cover_transient_glue_errors_only(machine):
    definition, _ = machine
    for name, state in all_states(definition).items():
        if state["Type"] != "Task":
            continue
        retried = {e for r in state.get("Retry", []) for e in r["ErrorEquals"]}
        assert TRANSIENT_GLUE_ERRORS <= retried, name
        # A failed job run or a timeout is not retried: it is reported.
        assert not retried & {"States.ALL", "States.TaskFailed", "States.Timeout"}, name
        for retrier in state["Retry"]:
            assert retrier["MaxAttempts"] <= 5 and retrier["BackoffRate"] >= 1, name
    job_errors = {e for r in definition["States"]["RunCurationJob"]["Retry"] for e in r["ErrorEquals"]}
    assert "Glue.ConcurrentRunsExceededException" in job_errors
    for name, state in all_states(definition).items():
        if state.get("Resource") == GLUE_START_CRAWLER:
            assert "Glue.CrawlerRunningException" in {e for r in state["Retry"] for e in r["ErrorEquals"]}


def test_role_grants_exactly_what_the_tasks_call(machine):
    definition, resources = machine
    needed = set()
    for state in all_states(definition).values():
        if state["Type"] != "Task":
            continue
        if state["Resource"] == GLUE_JOB_SYNC:
            arn = f"arn:aws:glue:{REGION}:{ACCOUNT_ID}:job/{state['Parameters']['JobName']}"
        else:
            arn = f"arn:aws:glue:{REGION}:{ACCOUNT_ID}:crawler/{state['Parameters']['Name']}"
        needed |= {(action, arn) for action in INTEGRATION_ACTIONS[state["Resource"]]}
    granted = set()
    for policy in resources["StateMachineRole"]["Properties"]["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            arns = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            granted |= {(a, r) for a in actions for r in arns}
    assert granted == needed


def test_role_needs_no_eventbridge_rule_for_glue_sync(machine):
    _, resources = machine
    text = json.dumps(resources["StateMachineRole"]["Properties"])
    assert "events:" not in text


def test_definition_follows_parameter_values():
    definition, _ = rendered_state_machine(
        GlueJobName="other-job", MostPopularCrawlerName="c-one", TopRatedCrawlerName="c-two"
    )
    assert definition["States"]["RunCurationJob"]["Parameters"]["JobName"] == "other-job"
    assert graph_problems(definition) == []
    assert Linter.validate(definition) == []


# ------------------------------------------ the validators catch mistakes
def _broken_next(d):
    d["States"]["RunCurationJob"]["Next"] = "NoSuchState"


def _unreachable(d):
    d["States"]["Orphan"] = {"Type": "Pass", "End": True}


def _catch_to_nowhere(d):
    d["States"]["RunCurationJob"]["Catch"][0]["Next"] = "Missing"


def _endless_loop(d):
    branch = d["States"]["CrawlCuratedTables"]["Branches"][0]["States"]
    branch["IsMostPopularCrawlerDone"]["Default"] = "Spin"
    branch["Spin"] = {"Type": "Pass", "Next": "Spin"}


def _branch_escapes_its_scope(d):
    branch = d["States"]["CrawlCuratedTables"]["Branches"][1]["States"]
    branch["WaitForTopRatedCrawler"]["Next"] = "CurationSucceeded"


def _no_catch(d):
    del d["States"]["RunCurationJob"]["Catch"]


def _catch_into_succeed(d):
    d["States"]["CrawlCuratedTables"]["Catch"][0]["Next"] = "CurationSucceeded"


def _fail_state_drops_cause(d):
    del d["States"]["CurationFailed"]["CausePath"]


def _lambda_task(d):
    d["States"]["RunCurationJob"]["Resource"] = "arn:aws:states:::lambda:invoke"


def _next_and_end(d):
    d["States"]["RunCurationJob"]["End"] = True


@pytest.mark.parametrize(
    ("mutate", "checker", "expected", "statelint_catches"),
    [
        pytest.param(_broken_next, graph_problems, "no such target", True, id="broken-Next"),
        pytest.param(_unreachable, graph_problems, "unreachable", True, id="unreachable-state"),
        pytest.param(_catch_to_nowhere, graph_problems, "no such target", True, id="Catch-target-missing"),
        pytest.param(_endless_loop, graph_problems, "never reach a terminal", False, id="loop-without-exit"),
        pytest.param(_branch_escapes_its_scope, graph_problems, "no such target", True, id="branch-Next-outside"),
        pytest.param(_next_and_end, graph_problems, "exactly one of Next and End", True, id="Next-and-End"),
        pytest.param(_no_catch, error_handling_problems, "no Catch", False, id="task-without-Catch"),
        pytest.param(_catch_into_succeed, error_handling_problems, "not a Fail state", False, id="Catch-into-Succeed"),
        pytest.param(_fail_state_drops_cause, error_handling_problems, "error/cause", False, id="Fail-drops-cause"),
        pytest.param(_lambda_task, resource_problems, "unexpected integration", False, id="unexpected-integration"),
    ],
)
def test_validators_reject_broken_definitions(machine, mutate, checker, expected, statelint_catches):
    definition = copy.deepcopy(machine[0])
    mutate(definition)
    problems = checker(definition)
    assert any(expected in p for p in problems), problems
    if statelint_catches:
        assert Linter.validate(definition) != []
