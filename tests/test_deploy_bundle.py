"""``dagen deploy`` without a bucket: what the bundle holds, its upload order, .airflowignore, the plan.

The S3 side runs against a real S3-compatible server in tests/test_deploy.py.
"""

from __future__ import annotations

import ast
import io
import shutil
from pathlib import Path

import pytest

from generator.compile.build import airflow_major
from generator.deploy.bundle import (
    AIRFLOWIGNORE,
    DAGS,
    SCRIPTS,
    BundleError,
    Phase,
    build_bundle,
    make_file,
    package_upload_order,
    phase_of,
    release_id,
    release_of,
    requirements_txt,
)
from generator.deploy.command import PACKAGE_DIR, main
from generator.deploy.parse_budget import Measured, verdict
from generator.deploy.plan import (
    ADD,
    CHANGE,
    DELETE,
    Location,
    RemoteObject,
    make_plan,
    parse_bucket,
    parse_folder_uri,
    parse_prefix,
)
from generator.deploy.progress import progress

DATA = Path(__file__).parent / "deploy"


def write_dags_area(repo: Path, folder: Path) -> tuple[Path, str]:
    """The DAGs area of the bundle written to a folder, as MWAA syncs it, and the release it holds."""
    files = build_bundle(repo, "3.3.1", package_dir=PACKAGE_DIR, with_scripts=False)
    for file in files:
        target = folder / file.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(file.content)
    [release] = {release_of(file.path) for file in files} - {None}
    return folder, release


# --------------------------------------------------------------- requirements.txt


