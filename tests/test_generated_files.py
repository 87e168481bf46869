"""Committed generated files are current, and the schema documents every key it defines."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from generator.core.diagnostics import codes_markdown
from generator.spec.reference_docs import reference_markdown
from generator.spec.schema import SCHEMAS

GENERATED = {
    "schemas/pipeline.schema.json": lambda: json.dumps(SCHEMAS["pipeline"](), indent=2) + "\n",
    "schemas/defaults.schema.json": lambda: json.dumps(SCHEMAS["defaults"](), indent=2) + "\n",
    "docs/diagnostics.md": codes_markdown,
    "docs/spec-reference.md": reference_markdown,
}


@pytest.mark.parametrize("path", sorted(GENERATED))
def test_generated_file_is_current(repo: Path, path: str) -> None:
    assert (repo / path).read_text(encoding="utf-8") == GENERATED[path](), f"run `make generated` ({path})"


def user_properties(schema: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(schema, dict):
        for name, sub in schema.get("properties", {}).items():
            yield f"{where}.{name}", sub
            yield from user_properties(sub, f"{where}.{name}")
        for key, sub in schema.items():
            if key not in ("properties", "examples", "default"):
                yield from user_properties(sub, f"{where}/{key}")
    elif isinstance(schema, list):
        for index, sub in enumerate(schema):
            yield from user_properties(sub, f"{where}[{index}]")


@pytest.mark.parametrize("kind", sorted(SCHEMAS))
def test_every_property_has_a_description_and_an_example(kind: str) -> None:
    undocumented = [
        where
        for where, sub in user_properties(SCHEMAS[kind]())
        if "/if" not in where and not (sub.get("description") and sub.get("examples"))
    ]
    assert undocumented == []


@pytest.mark.parametrize("kind", sorted(SCHEMAS))
def test_objects_users_type_into_are_closed(kind: str) -> None:
    open_objects = [
        where
        for where, sub in user_properties(SCHEMAS[kind]())
        if "properties" in sub and sub.get("additionalProperties") is not False
    ]
    assert open_objects == []


def test_seed_specs_point_editors_at_the_schema(repo: Path) -> None:
    for path in sorted((repo / "pipelines").glob("*.yaml")):
        kind = "defaults" if path.name == "defaults.yaml" else "pipeline"
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first == f"# yaml-language-server: $schema=../schemas/{kind}.schema.json", path.name
