"""The command line behaves like the Unix tools users know: one line and an exit code for every failure, never a
traceback; a closed pipe ends it quietly; missing paths are errors; ``-`` is a spec on stdin; ``-q``/``-v``;
shell completion; a progress counter on a terminal only; commands that need Airflow say so."""

from __future__ import annotations

import argparse
import os
import pty
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from generator.cli import parser
from generator.spec.load import MAX_FILE_BYTES

ENV = {**os.environ, "PYTHONWARNINGS": "ignore"}
SPEC = "pipelines/salary_batch_etl.yaml"
NEEDS_AIRFLOW = (
    "needs Apache Airflow: pip install 'dagen[airflow]' (pin it to your MWAA version: see README \"Airflow versions\")"
)
UNCHECKED = (
    "dagen validate: Airflow is not installed: the arguments of operator tasks are not checked against the "
    "operator classes"
)
# Airflow and dag-factory made unimportable, as in an environment that installed dagen without [airflow].
WITHOUT_AIRFLOW = (
    "import sys; sys.modules['airflow'] = None; sys.modules['dagfactory'] = None\n"
    "from generator.cli import main\n"
    "sys.exit(main(sys.argv[1:]))"
)


def dagen(
    *args: str, cwd: Path, stdin: bytes | None = None, without_airflow: bool = False
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", WITHOUT_AIRFLOW] if without_airflow else [sys.executable, "-m", "generator"]
    done = subprocess.run(
        [*command, *args],
        input=stdin.decode("utf-8") if stdin is not None else None,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=ENV,
        check=False,
    )
    assert "Traceback" not in done.stdout + done.stderr
    return done


# ----------------------------------------------------------------------------- output that cannot be written

OUTPUT_COMMANDS = {
    "schema": ["schema"],
    "codes": ["codes"],
    "docs": ["docs"],
    "compile": ["compile", SPEC],
    "iam": ["iam", "pipelines"],
    "preview": ["preview", SPEC],
}
UNWRITABLE = {
    "missing folder": (lambda tmp: tmp / "missing" / "out.txt", "No such file or directory"),
    "a directory": (lambda tmp: tmp, "Is a directory"),
    "full disk": (lambda tmp: Path("/dev/full"), "No space left on device"),
}


@pytest.mark.parametrize("case", sorted(UNWRITABLE))
@pytest.mark.parametrize("command", sorted(OUTPUT_COMMANDS))
def test_an_unwritable_output_is_one_line_and_exit_1(repo: Path, tmp_path: Path, command: str, case: str) -> None:
    target_of, reason = UNWRITABLE[case]
    target = target_of(tmp_path)
    done = dagen(*OUTPUT_COMMANDS[command], "-o", str(target), cwd=repo)
    assert (done.returncode, done.stdout, done.stderr) == (1, "", f"dagen: cannot write {target}: {reason}\n")


def test_a_workflow_folder_that_cannot_be_made(repo: Path, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    target = tmp_path / "a-file" / "workflows"
    done = dagen("compile", "--target", "mwaa-serverless", "pipelines", "-o", str(target), cwd=repo)
    assert (done.returncode, done.stderr) == (1, f"dagen: cannot write {target}: Not a directory\n")


def test_a_full_stdout(repo: Path) -> None:
    with open("/dev/full", "w", encoding="utf-8") as full:
        done = subprocess.run(
            [sys.executable, "-m", "generator", "docs"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            cwd=repo,
            env=ENV,
            check=False,
        )
    assert (done.returncode, done.stderr) == (1, "dagen: cannot write stdout: No space left on device\n")


# ----------------------------------------------------------------------------- a closed pipe


def test_a_reader_that_leaves_after_one_line_ends_dagen_quietly(repo: Path) -> None:
    """``dagen schema | head -1``: the schema (280 kB) is more than a pipe holds, so dagen is still writing."""
    with subprocess.Popen(
        [sys.executable, "-m", "generator", "schema"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=repo,
        env=ENV,
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        assert process.stdout.readline() == b"{\n"
        process.stdout.close()
        stderr = process.stderr.read()
        assert (process.wait(timeout=60), stderr) == (1, b"")


@pytest.mark.parametrize("argv", [["validate", "pipelines"], ["docs"], ["list", "pipelines"], ["preview", SPEC]])
def test_a_pipe_closed_before_dagen_writes(repo: Path, argv: list[str]) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "generator", *argv],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            cwd=repo,
            env=ENV,
            check=False,
        )
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (1, "")


# ----------------------------------------------------------------------------- missing paths

MISSING = {
    "validate": (["validate", "nope"], "dagen: no such file or folder: nope\n"),
    "compile": (["compile", "nope"], "dagen: no such file or folder: nope\n"),
    "list": (["list", "nope"], "dagen: no such file or folder: nope\n"),
    "list, one of two": (["list", "pipelines", "nope"], "dagen: no such file or folder: nope\n"),
    "iam": (["iam", "nope"], "dagen: no such file or folder: nope\n"),
    "preview": (["preview", "nope"], "dagen preview: error: no such file or folder: nope\n"),
    "run": (["run", "nope.yaml", "--local"], "dagen: no such file or folder: nope.yaml\n"),
    "emulator": (["emulator", "nope"], "dagen: no such file or folder: nope\n"),
}


@pytest.mark.parametrize("case", sorted(MISSING))
def test_a_missing_path_is_a_usage_error(repo: Path, case: str) -> None:
    argv, stderr = MISSING[case]
    done = dagen(*argv, cwd=repo)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", stderr)


# ----------------------------------------------------------------------------- a spec on stdin


def test_validate_reads_a_spec_from_stdin(repo: Path) -> None:
    done = dagen("validate", "-", cwd=repo, stdin=(repo / SPEC).read_bytes())
    assert (done.returncode, done.stdout, done.stderr) == (0, "1 file(s) checked, no errors\n", "")


def test_a_spec_on_stdin_is_named_stdin_in_diagnostics(repo: Path) -> None:
    spec = (repo / "tests/cases/dg201_unknown_key_typo/pipeline.yaml").read_bytes()
    done = dagen("validate", "-", cwd=repo, stdin=spec)
    assert (done.returncode, done.stdout.splitlines()) == (
        1,
        [
            "<stdin>:3:1: DG201 unknown key 'schedul' in the top level",
            "    hint: did you mean 'schedule'?",
            "1 error(s) in 1 of 1 file(s)",
        ],
    )


def test_a_spec_on_stdin_reads_its_files_from_the_current_folder(repo: Path) -> None:
    """Its query_file (and defaults.yaml) are those of the folder dagen runs in."""
    case = repo / "tests/cases/dg405_unknown_param_in_query_file"
    done = dagen("validate", "-", cwd=case, stdin=(case / "pipeline.yaml").read_bytes())
    expected = (case / "expected.txt").read_text(encoding="utf-8").replace("pipeline.yaml:", "<stdin>:")
    assert (done.returncode, done.stdout) == (1, expected)
    defaults = repo / "tests/cases/defaults_error_located_in_defaults"
    done = dagen("validate", "-", cwd=defaults, stdin=(defaults / "pipeline.yaml").read_bytes())
    assert (done.returncode, done.stdout) == (1, (defaults / "expected.txt").read_text(encoding="utf-8"))


def test_compile_reads_a_spec_from_stdin(repo: Path) -> None:
    done = dagen("compile", "-", cwd=repo, stdin=(repo / SPEC).read_bytes())
    assert (done.returncode, done.stderr, done.stdout.splitlines()[0]) == (0, "", "stdin:")  # its DAG id


def test_stdin_has_the_size_limit_of_a_file(repo: Path) -> None:
    done = dagen("validate", "-", cwd=repo, stdin=b"#" * (MAX_FILE_BYTES + 1))
    assert (done.returncode, done.stdout.splitlines()[0]) == (
        1,
        f"<stdin>:1:1: DG108 the input is {MAX_FILE_BYTES + 1:,} bytes, over the limit of {MAX_FILE_BYTES:,}",
    )


def test_stdin_is_one_spec_on_its_own(repo: Path) -> None:
    done = dagen("validate", "-", "pipelines", cwd=repo, stdin=b"")
    assert (done.returncode, done.stderr) == (
        2,
        "dagen: '-' (a spec read from stdin) cannot be combined with other paths\n",
    )


# ----------------------------------------------------------------------------- --quiet and --verbose

VERBOSITY = {
    "quiet, clean": (["-q", "validate", "pipelines"], 0, "", ""),
    "quiet after the command": (["validate", "pipelines", "--quiet"], 0, "", ""),
    "quiet keeps the errors": (
        ["-q", "validate", "tests/cases/dg201_unknown_key_typo"],
        1,
        "tests/cases/dg201_unknown_key_typo/pipeline.yaml:3:1: DG201 unknown key 'schedul' in the top level\n"
        "    hint: did you mean 'schedule'?\n"
        "1 error(s) in 1 of 1 file(s)\n",
        "",
    ),
    "quiet leaves json alone": (
        ["-q", "validate", "--format", "json", SPEC],
        0,
        '{\n  "files_checked": 1,\n  "diagnostics": []\n}\n',
        "",
    ),
    "verbose": (
        ["--verbose", "validate", "pipelines"],
        0,
        "3 file(s) checked, no errors\n",
        "dagen: target airflow3: Airflow 3, Amazon provider profile 9.34\n"
        "dagen: read pipelines/emr_notebook_best_sellers.yaml\n"
        "dagen: read pipelines/movielens_emr_step_functions.yaml\n"
        "dagen: read pipelines/salary_batch_etl.yaml\n",
    ),
    "verbose compile": (
        ["compile", "--target", "airflow2", SPEC, "-o", "/dev/null", "-v"],
        0,
        "",
        "dagen: target airflow2: Airflow 2, Amazon provider profile 9.0\n"
        "dagen: read pipelines/salary_batch_etl.yaml (configuration: compiled)\n",
    ),
}


@pytest.mark.parametrize("case", sorted(VERBOSITY))
def test_quiet_and_verbose(repo: Path, case: str) -> None:
    argv, code, stdout, stderr = VERBOSITY[case]
    done = dagen(*argv, cwd=repo)
    assert (done.returncode, done.stdout, done.stderr) == (code, stdout, stderr)


def test_quiet_and_verbose_are_documented(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parser().parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "-q, --quiet print only errors" in text and "-v, --verbose also say what was read" in text


# ----------------------------------------------------------------------------- progress on a terminal


def _specs(repo: Path, folder: Path, count: int) -> Path:
    folder.mkdir()
    for index in range(count):
        shutil.copy(repo / SPEC, folder / f"spec_{index:02d}.yaml")
    return folder


def test_progress_is_shown_on_a_terminal_only(repo: Path, tmp_path: Path) -> None:
    folder = _specs(repo, tmp_path / "many", 12)
    primary, secondary = pty.openpty()
    with subprocess.Popen(
        [sys.executable, "-m", "generator", "validate", str(folder)],
        stdout=subprocess.PIPE,
        stderr=secondary,
        cwd=repo,
        env=ENV,
    ) as process:
        os.close(secondary)
        assert process.stdout is not None
        stdout = process.stdout.read()
        assert process.wait(timeout=120) == 0
    terminal = b""
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:  # the other side closed
            break
        if not chunk:
            break
        terminal += chunk
    os.close(primary)
    assert stdout == b"12 file(s) checked, no errors\n"  # never mixed into the report
    assert terminal.startswith(b"\rchecked 1/12") and terminal.endswith(b"\rchecked 12/12\r\x1b[K")
    done = dagen("validate", str(folder), cwd=repo)  # stderr a pipe: nothing
    assert (done.returncode, done.stderr) == (0, "")


# ----------------------------------------------------------------------------- shell completion


def _subcommands() -> list[str]:
    commands = next(action for action in parser()._actions if isinstance(action, argparse._SubParsersAction))
    return sorted(commands.choices)


def test_bash_completion_is_valid_and_names_every_command(repo: Path, tmp_path: Path) -> None:
    done = dagen("completion", "bash", cwd=repo)
    assert done.returncode == 0
    script = tmp_path / "dagen.bash"
    script.write_text(done.stdout, encoding="utf-8")
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, check=False).returncode == 0
    assert "complete -o bashdefault -F _shtab_dagen dagen" in done.stdout
    assert "_shtab_dagen_validate_pos_0_COMPGEN=_shtab_compgen_files" in done.stdout  # paths complete as files
    commands = {"validate", "compile", "preview", "run", "deploy", "iam", "list", "completion"}
    assert commands <= set(_subcommands())
    for command in _subcommands():
        assert f"_shtab_dagen_{command.replace('-', '_')}_option_strings" in done.stdout
    # what bash offers after `dagen val<TAB>` and `dagen validate --for<TAB>`
    words = {"dagen val": "validate", "dagen validate --for": "--format", "dagen validate --format j": "json"}
    for line, offered in words.items():
        probe = f"source {script}; COMP_WORDS=({line}); COMP_CWORD={len(line.split()) - 1}; _shtab_dagen; "
        completed = subprocess.run(
            ["bash", "-c", probe + 'echo "${COMPREPLY[@]}"'], capture_output=True, text=True, check=False
        )
        assert completed.stdout == f"{offered}\n"


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_completion_name_every_command(repo: Path, shell: str) -> None:
    done = dagen("completion", shell, cwd=repo)
    assert done.returncode == 0
    assert done.stdout.startswith("#compdef dagen") if shell == "zsh" else "complete -c dagen" in done.stdout
    for command in _subcommands():
        assert command in done.stdout
    if shutil.which(shell):
        checked = subprocess.run([shell, "-n"], input=done.stdout, capture_output=True, text=True, check=False)
        assert checked.returncode == 0, checked.stderr


def test_an_unknown_shell_is_a_usage_error(repo: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "generator", "completion", "csh"], capture_output=True, text=True, cwd=repo, check=False
    )
    assert done.returncode == 2 and "invalid choice: 'csh'" in done.stderr


# ----------------------------------------------------------------------------- without Airflow


@pytest.mark.parametrize("fmt", ["text", "mermaid", "json", "svg"])
def test_preview_without_airflow_says_what_to_install(repo: Path, fmt: str) -> None:
    done = dagen("preview", "--format", fmt, SPEC, cwd=repo, without_airflow=True)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", f"dagen preview: {NEEDS_AIRFLOW}\n")


def test_a_local_run_without_airflow_says_what_to_install(repo: Path) -> None:
    done = dagen("run", SPEC, "--local", cwd=repo, without_airflow=True)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", f"dagen run: {NEEDS_AIRFLOW}\n")


OPERATOR_CASE = "tests/cases/dg512_operator_arguments"
WITHOUT_AIRFLOW_VALIDATE = {
    "said once": (
        ["validate", OPERATOR_CASE, "pipelines"],
        0,
        f"{UNCHECKED} (install dagen[airflow], or pass --strict to make this an error)\n",
    ),
    "an error with --strict": (
        ["validate", "--strict", OPERATOR_CASE],
        1,
        f"{UNCHECKED.replace('validate: ', 'validate: error: ')} (--strict; install dagen[airflow])\n",
    ),
    "not with --quiet": (["-q", "validate", OPERATOR_CASE], 0, ""),
    "nothing to say without operator tasks": (["validate", "--strict", "pipelines"], 0, ""),
}


@pytest.mark.parametrize("case", sorted(WITHOUT_AIRFLOW_VALIDATE))
def test_validate_without_airflow_says_operator_tasks_went_unchecked(repo: Path, case: str) -> None:
    argv, code, stderr = WITHOUT_AIRFLOW_VALIDATE[case]
    done = dagen(*argv, cwd=repo, without_airflow=True)
    assert (done.returncode, done.stderr) == (code, stderr)