@pytest.mark.parametrize(
    ("version", "constraint"),
    [
        ("3.3.1", "https://raw.githubusercontent.com/apache/airflow/constraints-3.3.1/constraints-3.12.txt"),
        ("2.10.3", "https://raw.githubusercontent.com/apache/airflow/constraints-2.10.3/constraints-3.11.txt"),
    ],
)
def test_requirements_pin_dag_factory_under_the_airflow_constraints(version: str, constraint: str) -> None:
    python = constraint.rsplit("-", 1)[1].removesuffix(".txt")
    assert requirements_txt(version).splitlines() == [
        f"# Written by `dagen deploy` for MWAA Airflow {version} (Python {python}).",
        f'--constraint "{constraint}"',
        "dag-factory==1.1.0",
    ]


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (
            ["--bucket", "airflow-x", "--airflow-version", "3.0.6"],
            "argument --airflow-version: unsupported Airflow version '3.0.6'; "
            "supported: 3.3.1 (Python 3.12), 2.10.3 (Python 3.11)",
        ),
        (
            ["--bucket", "airflow-x", "--scripts-uri", "s3://dagen-data"],
            "argument --scripts-uri: 's3://dagen-data' is not a folder URI like s3://BUCKET/spark_jobs/ "
            "(a bucket root is refused: --prune would empty it)",
        ),
        (
            ["--bucket", "airflow-x", "--scripts-uri", "s3://dagen-data/"],
            "argument --scripts-uri: 's3://dagen-data/' is not a folder URI like s3://BUCKET/spark_jobs/ "
            "(a bucket root is refused: --prune would empty it)",
        ),
        (
            ["--bucket", "airflow-x", "--prefix", "/"],
            "argument --prefix: '/' is not a folder like 'dags' (letters, digits, '-', '_', separated by '/')",
        ),
        (["--bucket", "Airflow_X"], "argument --bucket: 'Airflow_X' is not a bucket name"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(argv: list[str], error: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"dagen deploy: error: {error}"


def test_scripts_inside_the_dags_prefix_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--bucket", "airflow-x", "--scripts-uri", "s3://airflow-x/dags/spark_jobs/"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "dagen deploy: --scripts-uri s3://airflow-x/dags/spark_jobs/ overlaps the DAGs folder s3://airflow-x/dags/",
        "    hint: use a folder outside the DAGs prefix: MWAA would parse the scripts as DAG files",
    ]


@pytest.mark.parametrize(
    ("text", "prefix"),
    [("dags", "dags/"), ("/dags/", "dags/"), ("team/dags", "team/dags/"), ("", None), ("a//b", None)],
)
def test_prefix_forms(text: str, prefix: str | None) -> None:
    assert parse_prefix(text) == prefix


@pytest.mark.parametrize(
    ("text", "location"),
    [
        ("s3://dagen-data/spark_jobs", Location("dagen-data", "spark_jobs/")),
        ("s3://dagen-data/jobs/spark/", Location("dagen-data", "jobs/spark/")),
        ("s3://dagen-data", None),
        ("dagen-data/spark_jobs", None),
    ],
)
def test_scripts_uri_forms(text: str, location: Location | None) -> None:
    assert parse_folder_uri(text) == location


def test_bucket_forms() -> None:
    assert [parse_bucket(text) for text in ("airflow-x", "s3://airflow-x/", "UPPER", "a")] == [
        "airflow-x",
        "airflow-x",
        None,
        None,
    ]


# ------------------------------------------------------------------- the bundle


def test_bundle_holds_exactly_what_mwaa_needs_in_upload_order(repo: Path, tmp_path: Path) -> None:
    package = tmp_path / "generator"
    shutil.copytree(PACKAGE_DIR, package, ignore=shutil.ignore_patterns("__pycache__"))
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "cli.cpython-312.pyc").write_bytes(b"\0")
    (package / "__pycache__" / "stray.py").write_text("")
    (package / ".editor_backup.py").write_text("")

    files = build_bundle(repo, "3.3.1", package_dir=package, with_scripts=True)

    modules = [path.relative_to(package).as_posix() for path in package_upload_order(package)]
    assert sorted(modules) == sorted(
        path.relative_to(package).as_posix()
        for path in package.rglob("*.py")
        if "__pycache__" not in path.parts and not path.name.startswith(".")
    )
    assert "cli.py" in modules and "task_types/emr_step.py" in modules
    scripts = sorted(p.name for p in (repo / "spark_jobs").iterdir() if p.suffix in (".py", ".ipynb"))
    assert "find_best_sellers.ipynb" in scripts and "spark_job_common.py" in scripts
    specs = sorted(p.name for p in (repo / "pipelines").glob("*.yaml") if p.name != "defaults.yaml")
    release = {  # path within the release -> content, in upload order (no compiled entries: none given)
        **{f"schemas/{p.name}": p.read_bytes() for p in sorted((repo / "schemas").glob("*.json"))},
        **{f"generator/{module}": (package / module).read_bytes() for module in modules},
        "pipelines/defaults.yaml": (repo / "pipelines" / "defaults.yaml").read_bytes(),
        **{f"pipelines/{name}": (repo / "pipelines" / name).read_bytes() for name in specs},
    }
    name = release_id(list(release.items()))
    assert [(file.area, file.path) for file in files] == [
        (DAGS, ".airflowignore"),
        *((SCRIPTS, script) for script in scripts),
        (DAGS, "requirements.txt"),
        *((DAGS, f"releases/{name}/{path}") for path in release),
        (DAGS, "pipelines_loader.py"),
    ]
    phases = [file.phase for file in files]
    assert phases == sorted(phases)
    by_path = {file.path: file for file in files}
    assert {path: by_path[f"releases/{name}/{path}"].content for path in release} == release
    loader = (repo / "dags" / "pipelines_loader.py").read_text()
    assert loader.count('RELEASE = ""') == 1
    assert (
        by_path["pipelines_loader.py"].content
        == loader.replace('RELEASE = ""', f'RELEASE = "releases/{name}"').encode()
    )
    assert by_path["pipelines_loader.py"].source == "generated"
    assert by_path[f"releases/{name}/generator/cli.py"].source == "generator/cli.py"
    assert by_path[f"releases/{name}/pipelines/defaults.yaml"].source == "pipelines/defaults.yaml"
    assert by_path["requirements.txt"].source == "generated"
    assert by_path[".airflowignore"].content == AIRFLOWIGNORE.encode()


def test_a_release_is_named_after_its_files_and_nothing_else() -> None:
    files = [("pipelines/a.yaml", b"tasks: {}\n"), ("generator/cli.py", b"x = 1\n")]
    name = release_id(files)
    assert len(name) == 16 and int(name, 16) >= 0
    assert release_id(files[::-1]) == name  # the order of the files does not count
    assert release_id([files[0], ("generator/cli.py", b"x = 2\n")]) != name  # one byte does
    assert release_id([files[0], ("generator/main.py", b"x = 1\n")]) != name  # and so does a path
    assert release_id(files[:1]) != name


