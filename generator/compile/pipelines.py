"""Runs the phases over a set of spec files: load -> validate -> normalise -> lower -> configure.

The phases of one spec are in :mod:`generator.compile.spec_phases`, run for each spec
the compile cache or the shipped build does not serve.  Used alike by ``dagen
validate``/``compile``, and by the DAG loader, which then builds each configuration
(:mod:`generator.compile.build`).  Every file is processed; problems are collected
as diagnostics, never raised.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from generator.compile.cache import CompileCache
from generator.compile.shipped_build import ShippedBuild
from generator.core.diagnostics import Diagnostic
from generator.spec.files_beside import unchanged
from generator.spec.load import (
    MAX_FILE_BYTES,
    SourceDocument,
    TooLarge,
    declared_dag_id,
    load_bytes,
    read_file,
    read_regular,
)

if TYPE_CHECKING:  # a parse the cache serves whole imports none of the compiler (generator.compile.spec_phases)
    from generator.core.model import PipelineSpec
    from generator.core.provider_profile import ProviderProfile

DEFAULTS_NAMES = ("defaults.yaml", "defaults.yml")
MWAA, MWAA_SERVERLESS = "mwaa", "mwaa-serverless"
TARGETS = (MWAA, MWAA_SERVERLESS)  # an MWAA environment, or MWAA Serverless (its own checks, no cache)
SPEC_SUFFIXES = (".yaml", ".yml")
STDIN_NAME, STDIN_DAG_ID = "<stdin>", "stdin"  # a spec read from standard input: its name, its default DAG id


@dataclass
class SpecResult:
    """What became of one spec file."""

    path: Path
    file: str
    dag_id: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    spec: PipelineSpec | None = None
    config: dict[str, Any] | None = None
    key: str | None = None  # the compile cache key of its inputs (None when its folder's defaults are broken)
    files: dict[str, str] = field(default_factory=dict)  # the files it reads beside it -> SHA-256
    source: str = "compiled"  # or "cache", "shipped": where the configuration came from

    @property
    def ok(self) -> bool:
        return self.config is not None and not self.diagnostics


def is_spec(path: Path) -> bool:
    """A spec file by its name (a FIFO, a device or a dangling link is one too: it is reported, DG106)."""
    return (
        path.suffix in SPEC_SUFFIXES
        and path.name not in DEFAULTS_NAMES
        and not path.name.startswith(".")
        and not path.is_dir()
    )


def discover(paths: Iterable[Path]) -> list[Path]:
    """Spec files under the given files/folders (sorted), excluding defaults files."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if is_spec(p)))
        else:
            found.append(path)
    return list(dict.fromkeys(found))


def folder_prefix(folder: Path, resolved_root: Path) -> str | None:
    """What :func:`display_name` puts before the names of ``folder``'s files ("" or "a/b/"); None: outside the root.

    The folder resolved, not the file: a spec that is a symbolic link is named where it is.
    """
    try:
        relative = folder.resolve().relative_to(resolved_root).as_posix()
    except ValueError:
        return None
    return "" if relative == "." else f"{relative}/"


def display_name(path: Path, root: Path | None) -> str:
    """How a file is named in diagnostics and cache keys: relative to ``root`` when it is inside it."""
    prefix = folder_prefix(path.parent, root.resolve()) if root is not None else None
    return path.as_posix() if prefix is None else prefix + path.name


@dataclass
class _Defaults:
    """A folder's defaults.yaml: its bytes (part of every cache key), checked only when a spec is compiled.

    A cache or shipped entry exists only for defaults that were valid when it was compiled, and their bytes
    are in its key: a spec served from one never needs the check (nor jsonschema, 0.1 s to import).
    """

    raw: bytes = b""
    display: str = ""
    unreadable: list[Diagnostic] = field(default_factory=list)
    _checked: tuple[SourceDocument | None, list[Diagnostic]] | None = None

    def checked(self) -> tuple[SourceDocument | None, list[Diagnostic]]:
        """The validated document (None when there is none), or the diagnostics that stop its specs."""
        if self._checked is None:
            doc, diagnostics = None, list(self.unreadable)
            if self.display and not diagnostics:
                from generator.spec.validate_schema import schema_diagnostics

                doc, diagnostics = load_bytes(self.raw, self.display)
                if doc is not None:
                    diagnostics = schema_diagnostics(doc, "defaults")
            self._checked = (doc if not diagnostics else None, diagnostics)
        return self._checked


