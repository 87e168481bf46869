"""Glue Data Quality in the emulator: rulesets, evaluation runs that finish, and their rule results.

moto 5.2.5 has none of these actions.  Rulesets are kept by name (CreateDataQualityRuleset refuses a
duplicate with ``AlreadyExistsException``; Get/Update/Delete of a missing one answer
``EntityNotFoundException``).  StartDataQualityRulesetEvaluationRun needs every named ruleset to exist
and is idempotent on its ``ClientToken``; the run goes ``RUNNING -> SUCCEEDED`` one state per
GetDataQualityRulesetEvaluationRun, with one result id per ruleset.  BatchGetDataQualityResult gives each
rule of the ruleset's DQDL (the top-level entries of ``Rules = [ ... ]``) a ``PASS``; the data is not
read.  With ``dagen run --fail TASK`` the first rule of each result ``FAIL``\\ s with the cause as its
``EvaluationMessage`` (the run itself succeeds, as in Glue, so ``verify_result_status`` fails the
task); with ``--flaky TASK`` the start call takes effect and its response is lost.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from generator.local.emulator.shared import current_origin, fail_cause, lose_responses_of, now, record


@dataclass
class EvaluationRun:
    """One StartDataQualityRulesetEvaluationRun, its rulesets' rules as they were when it started."""

    id: str
    request: dict[str, Any]
    rules: dict[str, list[str]]  # ruleset name -> its rules
    cause: str | None
    status: str = "RUNNING"
    started: float = field(default_factory=lambda: now().timestamp())

    def result_ids(self) -> list[str]:
        return [f"dqresult-{self.id}-{index}" for index in range(len(self.rules))]

    def advance(self) -> None:
        if self.status == "RUNNING":
            self.status = "SUCCEEDED"  # a failing rule does not fail the run: its result says FAIL

    def describe(self) -> dict[str, Any]:
        out = {
            "RunId": self.id,
            "DataSource": self.request.get("DataSource"),
            "Role": self.request.get("Role"),
            "NumberOfWorkers": self.request.get("NumberOfWorkers") or 5,
            "Timeout": self.request.get("Timeout") or 2880,
            "Status": self.status,
            "StartedOn": self.started,
            "LastModifiedOn": now().timestamp(),
            "RulesetNames": list(self.rules),
        }
        if self.status == "SUCCEEDED":
            out |= {"CompletedOn": now().timestamp(), "ExecutionTime": 1, "ResultIds": self.result_ids()}
        return out

    def result(self, index: int) -> dict[str, Any]:
        name = list(self.rules)[index]
        results = []
        for number, rule in enumerate(self.rules[name], start=1):
            failed = self.cause is not None and number == 1
            entry = {"Name": f"Rule_{number}", "Description": rule, "Result": "FAIL" if failed else "PASS"}
            results.append({**entry, "EvaluationMessage": self.cause} if failed else entry)
        passed = sum(1 for entry in results if entry["Result"] == "PASS")
        return {
            "ResultId": self.result_ids()[index],
            "Score": passed / len(results) if results else 1.0,
            "DataSource": self.request.get("DataSource"),
            "RulesetName": name,
            "RulesetEvaluationRunId": self.id,
            "StartedOn": self.started,
            "CompletedOn": now().timestamp(),
            "RuleResults": results,
        }


def rules_of(dqdl: str) -> list[str]:
    """The top-level rules of ``Rules = [ a, b, ... ]`` (commas inside brackets, parentheses or quotes do not split)."""
    text = dqdl.strip()
    start, end = text.find("["), text.rfind("]")
    if start < 0 or end <= start:
        return []
    rules, current, depth, quote = [], "", 0, ""
    for char in text[start + 1 : end]:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
        elif char == "," and depth == 0:
            rules.append(current.strip())
            current = ""
            continue
        current += char
    rules.append(current.strip())
    return [rule for rule in rules if rule]


def _store(response: Any) -> dict[str, Any]:
    backend = response.glue_backend.__dict__
    return backend.setdefault("dagen_data_quality", {"rulesets": {}, "runs": {}, "tokens": {}})