def test_a_loader_without_its_release_line_is_refused(repo: Path, tmp_path: Path) -> None:
    for folder in ("dags", "pipelines", "schemas"):
        shutil.copytree(repo / folder, tmp_path / folder)
    loader = tmp_path / "dags" / "pipelines_loader.py"
    loader.write_text(loader.read_text().replace('RELEASE = ""', 'RELEASE = "releases/mine"'))
    with pytest.raises(BundleError) as error:
        build_bundle(tmp_path, "3.3.1", package_dir=PACKAGE_DIR, with_scripts=False)
    assert (error.value.message, error.value.hint) == (
        "dags/pipelines_loader.py has no line 'RELEASE = \"\"' for the deploy to fill in",
        "restore the loader with `dagen init --force` in a copy, or delete dags/pipelines_loader.py to deploy the "
        "installed dagen's own",
    )


def test_a_repository_of_only_pipelines_deploys_the_packages_loader_and_schemas(repo: Path, tmp_path: Path) -> None:
    """What ``pip install dagen`` gives a repository without dags/ and schemas/: the same bundle, byte for byte."""
    shutil.copytree(repo / "pipelines", tmp_path / "pipelines")
    only_pipelines = build_bundle(tmp_path, "3.3.1", package_dir=PACKAGE_DIR, with_scripts=False)
    full = build_bundle(repo, "3.3.1", package_dir=PACKAGE_DIR, with_scripts=False)
    assert [(file.path, file.content) for file in only_pipelines] == [(file.path, file.content) for file in full]
    assert any(file.path.endswith("/schemas/pipeline.schema.json") for file in full)


@pytest.mark.parametrize(
    ("area", "path", "phase"),
    [
        (DAGS, ".airflowignore", Phase.IGNORE_FILE),
        (SCRIPTS, "job.py", Phase.SCRIPTS),
        (DAGS, "requirements.txt", Phase.REQUIREMENTS),
        (DAGS, "releases/0123456789abcdef/schemas/pipeline.schema.json", Phase.SCHEMAS),
        (DAGS, "releases/0123456789abcdef/generator/cli.py", Phase.PACKAGE),
        (DAGS, "releases/0123456789abcdef/pipelines/sql/daily.sql", Phase.PIPELINE_CODE),
        (DAGS, "releases/0123456789abcdef/compiled/pipelines/a.yaml.json", Phase.COMPILED),
        (DAGS, "releases/0123456789abcdef/pipelines/defaults.yaml", Phase.DEFAULTS),
        (DAGS, "releases/0123456789abcdef/pipelines/team/a.yaml", Phase.SPECS),
        (DAGS, "pipelines_loader.py", Phase.LOADER),
        (DAGS, "generator/cli.py", Phase.PACKAGE),  # the layout before releases: still recognised
        (DAGS, "releases/stray.txt", Phase.OTHER),  # not inside a release
        (DAGS, "hand_written_dag.py", Phase.OTHER),
    ],
)
def test_phases_within_a_release_are_those_of_the_files_inside(area: str, path: str, phase: Phase) -> None:
    assert phase_of(area, path) == phase
    assert release_of(path) == ("0123456789abcdef" if path.startswith("releases/0123") else None)