class _DefaultsCache:
    """Each folder's defaults.yaml, read (and, when needed, validated) once per run; and the folder's name."""

    def __init__(self, root: Path | None) -> None:
        self.root = root
        self.cache: dict[Path, _Defaults] = {}
        self.prefixes: dict[Path, str | None] = {}  # folder -> its folder_prefix
        self.resolved_root: Path | None = None

    def display(self, path: Path) -> str:
        """``display_name(path, root)``, resolving the root and each folder once per run (not twice per spec)."""
        if self.root is None:
            return path.as_posix()
        if path.parent not in self.prefixes:
            self.resolved_root = self.resolved_root or self.root.resolve()
            self.prefixes[path.parent] = folder_prefix(path.parent, self.resolved_root)
        prefix = self.prefixes[path.parent]
        return path.as_posix() if prefix is None else prefix + path.name

    def for_spec(self, spec_path: Path) -> _Defaults:
        folder = spec_path.parent
        if folder not in self.cache:
            entry = _Defaults()
            for name in DEFAULTS_NAMES:
                candidate = folder / name
                if candidate.is_file():
                    display = self.display(candidate)
                    raw, diagnostics = read_file(candidate, display)
                    entry = _Defaults(raw=raw or b"", display=display, unreadable=diagnostics)
                    break
            self.cache[folder] = entry
        return self.cache[folder]


def _precompiled(result: SpecResult, cache: CompileCache | None, shipped: ShippedBuild | None) -> bool:
    """Take the configuration from the cache, else from the shipped build, when one was compiled from these inputs."""
    hit, source = (cache.get(result.key) if cache is not None and result.key else None), "cache"
    if hit is None and shipped is not None:
        hit, source = shipped.get(result.file), "shipped"
    # the files the spec reads beside it (query_file) follow from its bytes; their content must match too
    if hit is None or hit.key != result.key or not unchanged(result.path.parent, hit.files):
        return False
    result.dag_id, result.config, result.files, result.source = hit.dag_id, hit.config, hit.files, source
    return True


def process_file(
    path: Path,
    *,
    profile: ProviderProfile,
    airflow_major: int,
    defaults: _DefaultsCache,
    cache: CompileCache | None = None,
    shipped: ShippedBuild | None = None,
    compile_specs: bool = True,
    target: str = MWAA,
) -> SpecResult:
    file = defaults.display(path)
    result = SpecResult(path=path, file=file, dag_id=path.stem)
    raw, diagnostics = read_file(path, file)
    if raw is None:
        result.diagnostics = diagnostics
        return result
    return _process_raw(
        result,
        raw,
        profile=profile,
        airflow_major=airflow_major,
        defaults=defaults,
        cache=cache,
        shipped=shipped,
        compile_specs=compile_specs,
        target=target,
    )


def _process_raw(
    result: SpecResult,
    raw: bytes,
    *,
    profile: ProviderProfile,
    airflow_major: int,
    defaults: _DefaultsCache,
    cache: CompileCache | None,
    shipped: ShippedBuild | None,
    compile_specs: bool,
    target: str,
) -> SpecResult:
    """The phases after reading: the spec's bytes, read as if they sat at ``result.path``."""
    path, file = result.path, result.file
    folder_defaults = defaults.for_spec(path)
    if not folder_defaults.unreadable:
        result.key = CompileCache.key(
            spec=raw, defaults=folder_defaults.raw, file=file, profile=profile.name, airflow_major=airflow_major
        )
        if _precompiled(result, cache, shipped):
            return result
    from generator.compile.spec_phases import compile_spec  # the compiler: never imported by a parse served whole

    compiled = compile_spec(
        raw,
        path=path,
        file=file,
        dag_id=result.dag_id,
        defaults=folder_defaults.checked,
        profile=profile,
        airflow_major=airflow_major,
        compile_specs=compile_specs,
        serverless=target == MWAA_SERVERLESS,
    )
    result.dag_id, result.diagnostics, result.spec = compiled.dag_id, compiled.diagnostics, compiled.spec
    result.config, result.files = compiled.config, compiled.files
    if result.config is not None and cache is not None and result.key is not None:
        cache.put(result.key, result.dag_id, result.config, files=result.files)
    return result


