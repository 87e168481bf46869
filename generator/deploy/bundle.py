"""What ``dagen deploy`` puts where: the MWAA bundle under the DAGs prefix, the Spark scripts beside it.

Layout under the DAGs prefix (``s3://airflow-.../dags/``), the folder MWAA syncs
into every scheduler, DAG processor and worker::

    .airflowignore          generated: the DAG processor parses only the loader
    requirements.txt        generated: --constraint line of the Airflow version + dag-factory
    pipelines_loader.py     dags/pipelines_loader.py (else the package's own) naming its release: the switch
    releases/ID/            one release: everything the loader reads, under a name made from its content
        generator/**.py     the package that validated the specs (no __pycache__)
        schemas/*.json      the JSON Schemas the specs' ``$schema`` comment points to (else generated)
        pipelines/**.yaml   the specs and defaults.yaml
        pipelines/**.py     modules the specs' python tasks and notification callbacks call
        pipelines/**.sql    SQL files the specs' Athena tasks read (``query_file``) when they are compiled
        compiled/**.json    every spec's compiled configuration (the shipped build)

and ``spark_jobs/*.py`` and ``*.ipynb`` under the scripts prefix (``--scripts-uri``).

A release is uploaded whole before the loader names it, in one PUT of the loader: MWAA parses either the
old release or the new one, never a mix.  Every file carries the :class:`Phase` it is uploaded in;
``docs/deploying-dags.md`` explains the order.  Nothing here touches the network.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
from dataclasses import dataclass
from enum import IntEnum
from graphlib import CycleError, TopologicalSorter
from pathlib import Path, PurePosixPath

from generator.compile.cache import entry_json
from generator.compile.pipelines import DEFAULTS_NAMES, SPEC_SUFFIXES, SpecResult
from generator.compile.shipped_build import FOLDER as COMPILED_FOLDER
from generator.compile.shipped_build import entry_path
from generator.loader.dag_file import loader_source
from generator.spec.files_beside import SUFFIXES as READ_BESIDE_SUFFIXES

# The MWAA versions dagen is tested on (one lane each) and the Python each runs;
# the constraints file of requirements.txt is named after both.
AIRFLOW_PYTHON: dict[str, str] = {"3.3.1": "3.12", "2.10.3": "3.11"}
DEFAULT_AIRFLOW_VERSION = "3.3.1"
DAG_FACTORY_REQUIREMENT = "dag-factory==1.1.0"

LOADER = "pipelines_loader.py"
DAGS = "dags"  # the area under --prefix in the DAGs bucket
SCRIPTS = "scripts"  # the area under --scripts-uri
SCRIPT_SUFFIXES = (".py", ".ipynb")
# what specs call (.py) or read when they are compiled (.sql): uploaded before the specs
PIPELINE_CODE_SUFFIXES = (".py", *READ_BESIDE_SUFFIXES)

# One pattern per line, each meaning the same in Airflow 3's default glob syntax
# and Airflow 2.10's default regexp syntax ([core] dag_ignore_file_syntax):
#   "generator/"  glob: the directory generator at any depth, so it is never walked;
#                 regexp: any path containing "generator/", i.e. every file in it.
#   No "^" or "/..." anchors (a literal character in glob / never matching a
#   relative path in regexp), and "pipelines/" keeps its slash so that in regexp
#   it cannot match "pipelines_loader.py".  Airflow strips "#" to the end of a
#   line in both syntaxes, hence the comments.
AIRFLOWIGNORE = """\
# Written by `dagen deploy`: the DAG processor parses only pipelines_loader.py.
# Every pattern means the same in glob syntax (Airflow 3 default) and regexp syntax (Airflow 2.10 default).
releases/
generator/
pipelines/
schemas/
compiled/
requirements\\.txt
"""
RELEASES = "releases"  # releases/ID/...: what one deploy's loader reads
RELEASE_LINE = 'RELEASE = ""'  # the line of dags/pipelines_loader.py that a bundle's loader fills in


class Phase(IntEnum):
    """Upload order: a sync between two uploads only ever sees a set the loader can use."""

    IGNORE_FILE = 0  # first: nothing after it may be parsed as a DAG file
    SCRIPTS = 1  # before specs: a new spec may run a new script
    REQUIREMENTS = 2  # read only when the environment is updated: harmless early
    SCHEMAS = 3  # editor aids, never read while parsing
    PACKAGE = 4  # before specs: new specs may need new package code; imported modules before importers
    PIPELINE_CODE = 5  # before specs: a new spec may call a new function of pipelines/**.py or read a new .sql
    COMPILED = 6  # before specs: a new spec's entry is there when it arrives (an entry for other bytes is unused)
    DEFAULTS = 7  # before specs: a spec is merged over its folder's defaults
    SPECS = 8
    LOADER = 9  # last upload: it may need everything above
    OTHER = 10  # remote files dagen does not recognise (only ever deleted, and first)


class BundleError(Exception):
    """The project cannot be bundled: a one-line message and a hint."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


