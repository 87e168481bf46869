"""One spec's phases after a cache miss: load -> validate -> normalise -> lower -> configure.

:mod:`generator.compile.pipelines` runs them for every spec that neither the
compile cache nor the shipped build serves; a parse they all serve (a task
process, every warm parse) never imports this module, nor the schema, the
checks and the compiler it pulls in.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator.compile.dagfactory_config import to_dagfactory_config
from generator.compile.lower import lower
from generator.core.diagnostics import Diagnostic
from generator.core.model import PipelineSpec
from generator.core.provider_profile import ProviderProfile
from generator.core.value_formats import DAG_ID
from generator.spec.fan_out import expand, fan_out_diagnostics
from generator.spec.files import read_spec_files
from generator.spec.load import SourceDocument, load_bytes
from generator.spec.locate import Locator
from generator.spec.merge import merge_defaults
from generator.spec.normalise import normalise
from generator.spec.semantic import semantic_diagnostics


@dataclass
class Compiled:
    """What the phases made of one spec: its DAG id, and its diagnostics or its spec and configuration."""

    dag_id: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    spec: PipelineSpec | None = None
    config: dict[str, Any] | None = None
    files: dict[str, str] = field(default_factory=dict)  # the files it reads beside it -> SHA-256


def _file_name_problem(path: Path, file: str, dag_id: str) -> Diagnostic:
    suggestion = re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9_.-]", "_", dag_id)).strip("_")[:250] or "pipeline"
    return Diagnostic(
        code="DG412",
        file=file,
        line=1,
        column=1,
        message=f"the file name '{path.name}' does not give a valid DAG id: '{dag_id}' has characters "
        "other than letters, digits, '_', '-' and '.', or more than 250",
        hint=f"rename the file (for example to {suggestion}{path.suffix}) or set dag_id: in the spec",
    )


def compile_spec(
    raw: bytes,
    *,
    path: Path,
    file: str,
    dag_id: str,
    defaults: Callable[[], tuple[SourceDocument | None, list[Diagnostic]]],
    profile: ProviderProfile,
    airflow_major: int,
    compile_specs: bool,
    serverless: bool,
) -> Compiled:
    """The spec in ``raw`` (read as if at ``path``, named ``file``), its DAG id ``dag_id`` unless it sets one.

    ``defaults()`` gives its folder's validated defaults document, or the diagnostics that stop it.
    """
    doc, diagnostics = load_bytes(raw, file)
    if doc is None:
        return Compiled(dag_id, diagnostics)
    declared = isinstance(doc.data.get("dag_id"), str)
    out = Compiled(doc.data["dag_id"] if declared else dag_id)
    defaults_doc, defaults_problems = defaults()
    if defaults_problems:
        out.diagnostics = list(defaults_problems)
        return out
    from generator.spec.validate_schema import schema_diagnostics  # jsonschema: only for the specs it checks

    out.diagnostics = schema_diagnostics(doc, "pipeline")
    if "dag_id" not in doc.data and not DAG_ID.match(out.dag_id):  # a declared dag_id has the schema's pattern
        out.diagnostics.insert(0, _file_name_problem(path, file, out.dag_id))
    if out.diagnostics:
        return out
    merged = merge_defaults(doc.data, defaults_doc.data if defaults_doc else None)
    locator = Locator(doc, defaults_doc)
    out.diagnostics = fan_out_diagnostics(merged, locator.at)
    if out.diagnostics:
        return out
    expansion = expand(merged)
    at = expansion.locate(locator.at)
    out.diagnostics = semantic_diagnostics(expansion.spec, at)
    if serverless:
        from generator.spec.serverless_checks import serverless_diagnostics

        out.diagnostics += serverless_diagnostics(expansion.spec, at)
    files = read_spec_files(expansion.spec, folder=path.parent, file=file, at=at)
    out.diagnostics += files.diagnostics
    if out.diagnostics:
        return out
    out.spec = normalise(files.spec, dag_id=out.dag_id, file=file, fan_outs=expansion.members_of())
    if compile_specs:
        out.config = to_dagfactory_config(lower(out.spec, profile), airflow_major=airflow_major)
        out.files = files.digests
    return out