def _guarded(
    path: Path, root: Path | None, options: dict[str, Any], defaults: _DefaultsCache, raw: bytes | None = None
) -> SpecResult:
    """One spec's result, whatever it holds: an exception in any phase is that spec's diagnostic.

    With ``raw``, the spec is those bytes, named ``path.name`` in diagnostics (``<stdin>``), in ``path``'s folder.
    """
    try:
        if raw is None:
            return process_file(path, defaults=defaults, **options)
        result = SpecResult(path=path, file=path.name, dag_id=STDIN_DAG_ID)
        return _process_raw(result, raw, defaults=defaults, cache=None, shipped=None, **options)
    except Exception as error:  # noqa: BLE001 - a spec must never take the other specs down with it
        file = display_name(path, root) if raw is None else path.name
        return SpecResult(
            path=path,
            file=file,
            dag_id=path.stem,
            diagnostics=[
                Diagnostic(
                    code="DG601",
                    file=file,
                    message=f"internal error while checking the spec: {type(error).__name__}: {error}"[:500],
                    hint="please report this with the spec: every spec should get a located diagnostic",
                )
            ],
        )


PARALLEL_FROM = 200  # below this, starting processes costs more than it saves
PROGRESS_CHUNK = 25  # files per task of a parallel run: the progress counter moves this often


def _process_chunk(files: list[Path], *, root: Path | None, options: dict[str, Any]) -> list[SpecResult]:
    defaults = _DefaultsCache(root)
    return [_guarded(path, root, options, defaults) for path in files]


def process_bytes(
    raw: bytes,
    *,
    folder: Path,
    profile: ProviderProfile,
    airflow_major: int,
    compile_specs: bool = True,
    target: str = MWAA,
    name: str = STDIN_NAME,
) -> SpecResult:
    """One spec given as bytes (``dagen validate -``), named ``name`` in diagnostics, read as if it sat in
    ``folder`` (its ``defaults.yaml``, its ``query_file``); its DAG id is its ``dag_id``, else ``stdin``.
    Never cached: it has no file whose changes a cache entry could follow."""
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r} (one of {', '.join(TARGETS)})")
    options = {"profile": profile, "airflow_major": airflow_major, "compile_specs": compile_specs, "target": target}
    if len(raw) > MAX_FILE_BYTES:
        message = f"the input is {len(raw):,} bytes, over the limit of {MAX_FILE_BYTES:,}"
        too_large = Diagnostic(code="DG108", file=name, message=message, hint="split the pipeline")
        return SpecResult(path=folder / name, file=name, dag_id=STDIN_DAG_ID, diagnostics=[too_large])
    return _guarded(folder / name, None, options, _DefaultsCache(None), raw=raw)