@dataclass(frozen=True)
class BundleFile:
    """One file to deploy: where it goes, what it holds, when it is uploaded."""

    area: str  # DAGS or SCRIPTS
    path: str  # relative to the area's prefix, "/"-separated
    content: bytes
    phase: Phase
    source: str  # what it was made from, for messages ("pipelines/x.yaml", "generated")
    sha256: str
    md5: str


def make_file(area: str, path: str, content: bytes, phase: Phase, source: str) -> BundleFile:
    # MD5 only because S3 reports it as the ETag of a plain upload: it lets an
    # unchanged file be recognised from the listing alone.  SHA-256 is the real check.
    return BundleFile(
        area=area,
        path=path,
        content=content,
        phase=phase,
        source=source,
        sha256=hashlib.sha256(content).hexdigest(),
        md5=hashlib.md5(content, usedforsecurity=False).hexdigest(),
    )


def release_of(path: str) -> str | None:
    """The release id of a path under releases/ID/, else None."""
    top, _, rest = path.partition("/")
    release, slash, _ = rest.partition("/")
    return release if top == RELEASES and slash and release else None


def phase_of(area: str, path: str) -> Phase:
    """The phase of a path, also for remote files that are no longer in the bundle."""
    if area == SCRIPTS:
        return Phase.SCRIPTS
    release = release_of(path)
    if release is not None:
        path = path.split("/", 2)[2]  # within a release, the order of the files as they used to be at the top
    top, _, rest = path.partition("/")
    if not rest:
        return {
            ".airflowignore": Phase.IGNORE_FILE,
            "requirements.txt": Phase.REQUIREMENTS,
            LOADER: Phase.LOADER,
        }.get(top, Phase.OTHER)
    if top == "generator":
        return Phase.PACKAGE
    if top == "schemas":
        return Phase.SCHEMAS
    if top == COMPILED_FOLDER:
        return Phase.COMPILED
    if top == "pipelines":
        if PurePosixPath(path).suffix in PIPELINE_CODE_SUFFIXES:
            return Phase.PIPELINE_CODE
        return Phase.DEFAULTS if PurePosixPath(path).name in DEFAULTS_NAMES else Phase.SPECS
    return Phase.OTHER


def supported_versions() -> str:
    return ", ".join(f"{version} (Python {python})" for version, python in AIRFLOW_PYTHON.items())


def requirements_txt(airflow_version: str) -> str:
    """MWAA's requirements.txt: the Airflow constraints of the version, then dag-factory."""
    python = AIRFLOW_PYTHON[airflow_version]
    url = f"https://raw.githubusercontent.com/apache/airflow/constraints-{airflow_version}/constraints-{python}.txt"
    return (
        f"# Written by `dagen deploy` for MWAA Airflow {airflow_version} (Python {python}).\n"
        f'--constraint "{url}"\n'
        f"{DAG_FACTORY_REQUIREMENT}\n"
    )


def _visible_files(folder: Path, pattern: str) -> list[Path]:
    """Files under ``folder`` matching ``pattern``, without hidden parts or __pycache__."""
    return sorted(
        path
        for path in folder.glob(pattern)
        if path.is_file()
        and not any(part.startswith(".") or part == "__pycache__" for part in path.relative_to(folder).parts)
    )


