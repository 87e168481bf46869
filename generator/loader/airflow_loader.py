"""What the single MWAA DAG file calls: the specs of a folder -> DAGs in its globals.

Each spec becomes exactly one DAG, and no spec can hide another:

- a valid spec is built from its configuration, compiled or taken from the
  compile cache or from the build ``dagen deploy`` shipped (:mod:`generator.compile.shipped_build`);
- a spec that built before and is invalid now keeps building its **last good**
  DAG (the cache's entry of its last good build, else the shipped one), tagged
  ``dagen:stale-spec``, with the diagnostics at the top of its docs and in its
  description, and logged at ERROR: a running run keeps its tasks;
- a spec that never built is a **placeholder**: unscheduled, paused when its DAG
  id is new, its docs list the diagnostics and its only task fails with them.

In a task process (Airflow's parsing context names one DAG id) only that DAG's
spec is read and built, found through the spec index (:mod:`generator.loader.spec_index`)
without opening the others; when the index cannot name exactly one spec, every
spec is loaded as in the DAG processor.  Nothing here touches the network, AWS,
Variables or the metadata DB.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

from generator.compile import build
from generator.compile.build import airflow_major
from generator.compile.cache import CacheEntry, CompileCache
from generator.compile.pipelines import DEFAULTS_NAMES, SpecResult, discover, display_name, is_spec, process
from generator.compile.shipped_build import ShippedBuild
from generator.core.diagnostics import Diagnostic
from generator.core.provider_profile import installed_profile
from generator.core.value_formats import DAG_ID
from generator.loader.spec_index import IndexEntry, SpecIndex, signature
from generator.spec.load import load_file

log = logging.getLogger(__name__)

BROKEN_TAG = "dagen:invalid-spec"
STALE_TAG = "dagen:stale-spec"
DEFAULT_OWNER = "airflow"  # Airflow's own default owner


def parsing_dag_id() -> str | None:
    """The DAG id Airflow's parsing context asks for (a task process), or None (the DAG processor, tests)."""
    try:
        from airflow.sdk import get_parsing_context
    except ImportError:
        try:
            from airflow.utils.dag_parsing_context import get_parsing_context  # type: ignore[no-redef]
        except ImportError:
            return None
    return get_parsing_context().dag_id or None


def report_invalid_spec(diagnostics: str) -> None:
    """The placeholder task: fail with the spec's diagnostics."""
    raise ValueError(f"this pipeline's spec is invalid, fix it and redeploy:\n{diagnostics}")


def _python_operator() -> Any:
    try:
        from airflow.providers.standard.operators.python import PythonOperator
    except ImportError:  # Airflow 2 without the standard provider
        from airflow.operators.python import PythonOperator  # type: ignore[no-redef]
    return PythonOperator


def _dag_class() -> Any:
    try:
        from airflow.sdk import DAG
    except ImportError:
        from airflow.models.dag import DAG  # type: ignore[no-redef]
    return DAG


def _listing(diagnostics: list[Diagnostic]) -> str:
    return "\n".join(d.text() for d in diagnostics)


def _declared_owner(path: Path) -> str | None:
    """The top-level ``owner`` of a YAML file, if it is a non-empty string (read with the spec loader's limits)."""
    try:
        doc, _ = load_file(path)
    except Exception:  # noqa: BLE001 - the file is already known to be broken in some way
        return None
    data = doc.data if doc is not None else None
    owner = data.get("owner") if isinstance(data, dict) else None
    return owner if isinstance(owner, str) and owner.strip() else None


def placeholder_owner(path: Path) -> str:
    """The owner an invalid spec asks for: its ``owner``, else its folder's defaults.yaml's, else ``airflow``.

    The spec did not validate, so it is read defensively: only a string at the key counts.
    """
    for candidate in (path, *(path.parent / name for name in DEFAULTS_NAMES)):
        owner = _declared_owner(candidate)  # a file that is not there has no owner
        if owner is not None:
            return owner
    return DEFAULT_OWNER