def process(
    paths: Iterable[Path],
    *,
    profile: ProviderProfile,
    airflow_major: int,
    root: Path | None = None,
    cache: CompileCache | None = None,
    shipped: ShippedBuild | None = None,
    compile_specs: bool = True,
    workers: int = 1,
    established: dict[str, str] | None = None,
    folder_clashes: bool = False,
    target: str = MWAA,
    progress: Callable[[SpecResult, int, int], None] | None = None,
) -> list[SpecResult]:
    """Every spec under ``paths``, each with its diagnostics or its configuration.

    With a ``cache`` (or a ``shipped`` build), a spec compiled before from identical inputs
    skips straight to its configuration (its ``spec`` is then not set).  ``compile_specs=False`` stops after
    validation and normalising (what ``dagen validate`` needs).  ``workers > 1`` spreads
    many files over forked processes (the command line; never inside Airflow).  When two
    specs give one DAG id, the second gets DG406; ``established`` (DAG id -> file) names
    the file that keeps an id it already holds, whatever the path order.  With ``folder_clashes``, a
    spec named on its own also gets DG406 when another spec beside it (not being processed) gives its id.
    ``target`` is :data:`MWAA` (an MWAA environment) or :data:`MWAA_SERVERLESS`: then each spec also gets
    the service's checks (:mod:`generator.spec.serverless_checks`) and ``config`` stays the MWAA
    configuration, which :func:`generator.compile.serverless_workflow.workflow_yaml` turns into the workflow;
    no cache or shipped build serves it (their entries were compiled without those checks).
    ``progress(result, done, total)`` is called as each spec is done (in path order).
    """
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r} (one of {', '.join(TARGETS)})")
    files = discover(paths)
    serverless = target == MWAA_SERVERLESS
    options = {
        "profile": profile,
        "airflow_major": airflow_major,
        "cache": None if serverless else cache,
        "shipped": None if serverless else shipped,
        "compile_specs": compile_specs,
        "target": target,
    }
    results: list[SpecResult] = []
    if workers > 1 and len(files) >= PARALLEL_FROM and "fork" in multiprocessing.get_all_start_methods():
        from concurrent.futures import ProcessPoolExecutor  # the command line only: the loader never forks

        chunks = [files[start : start + PROGRESS_CHUNK] for start in range(0, len(files), PROGRESS_CHUNK)]
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            for part in pool.map(partial(_process_chunk, root=root, options=options), chunks):
                _done(results, part, progress, len(files))
    else:
        defaults = _DefaultsCache(root)
        for path in files:
            _done(results, [_guarded(path, root, options, defaults)], progress, len(files))
    first_file: dict[str, SpecResult] = {}
    # the file that holds a DAG id already (the loader's last registration) keeps it; else the first in path order
    established = established or {}
    for result in sorted(results, key=lambda result: established.get(result.dag_id) != result.file):
        earlier = first_file.setdefault(result.dag_id, result)
        if earlier is not result:
            result.diagnostics.append(
                Diagnostic(
                    code="DG406",
                    file=result.file,
                    message=f"DAG id '{result.dag_id}' is already used by {earlier.file}",
                    hint="set a different dag_id or rename one of the files",
                )
            )
            result.config = None
    if folder_clashes:
        _clashes_with_folders([Path(path) for path in paths], results, root)
    return results


def _done(
    results: list[SpecResult],
    part: list[SpecResult],
    progress: Callable[[SpecResult, int, int], None] | None,
    total: int,
) -> None:
    for result in part:
        results.append(result)
        if progress is not None:
            progress(result, len(results), total)


def _clashes_with_folders(paths: list[Path], results: list[SpecResult], root: Path | None) -> None:
    """DG406 for a spec named on its own whose DAG id another spec of its folder gives (as the loader would)."""
    processed = {result.path.resolve() for result in results}
    named = {path.resolve() for path in paths if not path.is_dir()}
    neighbours: dict[Path, list[tuple[str, str]]] = {}  # folder -> (DAG id, file) of the specs not processed
    for result in results:
        if result.path.resolve() not in named:
            continue
        folder = result.path.parent
        if folder not in neighbours:
            neighbours[folder] = []
            for other in sorted(p for p in folder.iterdir() if is_spec(p) and p.resolve() not in processed):
                try:
                    raw = read_regular(other)
                except (OSError, TooLarge):
                    continue  # it gets its own diagnostic when it is validated
                neighbours[folder].append((declared_dag_id(raw, other.stem), display_name(other, root)))
        for dag_id, other_file in neighbours[folder]:
            if dag_id == result.dag_id:
                result.diagnostics.append(
                    Diagnostic(
                        code="DG406",
                        file=result.file,
                        message=f"DAG id '{dag_id}' is already used by {other_file} in the same folder",
                        hint="set a different dag_id or rename one of the files: deployed together, the one "
                        "deployed later would be a placeholder",
                    )
                )
                result.config = None