def install() -> None:
    import moto.glue.responses as glue_responses
    from moto.glue.exceptions import AlreadyExistsException, EntityNotFoundException

    cls = glue_responses.GlueResponse

    def ruleset(self: Any, name: Any) -> dict[str, Any]:
        found = _store(self)["rulesets"].get(name)
        if found is None:
            raise EntityNotFoundException(f"Cannot find Data Quality Ruleset in account: {name}")
        return dict(found)

    def create_data_quality_ruleset(self: Any) -> Any:
        name = self.parameters.get("Name")
        rulesets = _store(self)["rulesets"]
        if name in rulesets:
            raise AlreadyExistsException("DataQualityRuleset")
        stamp = now().timestamp()
        rulesets[name] = {
            "Name": name,
            "Ruleset": self.parameters.get("Ruleset", ""),
            "CreatedOn": stamp,
            "LastModifiedOn": stamp,
            **{key: self.parameters[key] for key in ("Description", "TargetTable") if key in self.parameters},
        }
        record("ruleset", str(name), rulesets[name])
        return 200, {}, json.dumps({"Name": name})

    def get_data_quality_ruleset(self: Any) -> Any:
        return 200, {}, json.dumps(ruleset(self, self.parameters.get("Name")))

    def update_data_quality_ruleset(self: Any) -> Any:
        name = self.parameters.get("Name")
        current = ruleset(self, name)
        for key in ("Description", "Ruleset"):
            if key in self.parameters:
                current[key] = self.parameters[key]
        current["LastModifiedOn"] = now().timestamp()
        _store(self)["rulesets"][name] = current
        return 200, {}, json.dumps({key: current.get(key) for key in ("Name", "Description", "Ruleset")})

    def delete_data_quality_ruleset(self: Any) -> Any:
        name = self.parameters.get("Name")
        ruleset(self, name)
        del _store(self)["rulesets"][name]
        return 200, {}, json.dumps({})

    def list_data_quality_rulesets(self: Any) -> Any:
        listed = [
            {key: value for key, value in found.items() if key != "Ruleset"}
            for _, found in sorted(_store(self)["rulesets"].items())
        ]
        return 200, {}, json.dumps({"Rulesets": listed})

    def start_data_quality_ruleset_evaluation_run(self: Any) -> Any:
        store = _store(self)
        token = self.parameters.get("ClientToken")
        if token and token in store["tokens"]:
            return 200, {}, json.dumps({"RunId": store["tokens"][token]})
        names = list(self.parameters.get("RulesetNames") or [])
        rules = {name: rules_of(ruleset(self, name)["Ruleset"]) for name in names}
        table = (self.parameters.get("DataSource") or {}).get("GlueTable") or {}
        origin = current_origin()
        run = EvaluationRun(
            id=f"dqrun-{uuid.uuid4().hex}",
            request=dict(self.parameters),
            rules=rules,
            cause=fail_cause(origin),
        )
        store["runs"][run.id] = run
        if token:
            store["tokens"][token] = run.id
        record("dq_evaluation", run.id, run, parent=f"{table.get('DatabaseName')}.{table.get('TableName')}")
        return 200, {}, json.dumps({"RunId": run.id})

    def run_of(self: Any, run_id: Any) -> EvaluationRun:
        found: EvaluationRun | None = _store(self)["runs"].get(run_id)
        if found is None:
            raise EntityNotFoundException(f"Cannot find Data Quality Ruleset Evaluation Run: {run_id}")
        return found

    def get_data_quality_ruleset_evaluation_run(self: Any) -> Any:
        run = run_of(self, self.parameters.get("RunId"))
        document = run.describe()  # as it was: the caller sees RUNNING once, then SUCCEEDED
        run.advance()
        return 200, {}, json.dumps(document)

    def batch_get_data_quality_result(self: Any) -> Any:
        results, missing = [], []
        for result_id in self.parameters.get("ResultIds") or []:
            run_id, _, index = str(result_id).removeprefix("dqresult-").rpartition("-")
            run = _store(self)["runs"].get(run_id)
            if run is None or run.status != "SUCCEEDED" or not index.isdigit() or int(index) >= len(run.rules):
                missing.append(result_id)
            else:
                results.append(run.result(int(index)))
        return 200, {}, json.dumps({"Results": results, "ResultsNotFound": missing})

    for handler in (
        create_data_quality_ruleset,
        get_data_quality_ruleset,
        update_data_quality_ruleset,
        delete_data_quality_ruleset,
        list_data_quality_rulesets,
        start_data_quality_ruleset_evaluation_run,
        get_data_quality_ruleset_evaluation_run,
        batch_get_data_quality_result,
    ):
        setattr(cls, handler.__name__, handler)
    # `--flaky TASK`: the run starts, then the caller gets an error (a retry starts another run).
    lose_responses_of(cls, ("start_data_quality_ruleset_evaluation_run",), "InvalidInputException")