def placeholder_dag(dag_id: str, file: str, diagnostics: list[Diagnostic], owner: str = DEFAULT_OWNER) -> Any:
    """A paused, unscheduled DAG that shows why its spec could not be built, owned as its spec asks."""
    text = _listing(diagnostics)
    doc = (
        f"# This pipeline did not build\n\n`{file}` has {len(diagnostics)} problem(s); the DAG below is a "
        f"placeholder until the spec is fixed.\n\n```\n{text}\n```\n\nRun `dagen validate` locally to check a fix."
    )
    from datetime import datetime, timezone

    dag = _dag_class()(
        dag_id=dag_id,
        schedule=None,
        start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
        catchup=False,
        is_paused_upon_creation=True,
        default_args={"owner": owner},
        tags=[BROKEN_TAG],
        doc_md=doc,
        description=f"INVALID SPEC: {diagnostics[0].code} {diagnostics[0].message}"[:200],
    )
    _python_operator()(
        task_id="invalid_spec", python_callable=report_invalid_spec, op_args=[text], retries=0, dag=dag, doc_md=doc
    )
    return dag


def build_or_diagnose(result: SpecResult, *, direct: bool = False) -> Any:
    """The DAG of a compiled spec, or None with a DG601 diagnostic added to the result."""
    assert result.config is not None
    try:
        return build.build_dag(result.dag_id, result.config, direct=direct)
    except Exception as error:  # noqa: BLE001 - Airflow/dag-factory raise many types; each becomes a diagnostic
        result.diagnostics.append(
            Diagnostic(
                code="DG601",
                file=result.file,
                message=f"{type(error).__name__}: {error}",
                hint="please report this: a valid spec should always build",
            )
        )
        return None


def stale_config(config: dict[str, Any], file: str, diagnostics: list[Diagnostic]) -> dict[str, Any]:
    """A last good configuration marked so nobody misses that its spec is invalid now."""
    banner = (
        f"# Stale: this DAG runs the last good version of `{file}`\n\nThe spec is invalid now "
        f"({len(diagnostics)} problem(s)); until it is fixed, this DAG keeps the tasks of its last version that "
        f"built.\n\n```\n{_listing(diagnostics)}\n```\n\nRun `dagen validate` locally to check a fix."
    )
    first = diagnostics[0]
    return {
        **config,
        "tags": [*config.get("tags", []), STALE_TAG],
        "doc_md": f"{banner}\n\n---\n\n{config.get('doc_md') or ''}",
        "description": f"STALE SPEC: {first.code} {first.message}"[:200],
    }


def _last_good(
    result: SpecResult, known: IndexEntry | None, cache: CompileCache | None, shipped: ShippedBuild | None
) -> CacheEntry | None:
    entry = cache.get(known.good_key) if cache is not None and known is not None and known.good_key else None
    if entry is None and shipped is not None:
        entry = shipped.get(result.file)  # dagen deploy ships only specs that validate
    return entry


def _fallback_id(file: str) -> str:
    """A DAG id no spec's stem gives, for a placeholder whose own id cannot be used."""
    return ("dagen_invalid__" + re.sub(r"[^A-Za-z0-9_.-]", "_", file))[:250]


def _placeholder(result: SpecResult, taken: dict[str, Any]) -> tuple[str, Any] | None:
    for dag_id in (result.dag_id, _fallback_id(result.file)):
        if dag_id in taken or not DAG_ID.match(dag_id):
            continue
        try:
            return dag_id, placeholder_dag(dag_id, result.file, result.diagnostics, placeholder_owner(result.path))
        except Exception as error:  # noqa: BLE001 - never let one spec's placeholder take the loader down
            log.error("%s: cannot register a placeholder as %s: %s", result.file, dag_id, error)
    return None


