"""``dagen``: validate, compile and inspect pipeline specs.

Exit codes: 0 success, 1 the specs have errors, 2 bad command line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from generator import __version__
from generator.compile.pipelines import MWAA, MWAA_SERVERLESS, SpecResult, discover, process, process_bytes
from generator.core.console import (
    STDIN,
    Console,
    OutputError,
    airflow_missing,
    is_airflow_missing,
    needs_airflow,
    os_error_line,
    write_file,
    write_output,
)
from generator.core.diagnostics import REPORTERS, codes_markdown, sorted_unique
from generator.core.provider_profile import LEGACY, MODERN, ProviderProfile, installed_profile
from generator.deploy import command as deploy_command
from generator.iam import command as iam_command
from generator.init import command as init_command
from generator.local import command as run_command
from generator.local import emulator_command
from generator.preview import command as preview_command
from generator.spec.load import MAX_FILE_BYTES
from generator.spec.schema import SCHEMAS

TARGETS: dict[str, tuple[ProviderProfile, int]] = {
    "airflow3": (MODERN, 3),  # MWAA 3.3.1: Airflow 3.3, providers-amazon 9.34
    "airflow2": (LEGACY, 2),  # MWAA 2.10.3: Airflow 2.10, providers-amazon 9.0
    MWAA_SERVERLESS: (MODERN, 3),  # MWAA Serverless: Airflow 3, its operator list and parameters
}


STDIN_HELP = (
    "'-' reads one spec from stdin (named <stdin> in diagnostics; its defaults.yaml and query_file are read "
    "from the current folder; its DAG id is its dag_id, else 'stdin')"
)
EPILOG = (
    "Exit codes: 0 success, 1 the specs have errors (or output could not be written), 2 bad command line "
    "(a missing path, Airflow missing for a command that needs it).  -q/--quiet and -v/--verbose go before "
    "or after the command.  Reports go to stdout; errors, notes and progress to stderr.  "
    "Shell completion: dagen completion bash|zsh|fish."
)
COMPLETION_SHELLS = ("bash", "zsh", "fish")
COMPLETION_EPILOG = """install it:
  bash: dagen completion bash > ~/.local/share/bash-completion/completions/dagen
  zsh:  dagen completion zsh > "${fpath[1]}/_dagen"   (then: compinit)
  fish: dagen completion fish > ~/.config/fish/completions/dagen.fish"""
PATH_OPTIONS = ("paths", "pipeline", "output", "env_file")  # completed with file names


def _installed_target() -> tuple[ProviderProfile, int]:
    try:
        import airflow

        major = int(airflow.__version__.split(".")[0])
    except ImportError:
        return TARGETS["airflow3"]
    return installed_profile(), major


def _target(args: argparse.Namespace) -> tuple[ProviderProfile, int]:
    if args.target:
        return TARGETS[args.target]
    # Diagnostics do not depend on the lane: validate without paying for `import airflow`.
    return TARGETS["airflow3"] if args.command == "validate" else _installed_target()


def _write(text: str, output: str | None) -> None:
    write_output(text, output)


def _console(args: argparse.Namespace) -> Console:
    return getattr(args, "console", None) or Console()


def missing_paths(paths: Sequence[str], console: Console, *, stdin: bool = False) -> bool:
    """Report paths that do not exist (with ``stdin``, ``-`` always does), one line: the caller exits 2."""
    missing = [path for path in paths if not (stdin and path == STDIN) and not Path(path).exists()]
    if missing:
        console.error(f"dagen: no such file or folder: {', '.join(missing)}")
    return bool(missing)


def _read_stdin(paths: Sequence[str], console: Console) -> bytes | None:
    if len(paths) > 1:
        console.error("dagen: '-' (a spec read from stdin) cannot be combined with other paths")
        return None
    return sys.stdin.buffer.read(MAX_FILE_BYTES + 1)


def _process(paths: Sequence[str], args: argparse.Namespace) -> list[SpecResult] | None:
    console = _console(args)
    if missing_paths(paths, console, stdin=True):
        return None
    raw = _read_stdin(paths, console) if STDIN in paths else b""
    if raw is None:
        return None
    profile, major = _target(args)
    lane = args.target or ("airflow3" if args.command == "validate" else "the installed Airflow")
    console.info(f"dagen: target {lane}: Airflow {major}, Amazon provider profile {profile.name}")
    # validate needs no DAG configuration: stop once a spec is checked
    validating = args.command == "validate"
    options = {
        "profile": profile,
        "airflow_major": major,
        "compile_specs": not validating,
        "target": MWAA_SERVERLESS if args.target == MWAA_SERVERLESS else MWAA,
    }
    if STDIN in paths:
        # its folder is the current one: defaults.yaml and query_file are read from there
        result = process_bytes(raw, folder=Path("."), **options)  # type: ignore[arg-type]
        console.info(f"dagen: read <stdin> (its folder: {Path.cwd()})")
        return [result]

    def progress(result: SpecResult, done: int, total: int) -> None:
        console.info(f"dagen: read {result.file}" + ("" if validating else f" (configuration: {result.source})"))
        console.progress(done, total)

    return process(
        [Path(path) for path in paths],
        workers=(os.cpu_count() or 1) if validating else 1,
        folder_clashes=validating,
        progress=progress,
        **options,  # type: ignore[arg-type]
    )


def _report(results: list[SpecResult], fmt: str, console: Console | None = None) -> int:
    diagnostics = sorted_unique(d for result in results for d in result.diagnostics)
    if not (console and console.quiet and not diagnostics and fmt != "json"):  # --quiet: nothing when clean
        _write(REPORTERS[fmt](diagnostics, len(results)), None)
    return 1 if diagnostics else 0


UNCHECKED_OPERATORS = (
    "Airflow is not installed: the arguments of operator tasks are not checked against the operator classes"
)


def _operator_checks(results: list[SpecResult], args: argparse.Namespace) -> int:
    """Say once that operator tasks went unchecked (no Airflow); an error with --strict."""
    operators = any(
        task.type == "operator" and not task.settings.get("custom_module", False)
        for result in results
        if result.spec is not None
        for task in result.spec.tasks
    )
    if not operators or not airflow_missing(("airflow",)):
        return 0
    if args.strict:
        _console(args).error(f"dagen validate: error: {UNCHECKED_OPERATORS} (--strict; install dagen[airflow])")
        return 1
    _console(args).note(
        f"dagen validate: {UNCHECKED_OPERATORS} (install dagen[airflow], or pass --strict to make this an error)"
    )
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    results = _process(args.paths, args)
    if results is None:
        return 2
    if not results:
        print(f"dagen: DG701 no pipeline specs (*.yaml, *.yml) under {', '.join(args.paths)}", file=sys.stderr)
        return 1
    code = _report(results, args.format, _console(args))
    return max(code, _operator_checks(results, args))


def cmd_compile(args: argparse.Namespace) -> int:
    from generator.compile.dagfactory_config import to_dagfactory_yaml

    results = _process(args.paths, args)
    if results is None:
        return 2
    if any(result.diagnostics for result in results) or not results:
        return _report(results, "text", _console(args)) or 1
    if args.target == MWAA_SERVERLESS:
        return _write_workflows(results, args.output)
    _write(to_dagfactory_yaml({result.dag_id: result.config for result in results if result.config}), args.output)
    return 0


def _write_workflows(results: list[SpecResult], output: str | None) -> int:
    """Each pipeline's MWAA Serverless workflow: YAML documents on stdout, or ``DAG_ID.yaml`` files in a folder."""
    from generator.compile.serverless_workflow import workflow_yaml

    workflows = {result.dag_id: workflow_yaml(result.dag_id, result.config) for result in results if result.config}
    if output is None:
        _write("---\n".join(workflows.values()), None)
        return 0
    folder = Path(output)
    if folder.exists() and not folder.is_dir():
        print(f"dagen: with --target {MWAA_SERVERLESS}, -o names a folder: {output} is a file", file=sys.stderr)
        return 2
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(output, error) from None
    for dag_id, text in workflows.items():
        write_file(folder / f"{dag_id}.yaml", text)
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    _write(json.dumps(SCHEMAS[args.kind](), indent=2), args.output)
    return 0