def test_sql_and_code_beside_the_specs_go_up_in_the_release_before_the_specs(repo: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    for name in ("dags", "pipelines", "schemas"):
        shutil.copytree(repo / name, project / name)
    pipelines = project / "pipelines"
    for path, text in {
        "sql/daily_counts.sql": "SELECT 1\n",  # what a query_file reads
        "team/sql/report.sql": "SELECT 2\n",  # beside a spec in a subfolder
        "lib/alerts.py": "",
        "sql/.draft.sql": "SELECT 3\n",  # hidden: never bundled (and no query_file can name it)
        "notes.txt": "",  # neither code nor SQL
    }.items():
        (pipelines / path).parent.mkdir(parents=True, exist_ok=True)
        (pipelines / path).write_text(text)

    files = build_bundle(project, "3.3.1", package_dir=PACKAGE_DIR, with_scripts=False)

    [name] = {release_of(file.path) for file in files} - {None}
    specs = sorted(p.name for p in pipelines.glob("*.yaml") if p.name != "defaults.yaml")
    inside = f"releases/{name}/pipelines/"
    assert [(file.path.removeprefix(inside), file.phase) for file in files if file.path.startswith(inside)] == [
        ("lib/alerts.py", Phase.PIPELINE_CODE),
        ("sql/daily_counts.sql", Phase.PIPELINE_CODE),
        ("team/sql/report.sql", Phase.PIPELINE_CODE),
        ("defaults.yaml", Phase.DEFAULTS),
        *((spec, Phase.SPECS) for spec in specs),
    ]
    assert not any(file.path.startswith("pipelines/") for file in files)  # nothing of a release outside it
    by_path = {file.path: file for file in files}
    assert by_path[f"{inside}sql/daily_counts.sql"].content == b"SELECT 1\n"
    assert by_path[f"{inside}sql/daily_counts.sql"].source == "pipelines/sql/daily_counts.sql"


def test_without_scripts_uri_no_script_is_bundled(repo: Path) -> None:
    files = build_bundle(repo, "3.3.1", package_dir=PACKAGE_DIR, with_scripts=False)
    assert {file.area for file in files} == {DAGS}


def test_package_upload_order_puts_every_module_after_what_it_imports() -> None:
    """Path order would be __init__, alpha, beta, sub/__init__, sub/leaf, zeta."""
    package = DATA / "import_order" / "pkg"
    assert [path.relative_to(package).as_posix() for path in package_upload_order(package)] == [
        "__init__.py",
        "sub/leaf.py",  # sub/__init__ imports it
        "sub/__init__.py",  # beta imports pkg.sub (lazily)
        "beta.py",  # alpha imports it (relatively)
        "alpha.py",
        "zeta.py",
    ]


def test_typing_only_imports_and_packages_that_gather_their_modules_keep_an_import_order() -> None:
    """Path order would be __init__, a_service, b_models, sub/__init__, sub/api, sub/impl."""
    package = DATA / "import_order_gathering" / "pkg"
    assert [path.relative_to(package).as_posix() for path in package_upload_order(package)] == [
        "__init__.py",
        "b_models.py",  # its `if TYPE_CHECKING:` import of a_service never runs: no cycle
        "sub/impl.py",  # sub/__init__ imports it through api
        "a_service.py",
        "sub/api.py",  # `from pkg.sub.impl import ...` names pkg.sub, which gathers api: no edge back
        "sub/__init__.py",
    ]


def _module_level_imports(path: Path, module: str, known: set[str]) -> set[str]:
    """The modules of the package that ``module`` imports when it is imported: the statements at its top
    level (in ``if``, ``try`` and ``with`` blocks too), but not in functions or under ``if TYPE_CHECKING:``."""

    def statements(body: list[ast.stmt]) -> list[ast.stmt]:
        found: list[ast.stmt] = []
        for node in body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                found += statements(node.orelse)
            elif isinstance(node, (ast.If, ast.Try, ast.With)):
                blocks = [node.body, node.orelse if not isinstance(node, ast.With) else []]
                if isinstance(node, ast.Try):
                    blocks += [node.finalbody, *(handler.body for handler in node.handlers)]
                found += [inner for block in blocks for inner in statements(block)]
            else:
                found.append(node)
        return found

    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in statements(ast.parse(path.read_bytes()).body):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names |= {base, *(f"{base}.{alias.name}" for alias in node.names)}
    return {name for name in names if name in known and name != module}


def test_the_real_package_goes_up_in_an_import_order_not_the_path_order() -> None:
    """Every module of the package after each module it imports when it is imported, and after its packages'
    ``__init__`` unless that ``__init__`` imports it (directly or not): what Python does, so no cycle made
    the order fall back to the path order."""
    order = package_upload_order(PACKAGE_DIR)
    paths = [path.relative_to(PACKAGE_DIR).as_posix() for path in order]
    assert sorted(paths) == [path.relative_to(PACKAGE_DIR).as_posix() for path in sorted(order)]  # every module
    assert paths != sorted(paths)  # path order would be a fallback (or a package without imports)
    assert paths.index("deploy/command.py") < paths.index("cli.py")  # cli imports the deploy command

    def name(path: Path) -> str:
        parts = ["generator", *path.relative_to(PACKAGE_DIR).with_suffix("").parts]
        return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

    names = [name(path) for path in order]
    position = {module: index for index, module in enumerate(names)}
    imports = {name(path): _module_level_imports(path, name(path), set(names)) for path in order}

    def reachable(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for module in imports[todo.pop()] - seen:
                seen.add(module)
                todo.append(module)
        return seen

    late = []
    for module in names:
        packages = {module.rsplit(".", depth)[0] for depth in range(1, module.count(".") + 1)} & set(names)
        late += [
            (module, "imports", other) for other in imports[module] - packages if position[other] > position[module]
        ]
        late += [
            (module, "in package", package)
            for package in packages
            if module not in reachable(package) and position[package] > position[module]
        ]
    assert late == []


def test_import_cycle_falls_back_to_path_order() -> None:
    package = DATA / "import_cycle" / "loop"
    assert [path.name for path in package_upload_order(package)] == ["__init__.py", "a.py", "b.py"]


def test_a_package_that_does_not_compile_is_not_deployed(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "broken.py").write_text("def f(:\n")
    with pytest.raises(BundleError) as error:
        package_upload_order(package)
    assert (error.value.message, error.value.hint) == (
        f"{(package / 'broken.py').as_posix()}:1: the package does not compile: invalid syntax",
        "fix the module before deploying: every DAG import would fail with it",
    )


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("pipelines", "pipelines not found: the specs to deploy"),  # dags/ and schemas/ the package has
        ("spark_jobs", "spark_jobs holds no *.py or *.ipynb scripts to upload to --scripts-uri"),
    ],
)
def test_an_incomplete_project_is_refused(repo: Path, tmp_path: Path, missing: str, message: str) -> None:
    for name in ("dags", "pipelines", "schemas", "spark_jobs"):
        shutil.copytree(repo / name, tmp_path / name)
    target = tmp_path / missing
    target.unlink() if target.is_file() else shutil.rmtree(target)
    with pytest.raises(BundleError) as error:
        build_bundle(tmp_path, "3.3.1", package_dir=PACKAGE_DIR, with_scripts=True)
    assert error.value.message == f"{tmp_path.as_posix()}/{message}"