class _Loader:
    """One parse of a pipelines folder: what it registers, and the index it leaves behind."""

    def __init__(self, folder: Path, root: Path | None, *, task_process: bool) -> None:
        self.folder, self.root = folder, root
        self.task_process = task_process  # it builds its one DAG without importing dag-factory
        self.cache = CompileCache.default()
        self.shipped = ShippedBuild.beside(root) if root is not None else None
        self.index = SpecIndex.load(self.cache, folder)
        self.signatures: dict[Path, Any] = {}
        self.known: dict[str, IndexEntry] = {}  # the index as this parse found it
        self.options: dict[str, Any] = {
            "profile": installed_profile(),
            "airflow_major": airflow_major(),
            "root": root,
            "cache": self.cache,
            "shipped": self.shipped,
        }

    def _path_of(self, file: str, folder: str) -> Path | None:
        """The path of an indexed spec, from its display name (text, not a path resolution per spec)."""
        return self.folder / file[len(folder) + 1 :] if file.startswith(f"{folder}/") else None

    def _holder_of(self, dag_id: str, folder: str) -> tuple[Path, str, IndexEntry] | None:
        """The spec the index records as built under ``dag_id``, if it still gives that DAG id.

        That spec keeps its DAG id in every full parse (``established``): a spec added or edited since to
        claim it gets DG406 instead, so no other spec needs to be looked at.
        """
        file = self.index.holder(dag_id)
        if file is None or (path := self._path_of(file, folder)) is None or not is_spec(path):
            return None
        entry = self.index.lookup(file, path)  # the one stat; the spec is read only if it changed
        return (path, file, entry) if entry is not None and dag_id in (entry.declared, entry.registered) else None

    def spec_of(self, dag_id: str) -> tuple[Path, str, IndexEntry | None] | None:
        """The one spec that gives ``dag_id``, from the index; None when it cannot tell."""
        # names made as text from the folder's display name, not a path resolution (or pathlib's relative_to,
        # 0.1 ms) per spec; a spec that is a link resolves elsewhere, misses the index and is only read
        folder = display_name(self.folder, self.root)
        found = self._holder_of(dag_id, folder)
        if found is not None:
            return found
        # no holder (a worker that never parsed the folder, a holder gone or renamed): every spec's id
        candidates = []
        base = os.path.join(str(self.folder), "")
        for path in discover([self.folder]):
            text = str(path)
            relative = text[len(base) :] if text.startswith(base) else path.relative_to(self.folder).as_posix()
            file = f"{folder}/{relative.replace(os.sep, '/')}"
            entry = self.index.lookup(file, path)
            if entry is None or dag_id in (entry.declared, entry.registered):
                candidates.append((path, file, entry))
        return candidates[0] if len(candidates) == 1 else None

    def results(self, wanted: str | None) -> list[SpecResult]:
        """The specs to build: the parsing context's one when the index names it, else all of them."""
        found = self.spec_of(wanted) if wanted else None
        if found is not None:
            path, file, entry = found
            paths, self.known = [path], ({file: entry} if entry is not None else {})
        else:
            paths, self.known = [self.folder], self.index.restart()  # rebuilt from this parse
        established = {entry.registered: file for file, entry in self.known.items() if entry.registered is not None}
        files = discover(paths)  # once: process() is handed the files, not the folder to walk again
        self.signatures = {path: signature(path) for path in files}  # before the reads: a race re-reads
        results = process(files, established=established, **self.options)
        return sorted(results, key=lambda result: not result.ok)  # valid specs claim their DAG ids first

    def _stale(self, result: SpecResult, last: CacheEntry, quiet: bool) -> Any:
        try:
            dag = build.build_dag(last.dag_id, stale_config(last.config, result.file, result.diagnostics))
        except Exception as error:  # noqa: BLE001 - then the spec gets its placeholder
            log.error("%s: its last good build no longer builds: %s", result.file, error)
            return None
        if not quiet:
            log.error("%s is invalid: DAG %s runs its last good build (%s)", result.file, last.dag_id, STALE_TAG)
        return dag

    def register(self, result: SpecResult, taken: dict[str, Any], *, quiet: bool) -> None:
        """Build one result into ``taken`` (DAG id -> DAG) and record it in the index."""
        known = self.known.get(result.file)
        good_key = known.good_key if known is not None else None
        dag_id: str | None = result.dag_id
        dag = build_or_diagnose(result, direct=self.task_process) if result.ok else None
        if dag is not None:
            good_key = result.key
        else:
            if not quiet:
                for diagnostic in result.diagnostics:
                    log.error("%s", diagnostic.text())
            last = _last_good(result, known, self.cache, self.shipped)
            if last is not None and last.dag_id not in taken:
                dag_id, dag = last.dag_id, self._stale(result, last, quiet)
            if dag is None:
                dag_id, dag = _placeholder(result, taken) or (None, None)
        if dag_id is not None and dag is not None:
            taken[dag_id] = dag
        sig = self.signatures.get(result.path)
        if sig is not None:
            self.index.set(result.file, IndexEntry(sig, result.dag_id, dag_id, good_key))


def load_pipelines(folder: Path, globals_dict: dict[str, Any], *, root: Path | None = None) -> list[SpecResult]:
    """Build the specs under ``folder`` into ``globals_dict`` (only the parsing context's, in a task process)."""
    wanted = parsing_dag_id()
    loader = _Loader(folder, root, task_process=wanted is not None)
    taken: dict[str, Any] = {}
    results = loader.results(wanted)
    for result in results:
        loader.register(result, taken, quiet=wanted is not None and result.dag_id != wanted)
    loader.index.save()
    globals_dict.update(taken)
    return results
