"""``dagen deploy`` without a bucket: what the bundle holds, its upload order, .airflowignore, the plan.

The S3 side runs against a real S3-compatible server in tests/test_deploy.py.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from generator.compile.build import airflow_major
from generator.deploy.bundle import (
    DAGS,
    SCRIPTS,
    BundleError,
    Phase,
    build_bundle,
    make_file,
    package_upload_order,
    requirements_txt,
)
from generator.deploy.command import PACKAGE_DIR, main
from generator.deploy.parse_budget import Measured, verdict
from generator.deploy.plan import (
    Location,
    RemoteObject,
    make_plan,
    parse_bucket,
    parse_folder_uri,
    parse_prefix,
)
from generator.deploy.progress import progress

DATA = Path(__file__).parent / "deploy"


def write_dags_area(repo: Path, folder: Path) -> Path:
    """The DAGs area of the bundle written to a folder, as MWAA syncs it."""
    for file in build_bundle(repo, "3.3.1", package_dir=PACKAGE_DIR, with_scripts=False):
        target = folder / file.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(file.content)
    return folder


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
    assert [(file.area, file.path) for file in files] == [
        (DAGS, ".airflowignore"),
        *((SCRIPTS, name) for name in scripts),
        (DAGS, "requirements.txt"),
        (DAGS, "schemas/defaults.schema.json"),
        (DAGS, "schemas/pipeline.schema.json"),
        *((DAGS, f"generator/{module}") for module in modules),
        (DAGS, "pipelines/defaults.yaml"),
        *((DAGS, f"pipelines/{name}") for name in specs),
        (DAGS, "pipelines_loader.py"),
    ]
    phases = [file.phase for file in files]
    assert phases == sorted(phases)
    by_path = {file.path: file for file in files}
    assert by_path["pipelines_loader.py"].content == (repo / "dags" / "pipelines_loader.py").read_bytes()
    assert by_path["generator/cli.py"].content == (package / "cli.py").read_bytes()
    assert by_path["generator/cli.py"].source == "generator/cli.py"
    assert by_path["requirements.txt"].source == "generated"


def test_sql_and_code_beside_the_specs_go_up_before_the_specs(repo: Path, tmp_path: Path) -> None:
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

    specs = sorted(p.name for p in pipelines.glob("*.yaml") if p.name != "defaults.yaml")
    assert [(file.path, file.phase) for file in files if file.path.startswith("pipelines/")] == [
        ("pipelines/lib/alerts.py", Phase.PIPELINE_CODE),
        ("pipelines/sql/daily_counts.sql", Phase.PIPELINE_CODE),
        ("pipelines/team/sql/report.sql", Phase.PIPELINE_CODE),
        ("pipelines/defaults.yaml", Phase.DEFAULTS),
        *((f"pipelines/{name}", Phase.SPECS) for name in specs),
    ]
    by_path = {file.path: file for file in files}
    assert by_path["pipelines/sql/daily_counts.sql"].content == b"SELECT 1\n"
    assert by_path["pipelines/sql/daily_counts.sql"].source == "pipelines/sql/daily_counts.sql"


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
        (
            "dags/pipelines_loader.py",
            "dags/pipelines_loader.py not found: the loader is the one DAG file of the bundle",
        ),
        ("schemas", "schemas holds no *.json schemas"),
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
    folder = write_dags_area(repo, tmp_path / "dags")
    seen = sorted(
        Path(path).relative_to(folder).as_posix()
        for path in _find_path_from_directory()(folder, ".airflowignore", syntax)
    )
    assert seen == ["pipelines_loader.py"]

    # Without the ignore file the DAG processor would walk the package, the specs and the schemas.
    (folder / ".airflowignore").write_text("")
    seen = sorted(
        Path(path).relative_to(folder).as_posix()
        for path in _find_path_from_directory()(folder, ".airflowignore", syntax)
    )
    assert "generator/loader/airflow_loader.py" in seen and "pipelines/salary_batch_etl.yaml" in seen
    assert "schemas/pipeline.schema.json" in seen and "requirements.txt" in seen


def test_the_lane_default_syntax_lists_only_the_loader(repo: Path, tmp_path: Path) -> None:
    """What the DAG processor of this lane lists with its default settings (safe mode, default syntax)."""
    from airflow.configuration import conf
    from airflow.utils.file import list_py_file_paths

    assert conf.get("core", "dag_ignore_file_syntax") == {3: "glob", 2: "regexp"}[airflow_major()]
    folder = write_dags_area(repo, tmp_path / "dags")
    assert list_py_file_paths(folder) == [str(folder / "pipelines_loader.py")]
    (folder / ".airflowignore").unlink()
    assert str(folder / "generator" / "loader" / "airflow_loader.py") in list_py_file_paths(folder)


# --------------------------------------------------------------------- the plan

DAGS_AT = Location("airflow-x", "dags/")
SCRIPTS_AT = Location("dagen-data", "spark_jobs/")


def _file(area: str, path: str, text: str) -> object:
    from generator.deploy.bundle import phase_of

    return make_file(area, path, text.encode(), phase_of(area, path), path)


def _remote(file, *, etag: str | None = None, sha256: str | None = None) -> RemoteObject:
    return RemoteObject(path=file.path, size=len(file.content), etag=etag or file.md5, sha256=sha256)


LOCAL = [
    _file(DAGS, ".airflowignore", "generator/\n"),
    _file(SCRIPTS, "job.py", "print(1)\n"),
    _file(DAGS, "generator/cli.py", "x = 1\n"),
    _file(DAGS, "pipelines/a.yaml", "tasks: {}\n"),
    _file(DAGS, "pipelines/b.yaml", "tasks: {b: 1}\n"),
    _file(DAGS, "pipelines_loader.py", "load()\n"),
]
IGNORE, JOB, CLI, SPEC_A, SPEC_B, LOADER = LOCAL


@pytest.mark.parametrize(
    ("remote", "prune", "lines", "summary"),
    [
        pytest.param(
            {},
            False,
            [
                "  add       s3://airflow-x/dags/.airflowignore",
                "  add       s3://dagen-data/spark_jobs/job.py",
                "  add       s3://airflow-x/dags/generator/cli.py",
                "  add       s3://airflow-x/dags/pipelines/a.yaml",
                "  add       s3://airflow-x/dags/pipelines/b.yaml",
                "  add       s3://airflow-x/dags/pipelines_loader.py",
            ],
            "summary: 6 added, 0 changed, 0 deleted, 0 unchanged",
            id="empty bucket",
        ),
        pytest.param(
            {
                DAGS: {
                    ".airflowignore": _remote(IGNORE),
                    # a multipart upload: the ETag is not an MD5, the metadata decides
                    "generator/cli.py": _remote(CLI, etag="0123-2", sha256=CLI.sha256),
                    "pipelines/a.yaml": _remote(SPEC_A, etag="not-the-md5", sha256="another"),
                    "pipelines/b.yaml": _remote(SPEC_B, etag="not-the-md5", sha256=None),
                    "pipelines_loader.py": _remote(LOADER),
                    "pipelines/old.yaml": RemoteObject("pipelines/old.yaml", 3, "e"),
                    "pipelines/sql/old.sql": RemoteObject("pipelines/sql/old.sql", 3, "e"),
                    "generator/old.py": RemoteObject("generator/old.py", 3, "e"),
                    "stray_dag.py": RemoteObject("stray_dag.py", 3, "e"),
                },
                SCRIPTS: {"job.py": _remote(JOB), "old_job.py": RemoteObject("old_job.py", 3, "e")},
            },
            True,
            [
                "  change    s3://airflow-x/dags/pipelines/a.yaml",
                "  change    s3://airflow-x/dags/pipelines/b.yaml",
                # deletions last, in reverse phase order: unknown files, specs, the SQL they read, package, scripts
                "  delete    s3://airflow-x/dags/stray_dag.py",
                "  delete    s3://airflow-x/dags/pipelines/old.yaml",
                "  delete    s3://airflow-x/dags/pipelines/sql/old.sql",
                "  delete    s3://airflow-x/dags/generator/old.py",
                "  delete    s3://dagen-data/spark_jobs/old_job.py",
                "  unchanged s3://airflow-x/dags/.airflowignore",
                "  unchanged s3://dagen-data/spark_jobs/job.py",
                "  unchanged s3://airflow-x/dags/generator/cli.py",
                "  unchanged s3://airflow-x/dags/pipelines_loader.py",
            ],
            "summary: 0 added, 2 changed, 5 deleted, 4 unchanged",
            id="prune",
        ),
        pytest.param(
            {
                DAGS: {file.path: _remote(file) for file in LOCAL if file.area == DAGS and file is not SPEC_A}
                | {"pipelines/old.yaml": RemoteObject("pipelines/old.yaml", 3, "e")},
                SCRIPTS: {"job.py": _remote(JOB)},
            },
            False,
            [
                "  add       s3://airflow-x/dags/pipelines/a.yaml",
                "  keep      s3://airflow-x/dags/pipelines/old.yaml  (not in the bundle; --prune deletes it)",
                "  unchanged s3://airflow-x/dags/.airflowignore",
                "  unchanged s3://dagen-data/spark_jobs/job.py",
                "  unchanged s3://airflow-x/dags/generator/cli.py",
                "  unchanged s3://airflow-x/dags/pipelines/b.yaml",
                "  unchanged s3://airflow-x/dags/pipelines_loader.py",
            ],
            "summary: 1 added, 0 changed, 0 deleted, 5 unchanged; 1 remote-only file(s) kept",
            id="no prune keeps remote-only files",
        ),
    ],
)
def test_plan(remote, prune: bool, lines: list[str], summary: str) -> None:
    plan = make_plan(LOCAL, remote, {DAGS: DAGS_AT, SCRIPTS: SCRIPTS_AT}, prune=prune)
    assert plan.lines() == lines
    assert plan.summary(dry_run=False) == summary


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