# --------------------------------------------------------------- .airflowignore


def _find_path_from_directory():
    try:
        from airflow._shared.module_loading.file_discovery import find_path_from_directory  # Airflow 3
    except ImportError:
        from airflow.utils.file import find_path_from_directory  # Airflow 2.10
    return find_path_from_directory


@pytest.mark.parametrize("syntax", ["glob", "regexp"])
def test_airflowignore_leaves_only_the_loader_in_both_syntaxes(repo: Path, tmp_path: Path, syntax: str) -> None:
    folder, release = write_dags_area(repo, tmp_path / "dags")
    seen = sorted(
        Path(path).relative_to(folder).as_posix()
        for path in _find_path_from_directory()(folder, ".airflowignore", syntax)
    )
    assert seen == ["pipelines_loader.py"]

    # Without the ignore file the DAG processor would walk the release: the package, the specs, the schemas.
    (folder / ".airflowignore").write_text("")
    seen = sorted(
        Path(path).relative_to(folder).as_posix()
        for path in _find_path_from_directory()(folder, ".airflowignore", syntax)
    )
    inside = f"releases/{release}/"
    assert f"{inside}generator/loader/airflow_loader.py" in seen and f"{inside}pipelines/salary_batch_etl.yaml" in seen
    assert f"{inside}schemas/pipeline.schema.json" in seen and "requirements.txt" in seen

    # releases/ alone keeps the whole release out (the other patterns, any folder of those names anywhere).
    (folder / ".airflowignore").write_text("releases/\n")
    seen = sorted(
        Path(path).relative_to(folder).as_posix()
        for path in _find_path_from_directory()(folder, ".airflowignore", syntax)
    )
    assert seen == ["pipelines_loader.py", "requirements.txt"]


def test_the_lane_default_syntax_lists_only_the_loader(repo: Path, tmp_path: Path) -> None:
    """What the DAG processor of this lane lists with its default settings (safe mode, default syntax)."""
    from airflow.configuration import conf
    from airflow.utils.file import list_py_file_paths

    assert conf.get("core", "dag_ignore_file_syntax") == {3: "glob", 2: "regexp"}[airflow_major()]
    folder, release = write_dags_area(repo, tmp_path / "dags")
    assert list_py_file_paths(folder) == [str(folder / "pipelines_loader.py")]
    (folder / ".airflowignore").unlink()
    assert str(folder / "releases" / release / "generator" / "loader" / "airflow_loader.py") in list_py_file_paths(
        folder
    )