def cmd_codes(args: argparse.Namespace) -> int:
    _write(codes_markdown(), args.output)
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    from generator.spec.reference_docs import reference_markdown

    _write(reference_markdown(), args.output)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    if missing_paths(args.paths, _console(args)):
        return 2
    text = "".join(f"{path.as_posix()}\n" for path in discover(Path(p) for p in args.paths))
    if text:
        _write(text, None)
    return 0


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="dagen", description="Declarative Airflow pipelines for Amazon MWAA.", epilog=EPILOG
    )
    _verbosity(main, top=True)
    main.add_argument("--version", action="version", version=f"dagen {__version__}")
    main.set_defaults(dagen_version=__version__)  # what dagen init pins its hook and CI to
    commands = main.add_subparsers(dest="command", required=True)

    def with_target(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--target",
            choices=sorted(TARGETS),
            help="Airflow lane to compile for (default: the installed Airflow, else airflow3); mwaa-serverless: "
            "Amazon MWAA Serverless (Airflow 3, its operator list and parameters, checked: DG8xx)",
        )

    validate = commands.add_parser("validate", help="check specs; report every error of every file")
    validate.add_argument("paths", nargs="+", help=f"spec files or folders; {STDIN_HELP}")
    validate.add_argument("--format", choices=sorted(REPORTERS), default="text")
    validate.add_argument(
        "--strict",
        action="store_true",
        help="fail (exit 1) when a check cannot run: operator tasks without Airflow installed",
    )
    with_target(validate)
    validate.set_defaults(run=cmd_validate)

    compile_ = commands.add_parser(
        "compile",
        help="print the dag-factory YAML a spec compiles to",
        description="Print the dag-factory YAML the specs compile to.  With --target mwaa-serverless, print each "
        "pipeline's MWAA Serverless workflow definition instead, one YAML document per pipeline (separated by "
        "'---'), or with -o DIR write one DIR/DAG_ID.yaml per pipeline.",
    )
    compile_.add_argument("paths", nargs="+", help=f"spec files or folders; {STDIN_HELP}")
    compile_.add_argument(
        "-o", "--output", help="write to this file instead of stdout (--target mwaa-serverless: to this folder)"
    )
    with_target(compile_)
    compile_.set_defaults(run=cmd_compile)

    schema = commands.add_parser("schema", help="print the JSON Schema of specs (or of defaults.yaml)")
    schema.add_argument("--kind", choices=sorted(SCHEMAS), default="pipeline")
    schema.add_argument("-o", "--output", help="write to this file instead of stdout")
    schema.set_defaults(run=cmd_schema)

    codes = commands.add_parser("codes", help="print the table of diagnostic codes (Markdown)")
    codes.add_argument("-o", "--output", help="write to this file instead of stdout")
    codes.set_defaults(run=cmd_codes)

    docs = commands.add_parser("docs", help="print the spec reference (Markdown), generated from the schema")
    docs.add_argument("-o", "--output", help="write to this file instead of stdout")
    docs.set_defaults(run=cmd_docs)

    list_ = commands.add_parser("list", help="list the spec files dagen would read")
    list_.add_argument("paths", nargs="+", help="spec files or folders")
    list_.set_defaults(run=cmd_list)

    completion = commands.add_parser(
        "completion",
        help="print a shell completion script (bash, zsh, fish)",
        description="Print the completion script of dagen for a shell, generated from its command line.",
        epilog=COMPLETION_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    completion.add_argument("shell", choices=COMPLETION_SHELLS)
    completion.set_defaults(run=cmd_completion)

    # Commands that live in modules of their own.
    for module in (init_command, iam_command, preview_command, deploy_command, run_command, emulator_command):
        module.register(commands)
    for sub in commands.choices.values():  # -q/-v after the command too
        _verbosity(sub, top=False)
    return main


def _verbosity(sub: argparse.ArgumentParser, *, top: bool) -> None:
    group = sub.add_mutually_exclusive_group()
    default = False if top else argparse.SUPPRESS  # given after the command, or before it
    try:
        group.add_argument("-q", "--quiet", action="store_true", default=default, help="print only errors")
        group.add_argument("-v", "--verbose", action="store_true", default=default, help="also say what was read")
    except argparse.ArgumentError:  # a command with options of its own by these names
        pass


def cmd_completion(args: argparse.Namespace) -> int:
    import shtab

    full = parser()
    # argparse has no public API for its actions; shtab reads them the same way
    commands = next(action for action in full._actions if isinstance(action, argparse._SubParsersAction))
    for sub in commands.choices.values():
        for action in sub._actions:
            if action.dest in PATH_OPTIONS:
                action.complete = shtab.FILE  # type: ignore[attr-defined]
    _write(shtab.complete(full, shell=args.shell), None)
    return 0


def _needs_airflow(args: argparse.Namespace) -> bool:
    return args.command == "preview" or (args.command == "run" and getattr(args, "local", False))


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    args.console = Console(quiet=args.quiet, verbose=args.verbose)
    if _needs_airflow(args) and airflow_missing():
        print(needs_airflow(args.command), file=sys.stderr)
        return 2
    try:
        code = int(args.run(args))
        sys.stdout.flush()  # a closed pipe or a full disk shows here, not in Python's exit
        return code
    except KeyboardInterrupt:
        print("dagen: interrupted", file=sys.stderr)
        return 130
    except OutputError as error:
        print(f"dagen: {error}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as error:
        if not is_airflow_missing(error):
            raise
        print(needs_airflow(args.command), file=sys.stderr)
        return 2
    except OSError as error:  # stdout, or an -o a command wrote itself
        line = os_error_line(error, getattr(args, "output", None))
        if line:
            print(line, file=sys.stderr)
        return 1