def _module_name(package_dir: Path, path: Path) -> str:
    parts = [package_dir.name, *path.relative_to(package_dir).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(tree: ast.AST, module: str, is_package: bool, known: set[str]) -> set[str]:
    """The modules of the package that ``module`` imports (anywhere, lazily or not)."""
    found: set[str] = set()
    typing_only = {  # `if TYPE_CHECKING:` imports never run
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for statement in node.body
        for inner in ast.walk(statement)
    }
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        for name in names:
            # "import a.b.c" also imports a and a.b.
            pieces = name.split(".")
            found.update(".".join(pieces[:i]) for i in range(1, len(pieces) + 1) if ".".join(pieces[:i]) in known)
    found.discard(module)
    return found


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    stack = [start]
    while stack:
        for module in graph.get(stack.pop(), set()) - seen:
            seen.add(module)
            stack.append(module)
    return seen


def package_upload_order(package_dir: Path) -> list[Path]:
    """The package's modules, each after every module of the package it imports.

    A sync between two uploads then never sees a new module that imports a
    module still in its old version; ties are broken by path.  If the imports
    form a cycle there is no such order and the path order is used.
    """
    files = _visible_files(package_dir, "**/*.py")
    by_name = {_module_name(package_dir, path): path for path in files}
    known = set(by_name)
    graph: dict[str, set[str]] = {}
    for name, path in by_name.items():
        try:
            tree = ast.parse(path.read_bytes(), filename=str(path))
        except SyntaxError as error:
            raise BundleError(
                f"{path.as_posix()}:{error.lineno}: the package does not compile: {error.msg}",
                "fix the module before deploying: every DAG import would fail with it",
            ) from None
        graph[name] = _imports(tree, name, path.name == "__init__.py", known)
    imports = {name: set(depends) for name, depends in graph.items()}
    for name, depends in graph.items():
        # Importing a.b runs a/__init__.py first, unless that __init__ imports a.b, itself or
        # through other modules (a package that gathers its modules): then a.b goes first, even
        # when a.b names its package in an import of a sibling (from a.c import x).
        pieces = name.split(".")
        parents = {".".join(pieces[:i]) for i in range(1, len(pieces))} & known
        gathering = {parent for parent in parents if name in _reachable(imports, parent)}
        depends.update(parents - gathering)
        depends.difference_update(gathering)
    sorter = TopologicalSorter(graph)
    try:
        sorter.prepare()
    except CycleError:
        return files
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=lambda module: by_name[module].as_posix())
        order.extend(ready)
        sorter.done(*ready)
    return [by_name[name] for name in order]


def shipped_entries(results: list[SpecResult]) -> dict[str, bytes]:
    """The shipped build of compiled specs: ``compiled/<spec>.json`` -> the entry, under the loader's cache key."""
    return {
        entry_path(result.file): entry_json(result.key, result.dag_id, result.config, result.files).encode()
        for result in results
        if result.key is not None and result.config is not None
    }


def write_dags_folder(files: list[BundleFile], folder: Path) -> Path:
    """The DAGs area of a bundle written into ``folder``, as MWAA syncs it into its DAGs folder."""
    for file in files:
        if file.area == DAGS:
            target = folder / file.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(file.content)
    return folder


def _require(path: Path, what: str, hint: str) -> None:
    if not path.exists():
        raise BundleError(f"{path.as_posix()} not found: {what}", hint)


def _refuse_links_out(folder: Path, root: Path, shown: str) -> None:
    """Refuse a symbolic link under ``folder`` (to a file or a folder) that leads out of ``root``."""
    for here, folders, files in os.walk(folder):  # links to folders are listed, not followed
        for name in [*folders, *files]:
            path = Path(here) / name
            if path.is_symlink() and not path.resolve().is_relative_to(root.resolve()):
                _read_inside(path, root, f"{shown}/{path.relative_to(folder).as_posix()}")


def refuse_links_out(project: Path, *, with_scripts: bool) -> None:
    """BundleError for the first symbolic link in the deployed folders that leads out of ``project``."""
    for folder in ("dags", "pipelines", "schemas", *(("spark_jobs",) if with_scripts else ())):
        if (project / folder).is_dir():
            _refuse_links_out(project / folder, project, folder)


def release_of_bundle(files: list[BundleFile]) -> str:
    """The release a bundle's loader names."""
    return next(release for file in files if (release := release_of(file.path)) is not None)


def _read_inside(path: Path, root: Path, shown: str) -> bytes:
    """A file's bytes, refused when it (or a folder on its way) is a link that leads out of ``root``."""
    if not path.resolve().is_relative_to(root.resolve()):
        raise BundleError(
            f"{shown}:1:1: a symbolic link to {path.resolve().as_posix()}, outside {root.as_posix()}; "
            "nothing was uploaded",
            "copy the file into the repository: a deploy uploads only files of the repository",
        )
    return path.read_bytes()


def release_id(files: list[tuple[str, bytes]]) -> str:
    """The name of a release: made from its files' paths and contents, so equal content gives an equal name."""
    digest = hashlib.sha256()
    for path, content in sorted(files):
        digest.update(f"{path}\0{hashlib.sha256(content).hexdigest()}\n".encode())
    return digest.hexdigest()[:16]