# --------------------------------------------------------------------- the plan

DAGS_AT = Location("airflow-x", "dags/")
SCRIPTS_AT = Location("dagen-data", "spark_jobs/")


def _file(area: str, path: str, text: str) -> object:
    from generator.deploy.bundle import phase_of

    return make_file(area, path, text.encode(), phase_of(area, path), path)


def _remote(file, *, etag: str | None = None, sha256: str | None = None) -> RemoteObject:
    return RemoteObject(path=file.path, size=len(file.content), etag=etag or file.md5, sha256=sha256)


NEW, LIVE, OLD = "1111111111111111", "2222222222222222", "3333333333333333"  # release names
LOCAL = [
    _file(DAGS, ".airflowignore", "releases/\n"),
    _file(SCRIPTS, "job.py", "print(1)\n"),
    _file(DAGS, f"releases/{NEW}/generator/cli.py", "x = 1\n"),
    _file(DAGS, f"releases/{NEW}/pipelines/a.yaml", "tasks: {}\n"),
    _file(DAGS, f"releases/{NEW}/pipelines/b.yaml", "tasks: {b: 1}\n"),
    _file(DAGS, "pipelines_loader.py", f'RELEASE = "releases/{NEW}"\n'),
]
IGNORE, JOB, CLI, SPEC_A, SPEC_B, LOADER = LOCAL


def _other(path: str, text: str = "other content") -> RemoteObject:
    return _remote(_file(DAGS, path, text))


# A bucket that MWAA parses LIVE from, with OLD before it; dagen's own records; files of hand and of old.
REMOTE = {
    DAGS: {
        ".airflowignore": _remote(IGNORE),
        f"releases/{LIVE}/generator/cli.py": RemoteObject(
            f"releases/{LIVE}/generator/cli.py", len(CLI.content), CLI.md5
        ),
        f"releases/{LIVE}/pipelines/a.yaml": _other(f"releases/{LIVE}/pipelines/a.yaml"),
        f"releases/{OLD}/generator/cli.py": _other(f"releases/{OLD}/generator/cli.py"),
        f"releases/{OLD}/pipelines/a.yaml": _other(f"releases/{OLD}/pipelines/a.yaml"),
        # a multipart upload (the ETag is not an MD5) of this very release: the metadata decides
        f"releases/{NEW}/pipelines/b.yaml": _remote(SPEC_B, etag="0123-2", sha256=SPEC_B.sha256),
        "pipelines_loader.py": _other("pipelines_loader.py", f'RELEASE = "releases/{LIVE}"\n'),
        "pipelines/old.yaml": _other("pipelines/old.yaml"),  # the layout before releases, uploaded by dagen
        "stray_dag.py": _other("stray_dag.py"),  # written by hand
        "dagen-manifest.json": _other("dagen-manifest.json"),
        "dagen-deploy.lock": _other("dagen-deploy.lock"),
    },
    SCRIPTS: {
        "job.py": _remote(JOB),
        "old_job.py": RemoteObject("old_job.py", 3, "e"),
        "hand.py": RemoteObject("hand.py", 3, "e"),
    },
}
MANAGED = {
    DAGS: {path for path in REMOTE[DAGS] if path not in ("stray_dag.py", "dagen-manifest.json", "dagen-deploy.lock")},
    SCRIPTS: {"job.py", "old_job.py"},
}
A = "s3://airflow-x/dags/"
S = "s3://dagen-data/spark_jobs/"
UPLOADS = [
    f"  copy      {A}releases/{NEW}/generator/cli.py",  # LIVE holds the same bytes: copied in S3
    f"  add       {A}releases/{NEW}/pipelines/a.yaml",
    f"  change    {A}pipelines_loader.py",
]
UNCHANGED = [
    f"  unchanged {A}.airflowignore",
    f"  unchanged {S}job.py",
    f"  unchanged {A}releases/{NEW}/pipelines/b.yaml",
]
NOT_MANAGED = "  (not managed by dagen: left alone)"
FOR_PRUNE = "  (not in the bundle; --prune deletes it)"
LIVE_KEPT = "file(s): a release MWAA may still parse: kept)"
OLD_DELETED = f"  delete    {A}releases/{OLD}/  (2 file(s): an older release dagen uploaded)"


