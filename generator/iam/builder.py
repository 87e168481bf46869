"""The policy builder every service's statements go through: ARNs, widened templates, few unique statements.

What each task needs is collected as (Sid, action, resource, condition) entries;
:meth:`PolicyBuilder.document` folds the actions that share resources and
condition values into one statement and numbers Sids that would repeat.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

TAG_KEY = "dagen:dag-id"
_TEMPLATE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)


def widen(value: str) -> str:
    """A runtime-templated value as an IAM wildcard pattern."""
    return _TEMPLATE.sub("*", value)


@dataclass
class Arns:
    """ARN builder for one target (concrete values, or CloudFormation pseudo parameters)."""

    partition: str = "aws"
    region: str = "*"
    account: str = "*"

    def make(self, service: str, resource: str, *, regional: bool = True) -> str:
        region = self.region if regional else ""
        return f"arn:{self.partition}:{service}:{region}:{self.account}:{resource}"


@dataclass(frozen=True)
class _Entry:
    sid: str
    action: str
    resource: str
    condition: tuple[str, str, str] | None  # (operator, key, value)


class PolicyBuilder:
    """Collects what each task needs, then folds it into few statements with unique Sids."""

    def __init__(self, arns: Arns) -> None:
        self.arns = arns
        self.entries: set[_Entry] = set()

    def allow(
        self,
        sid: str,
        actions: Iterable[str],
        resources: Iterable[str],
        condition: tuple[str, str, str] | None = None,
    ) -> None:
        resources = tuple(resources)
        self.entries.update(_Entry(sid, action, resource, condition) for action in actions for resource in resources)

    def document(self) -> dict[str, Any]:
        # action -> (resources, condition values), per Sid and condition key
        by_action: dict[tuple[str, str | None, str | None, str], tuple[set[str], set[str]]] = {}
        for entry in self.entries:
            operator, key, value = entry.condition or (None, None, None)
            resources, values = by_action.setdefault((entry.sid, operator, key, entry.action), (set(), set()))
            resources.add(entry.resource)
            if value is not None:
                values.add(value)
        # actions that share resources and condition values become one statement
        grouped: dict[tuple[str, str | None, str | None, frozenset[str], frozenset[str]], list[str]] = {}
        for (sid, operator, key, action), (resources, values) in by_action.items():
            grouped.setdefault((sid, operator, key, frozenset(resources), frozenset(values)), []).append(action)
        statements = []
        ordered = sorted(grouped.items(), key=lambda item: (item[0][0], sorted(item[1]), sorted(item[0][3])))
        per_sid = Counter(group[0] for group, _ in ordered)
        seen: Counter[str] = Counter()
        for (sid, operator, condition_key, resource_set, value_set), actions in ordered:
            seen[sid] += 1
            statement: dict[str, Any] = {
                "Sid": sid if per_sid[sid] == 1 else f"{sid}{seen[sid]}",  # Sids must be unique in a policy
                "Effect": "Allow",
                "Action": _one_or_list(sorted(actions)),
                "Resource": _one_or_list(sorted(resource_set)),
            }
            if operator and condition_key:
                statement["Condition"] = {operator: {condition_key: _one_or_list(sorted(value_set))}}
            statements.append(statement)
        return {"Version": "2012-10-17", "Statement": statements}


def _one_or_list(items: list[str]) -> str | list[str]:
    return items[0] if len(items) == 1 else items


def role_arn(arns: Arns, role: str) -> str:
    """The ARN of a role a spec names by name or ARN (widened when templated)."""
    if role.startswith("arn:"):
        return widen(role)
    return arns.make("iam", f"role/{widen(role)}", regional=False)