def bundle_loader(loader: bytes, release: str, shown: str) -> bytes:
    """The repository's loader with its release filled in: the one file MWAA parses, naming what it reads."""
    text = loader.decode("utf-8")
    if text.count(RELEASE_LINE) != 1:
        raise BundleError(
            f"{shown} has no line {RELEASE_LINE!r} for the deploy to fill in",
            "restore the loader with `dagen init --force` in a copy, or delete dags/pipelines_loader.py to deploy "
            "the installed dagen's own",
        )
    return text.replace(RELEASE_LINE, f'RELEASE = "{RELEASES}/{release}"').encode("utf-8")


def _packaged_schemas() -> list[tuple[str, bytes]]:
    """The JSON Schemas as ``dagen schema`` writes them (``make generated``), for a repository without schemas/."""
    from generator.spec.schema import SCHEMAS

    return [
        (f"{kind}.schema.json", (json.dumps(SCHEMAS[kind](), indent=2) + "\n").encode()) for kind in sorted(SCHEMAS)
    ]


def build_bundle(
    project: Path,
    airflow_version: str,
    *,
    package_dir: Path,
    with_scripts: bool,
    compiled: dict[str, bytes] | None = None,
) -> list[BundleFile]:
    """Every file to deploy, in upload order; ``compiled`` is the shipped build (path -> entry)."""
    project_hint = "run dagen deploy in the repository (or pass --project) holding pipelines/"
    _require(project / "pipelines", "the specs to deploy", project_hint)
    _require(package_dir / "__init__.py", "the generator package", "reinstall dagen")
    loader = project / "dags" / LOADER
    # a repository that holds only pipelines/ deploys the installed package's loader and schemas
    loader_text = _read_inside(loader, project, f"dags/{LOADER}") if loader.exists() else loader_source().encode()
    schemas = [
        (path.name, _read_inside(path, project, f"schemas/{path.name}"))
        for path in _visible_files(project / "schemas", "*.json")
    ] or _packaged_schemas()

    refuse_links_out(project, with_scripts=with_scripts)
    # what the release holds: (path within it, content, source, rank within its phase: the package's import order)
    release: list[tuple[str, bytes, str, int]] = []
    for name, content in schemas:
        release.append((f"schemas/{name}", content, "", 0))
    for rank, path in enumerate(package_upload_order(package_dir)):
        relative = f"generator/{path.relative_to(package_dir).as_posix()}"
        release.append((relative, _read_inside(path, package_dir, relative), "", rank))
    for path in _visible_files(project / "pipelines", "**/*"):
        if path.suffix in SPEC_SUFFIXES or path.suffix in PIPELINE_CODE_SUFFIXES:
            relative = f"pipelines/{path.relative_to(project / 'pipelines').as_posix()}"
            release.append((relative, _read_inside(path, project, relative), "", 0))
    release += [(entry, content, "compiled", 0) for entry, content in sorted((compiled or {}).items())]
    name = release_id([(path, content) for path, content, *_ in release])

    # (phase, rank within the phase, path): the upload order
    ranked: list[tuple[int, int, str, BundleFile]] = []

    def add(area: str, path: str, content: bytes, source: str, rank: int = 0) -> None:
        file = make_file(area, path, content, phase_of(area, path), source)
        ranked.append((file.phase, rank, path, file))

    add(DAGS, ".airflowignore", AIRFLOWIGNORE.encode(), "generated")
    add(DAGS, "requirements.txt", requirements_txt(airflow_version).encode(), "generated")
    add(
        DAGS,
        LOADER,
        bundle_loader(loader_text, name, f"dags/{LOADER}"),
        "generated",
    )
    for inside, content, source, rank in release:
        add(DAGS, f"{RELEASES}/{name}/{inside}", content, source or inside, rank)
    if with_scripts:
        jobs = project / "spark_jobs"
        scripts = [path for path in _visible_files(jobs, "*") if path.suffix in SCRIPT_SUFFIXES]
        if not scripts:
            raise BundleError(
                f"{jobs.as_posix()} holds no *.py or *.ipynb scripts to upload to --scripts-uri",
                "leave out --scripts-uri to deploy only the DAGs bundle",
            )
        for path in scripts:
            add(SCRIPTS, path.name, _read_inside(path, project, f"spark_jobs/{path.name}"), f"spark_jobs/{path.name}")
    return [file for *_, file in sorted(ranked, key=lambda entry: entry[:3])]