@pytest.mark.parametrize(
    ("remote", "prune", "managed", "kept", "lines", "summary"),
    [
        pytest.param(
            {},
            False,
            {},
            set(),
            [
                f"  add       {A}.airflowignore",
                f"  add       {S}job.py",
                f"  add       {A}releases/{NEW}/generator/cli.py",
                f"  add       {A}releases/{NEW}/pipelines/a.yaml",
                f"  add       {A}releases/{NEW}/pipelines/b.yaml",
                f"  add       {A}pipelines_loader.py",
            ],
            "summary: 6 added, 0 changed, 0 deleted, 0 unchanged",
            id="empty bucket",
        ),
        pytest.param(
            REMOTE,
            True,
            MANAGED,
            {LIVE},
            [
                *UPLOADS,
                # deletions after every upload, in reverse phase order: specs, the package, scripts last
                f"  delete    {A}pipelines/old.yaml",
                OLD_DELETED,  # a whole release: one line
                f"  delete    {S}old_job.py",
                f"  keep      {A}stray_dag.py{NOT_MANAGED}",
                f"  keep      {A}releases/{LIVE}/  (2 {LIVE_KEPT}",
                f"  keep      {S}hand.py{NOT_MANAGED}",
                *UNCHANGED,
            ],
            "summary: 2 added (1 copied in S3), 1 changed, 4 deleted, 3 unchanged; 4 remote-only file(s) kept",
            id="prune",
        ),
        pytest.param(
            REMOTE,
            False,
            MANAGED,
            {LIVE},
            [
                *UPLOADS,
                OLD_DELETED,  # older releases go, --prune or not
                f"  keep      {A}stray_dag.py{NOT_MANAGED}",
                f"  keep      {A}pipelines/old.yaml{FOR_PRUNE}",
                f"  keep      {A}releases/{LIVE}/  (2 {LIVE_KEPT}",
                f"  keep      {S}hand.py{NOT_MANAGED}",
                f"  keep      {S}old_job.py{FOR_PRUNE}",
                *UNCHANGED,
            ],
            "summary: 2 added (1 copied in S3), 1 changed, 2 deleted, 3 unchanged; 6 remote-only file(s) kept",
            id="no prune keeps what dagen uploaded",
        ),
        pytest.param(
            REMOTE,
            True,
            MANAGED,
            {LIVE, OLD},
            [
                *UPLOADS,
                f"  delete    {A}pipelines/old.yaml",
                f"  delete    {S}old_job.py",
                f"  keep      {A}stray_dag.py{NOT_MANAGED}",
                f"  keep      {A}releases/{LIVE}/  (2 {LIVE_KEPT}",  # two releases kept: a line each, by name
                f"  keep      {A}releases/{OLD}/  (2 {LIVE_KEPT}",
                f"  keep      {S}hand.py{NOT_MANAGED}",
                *UNCHANGED,
            ],
            "summary: 2 added (1 copied in S3), 1 changed, 2 deleted, 3 unchanged; 6 remote-only file(s) kept",
            id="two releases kept",
        ),
        pytest.param(
            REMOTE,
            True,
            {},
            {LIVE},
            [
                *UPLOADS,
                f"  keep      {A}stray_dag.py{NOT_MANAGED}",
                f"  keep      {A}pipelines/old.yaml{NOT_MANAGED}",
                f"  keep      {A}releases/{LIVE}/pipelines/a.yaml{NOT_MANAGED}",
                f"  keep      {A}releases/{OLD}/pipelines/a.yaml{NOT_MANAGED}",
                f"  keep      {A}releases/{LIVE}/generator/cli.py{NOT_MANAGED}",
                f"  keep      {A}releases/{OLD}/generator/cli.py{NOT_MANAGED}",
                f"  keep      {S}hand.py{NOT_MANAGED}",
                f"  keep      {S}old_job.py{NOT_MANAGED}",
                *UNCHANGED,
            ],
            "summary: 2 added (1 copied in S3), 1 changed, 0 deleted, 3 unchanged; 8 remote-only file(s) kept",
            id="without a manifest nothing is dagen's to delete",
        ),
    ],
)
def test_plan(remote, prune: bool, managed, kept: set[str], lines: list[str], summary: str) -> None:
    plan = make_plan(
        LOCAL, remote, {DAGS: DAGS_AT, SCRIPTS: SCRIPTS_AT}, prune=prune, managed=managed, kept_releases=kept
    )
    assert plan.lines() == lines
    assert plan.summary(dry_run=False) == summary


