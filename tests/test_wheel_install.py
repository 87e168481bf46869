"""dagen as a user gets it: the wheel, installed offline into a fresh venv without Airflow, then ``dagen init``.

One wheel build and one fresh venv per session (module-scoped fixtures), no network:

* the wheel is built from a copy of the package's sources (so the build's ``build/`` and ``*.egg-info`` never land
  in the working tree) with ``uv build --no-build-isolation`` on this lane's Python, whose setuptools comes from
  the lane's lock: nothing is downloaded;
* the fresh venv is made by uv on this lane's Python and the wheel installed with ``--offline --no-deps``
  together with its dependency closure (PyYAML, jsonschema, Jinja2, croniter...), each pinned to the version
  this lane has installed from its lock (:func:`dependency_closure`), constrained by that lock: the wheels come
  from the uv cache that ``make`` filled when it created the lanes.  (Resolving them offline would need their
  metadata, which ``uv pip sync`` of a lock never fetches, so a fresh machine's cache does not hold it.)

Without Airflow, ``validate`` works and ``preview`` gives the documented install hint (one line, exit 2).  With
the ``[airflow]`` extra (this lane's venv) the init repository's pipeline runs green on the local emulator.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from generator import __version__

REPO = Path(__file__).resolve().parent.parent
UV = REPO / ".tools" / "bin" / "uv"
# the lane running the tests, whose packages the uv cache holds: Python 3.12 is MWAA 3.3.1's, 3.11 MWAA 2.10.3's
LANE_LOCK = REPO / "requirements" / ("airflow3.lock" if sys.version_info >= (3, 12) else "airflow2.lock")
INSTALL_HINT = (
    "dagen preview: needs Apache Airflow: pip install 'dagen[airflow]' "
    '(pin it to your MWAA version: see README "Airflow versions")'
)


def _run(command: list[str | Path], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300):
    return subprocess.run(  # noqa: S603 - our own tools
        [str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def dependency_closure(wheel: Path) -> list[str]:
    """``name==version`` of every distribution the wheel needs (no extras), as this lane has them installed."""
    import zipfile
    from email.parser import Parser
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    with zipfile.ZipFile(wheel) as archive:
        (name,) = [entry for entry in archive.namelist() if entry.endswith(".dist-info/METADATA")]
        wanted = Parser().parsestr(archive.read(name).decode()).get_all("Requires-Dist") or []
    pinned: dict[str, str] = {}
    while wanted:
        requirement = Requirement(wanted.pop())
        key = canonicalize_name(requirement.name)
        if key in pinned or (requirement.marker and not requirement.marker.evaluate({"extra": ""})):
            continue
        distribution = metadata.distribution(requirement.name)
        pinned[key] = distribution.version
        wanted.extend(distribution.requires or [])
    return sorted(f"{key}=={version}" for key, version in pinned.items())


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        pytest.fail(f"{path} not found: {what} (run `make lanes` first)")
    return path


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _require(UV, "uv builds the wheel and the fresh venv")
    root = tmp_path_factory.mktemp("wheel")
    source = root / "src"
    source.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(REPO / "generator", source / "generator", ignore=shutil.ignore_patterns("__pycache__"))
    built = _run(
        [UV, "build", "--wheel", "--offline", "--no-build-isolation", "--python", sys.executable, "-o", root / "dist"],
        cwd=source,
        env={**os.environ, "UV_NO_PROGRESS": "1"},
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (path,) = (root / "dist").glob("dagen-*.whl")
    assert path.name == f"dagen-{__version__}-py3-none-any.whl"
    return path


@pytest.fixture(scope="module")
def fresh_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv holding the wheel and its dependencies only (no Airflow), installed offline."""
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "UV_LINK_MODE": "copy", "UV_NO_PROGRESS": "1"}
    env.pop("VIRTUAL_ENV", None)
    made = _run([UV, "venv", "--quiet", "--python", sys.executable, venv], cwd=venv.parent, env=env)
    assert made.returncode == 0, made.stderr
    installed = _run(
        [UV, "pip", "install", "--offline", "--no-deps", "-c", LANE_LOCK, wheel, *dependency_closure(wheel)],
        cwd=venv.parent,
        env={**env, "VIRTUAL_ENV": str(venv)},
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    return venv


def test_the_wheel_holds_the_licence_and_the_package_data(wheel: Path) -> None:
    import zipfile

    names = set(zipfile.ZipFile(wheel).namelist())
    assert f"dagen-{__version__}.dist-info/licenses/LICENSE" in names
    assert "generator/local/guarded_site/sitecustomize.py" in names  # the local run's network guard
    assert "generator/loader/dag_file.py" in names  # the loader's text, which `dagen init` writes
    assert not any(name.startswith(("tests/", "pipelines/", "dags/")) for name in names)


def test_installed_without_airflow_init_validates_and_preview_gives_the_install_hint(
    fresh_venv: Path, tmp_path: Path
) -> None:
    dagen = fresh_venv / "bin" / "dagen"
    python = fresh_venv / "bin" / "python"
    no_airflow = _run([python, "-c", "import airflow"], cwd=tmp_path)
    assert "No module named 'airflow'" in no_airflow.stderr
    # the venv's own package, never this repository's source tree
    where = _run([python, "-c", "import generator; print(generator.__file__)"], cwd=tmp_path)
    assert where.stdout.startswith(str(fresh_venv))

    version = _run([dagen, "--version"], cwd=tmp_path)
    assert (version.returncode, version.stdout) == (0, f"dagen {__version__}\n")
    init = _run([dagen, "init", "repo"], cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    assert init.stdout.startswith("dagen init: wrote 11 files into repo/\nnext steps:\n")
    validate = _run([dagen, "validate", "repo/pipelines"], cwd=tmp_path)
    assert (validate.returncode, validate.stdout) == (0, "1 file(s) checked, no errors\n"), validate.stderr
    for fmt in ("text", "mermaid", "json"):
        preview = _run([dagen, "preview", "repo/pipelines/example.yaml", "--format", fmt], cwd=tmp_path)
        assert (preview.returncode, preview.stdout, preview.stderr) == (2, "", INSTALL_HINT + "\n"), fmt


def test_with_airflow_the_init_repository_runs_green_on_the_emulator(tmp_path: Path) -> None:
    dagen = _require(Path(sys.executable).parent / "dagen", "the lane's dagen (dagen[airflow])")
    init = _run([dagen, "init", "repo"], cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    repo = tmp_path / "repo"
    run = _run([dagen, "run", "pipelines/example.yaml", "--local"], cwd=repo, timeout=600)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    # the report's rows (task, state, duration, try), not the progress lines printed as states change
    rows = [line.split() for line in run.stdout.splitlines() if line.startswith("  ")]
    states = [row[:2] for row in rows if len(row) == 4 and row[1] == "success" and row[3].isdigit()]
    assert states == [
        ["create_etl", "success"],
        ["count_words", "success"],
        ["summarise", "success"],
        ["terminate_etl", "success"],
    ]
    assert "DAG run succeeded" in run.stdout
    emulator = run.stdout.split("  emulator:\n", 1)[1]
    assert ": TERMINATED  (by create_etl)" in emulator
    assert " count_words on " in emulator and ": COMPLETED" in emulator
    assert "athena query " in emulator and " by summarise (primary): SUCCEEDED" in emulator