def test_the_operations_run_file_by_file_in_the_order_of_the_plan() -> None:
    plan = make_plan(
        LOCAL, REMOTE, {DAGS: DAGS_AT, SCRIPTS: SCRIPTS_AT}, prune=True, managed=MANAGED, kept_releases={LIVE}
    )
    assert [(step.action, step.area, step.path, step.copy_from) for step in plan.operations] == [
        (ADD, DAGS, f"releases/{NEW}/generator/cli.py", f"releases/{LIVE}/generator/cli.py"),
        (ADD, DAGS, f"releases/{NEW}/pipelines/a.yaml", None),
        (CHANGE, DAGS, "pipelines_loader.py", None),
        (DELETE, DAGS, "pipelines/old.yaml", None),
        (DELETE, DAGS, f"releases/{OLD}/pipelines/a.yaml", None),  # the release's specs before its package
        (DELETE, DAGS, f"releases/{OLD}/generator/cli.py", None),
        (DELETE, SCRIPTS, "old_job.py", None),
    ]
    assert plan.summary(dry_run=True) == (
        "dry run: 2 to add (1 copied in S3), 1 to change, 4 to delete, 3 unchanged; 4 remote-only file(s) kept; "
        "nothing uploaded"
    )


def test_dry_run_summary() -> None:
    remote = {DAGS: {".airflowignore": _remote(IGNORE, etag="x", sha256="y")}}
    plan = make_plan(LOCAL[:2], remote, {DAGS: DAGS_AT, SCRIPTS: SCRIPTS_AT}, prune=False)
    assert plan.summary(dry_run=True) == "dry run: 1 to add, 1 to change, 0 to delete, 0 unchanged; nothing uploaded"


# ----------------------------------------------------------------- progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_a_bar_on_a_terminal_and_plain_lines_elsewhere() -> None:
    terminal = _Terminal()
    with progress(terminal, 2) as report:
        report(1, "add s3://airflow-x/dags/a")
        report(2, "add s3://airflow-x/dags/b")
    shown = terminal.getvalue()
    assert "deploying" in shown and "2/2" in shown and "\x1b[" in shown  # drawn by rich, with control codes

    pipe = io.StringIO()
    with progress(pipe, 2) as report:
        report(1, "add s3://airflow-x/dags/a")
        report(2, "add s3://airflow-x/dags/b")
    assert pipe.getvalue().splitlines() == ["[1/2] add s3://airflow-x/dags/a", "[2/2] add s3://airflow-x/dags/b"]


# ------------------------------------------------------------------ the parse budget


@pytest.mark.parametrize(
    ("cold", "warm", "timeout", "level", "text"),
    [
        (
            4.0,
            3.5,
            30.0,
            "ok",
            "parse budget: the loader parses 12 spec(s) into 12 DAG(s) in 4.00 s cold (the first parse after this "
            "deploy), 3.50 s warm; import timeout 30 s",
        ),
        (
            16.0,
            9.0,
            30.0,
            "warning",
            "pipelines_loader.py: parse budget: over half the import timeout: the loader parses 12 spec(s) into 12 "
            "DAG(s) in 16.00 s cold (the first parse after this deploy), 9.00 s warm; import timeout 30 s",
        ),
        (
            12.5,
            31.0,
            30.0,
            "refused",
            "pipelines_loader.py: parse budget exceeded: the loader parses 12 spec(s) into 12 DAG(s) in 12.50 s cold "
            "(the first parse after this deploy), 31.00 s warm; import timeout 30 s",
        ),
        (
            15.0,
            14.0,
            30.0,
            "ok",  # exactly half: still inside
            "parse budget: the loader parses 12 spec(s) into 12 DAG(s) in 15.00 s cold (the first parse after this "
            "deploy), 14.00 s warm; import timeout 30 s",
        ),
    ],
    ids=["inside", "over_half", "over_the_timeout", "exactly_half"],
)
def test_parse_budget_verdict(cold: float, warm: float, timeout: float, level: str, text: str) -> None:
    result = verdict(Measured(cold=cold, warm=warm, dags=12), timeout, 12)
    assert (result.level, result.line) == (level, text)
