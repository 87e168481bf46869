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

from generator.compile.pipelines import MWAA, MWAA_SERVERLESS, SpecResult, discover, process
from generator.core.diagnostics import REPORTERS, codes_markdown, sorted_unique
from generator.core.provider_profile import LEGACY, MODERN, ProviderProfile, installed_profile
from generator.deploy import command as deploy_command
from generator.iam import command as iam_command
from generator.local import command as run_command
from generator.local import emulator_command
from generator.preview import command as preview_command
from generator.spec.schema import SCHEMAS

TARGETS: dict[str, tuple[ProviderProfile, int]] = {
    "airflow3": (MODERN, 3),  # MWAA 3.3.1: Airflow 3.3, providers-amazon 9.34
    "airflow2": (LEGACY, 2),  # MWAA 2.10.3: Airflow 2.10, providers-amazon 9.0
    MWAA_SERVERLESS: (MODERN, 3),  # MWAA Serverless: Airflow 3, its operator list and parameters
}


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
    if output:
        Path(output).write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _process(paths: Sequence[str], args: argparse.Namespace) -> list[SpecResult] | None:
    missing = [path for path in paths if not Path(path).exists()]
    if missing:
        print(f"dagen: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return None
    profile, major = _target(args)
    # validate needs no DAG configuration: stop once a spec is checked
    validating = args.command == "validate"
    return process(
        [Path(path) for path in paths],
        profile=profile,
        airflow_major=major,
        compile_specs=not validating,
        workers=(os.cpu_count() or 1) if validating else 1,
        folder_clashes=validating,
        target=MWAA_SERVERLESS if args.target == MWAA_SERVERLESS else MWAA,
    )


def _report(results: list[SpecResult], fmt: str) -> int:
    diagnostics = sorted_unique(d for result in results for d in result.diagnostics)
    print(REPORTERS[fmt](diagnostics, len(results)))
    return 1 if diagnostics else 0


def cmd_validate(args: argparse.Namespace) -> int:
    results = _process(args.paths, args)
    if results is None:
        return 2
    if not results:
        print(f"dagen: DG701 no pipeline specs (*.yaml, *.yml) under {', '.join(args.paths)}", file=sys.stderr)
        return 1
    return _report(results, args.format)


def cmd_compile(args: argparse.Namespace) -> int:
    from generator.compile.dagfactory_config import to_dagfactory_yaml

    results = _process(args.paths, args)
    if results is None:
        return 2
    if any(result.diagnostics for result in results) or not results:
        return _report(results, "text") or 1
    if args.target == MWAA_SERVERLESS:
        return _write_workflows(results, args.output)
    _write(to_dagfactory_yaml({result.dag_id: result.config for result in results if result.config}), args.output)
    return 0


def _write_workflows(results: list[SpecResult], output: str | None) -> int:
    """Each pipeline's MWAA Serverless workflow: YAML documents on stdout, or ``DAG_ID.yaml`` files in a folder."""
    from generator.compile.serverless_workflow import workflow_yaml

    workflows = {result.dag_id: workflow_yaml(result.dag_id, result.config) for result in results if result.config}
    if output is None:
        sys.stdout.write("---\n".join(workflows.values()))
        return 0
    folder = Path(output)
    if folder.exists() and not folder.is_dir():
        print(f"dagen: with --target {MWAA_SERVERLESS}, -o names a folder: {output} is a file", file=sys.stderr)
        return 2
    folder.mkdir(parents=True, exist_ok=True)
    for dag_id, text in workflows.items():
        (folder / f"{dag_id}.yaml").write_text(text, encoding="utf-8")
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
    for path in discover(Path(p) for p in args.paths):
        print(path.as_posix())
    return 0


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="dagen", description="Declarative Airflow pipelines for Amazon MWAA.")
    commands = main.add_subparsers(dest="command", required=True)

    def with_target(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--target",
            choices=sorted(TARGETS),
            help="Airflow lane to compile for (default: the installed Airflow, else airflow3); mwaa-serverless: "
            "Amazon MWAA Serverless (Airflow 3, its operator list and parameters, checked: DG8xx)",
        )

    validate = commands.add_parser("validate", help="check specs; report every error of every file")
    validate.add_argument("paths", nargs="+", help="spec files or folders")
    validate.add_argument("--format", choices=sorted(REPORTERS), default="text")
    with_target(validate)
    validate.set_defaults(run=cmd_validate)

    compile_ = commands.add_parser(
        "compile",
        help="print the dag-factory YAML a spec compiles to",
        description="Print the dag-factory YAML the specs compile to.  With --target mwaa-serverless, print each "
        "pipeline's MWAA Serverless workflow definition instead, one YAML document per pipeline (separated by "
        "'---'), or with -o DIR write one DIR/DAG_ID.yaml per pipeline.",
    )
    compile_.add_argument("paths", nargs="+", help="spec files or folders")
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
    list_.add_argument("paths", nargs="+")
    list_.set_defaults(run=cmd_list)

    # Commands that live in modules of their own.
    for module in (iam_command, preview_command, deploy_command, run_command, emulator_command):
        module.register(commands)
    return main


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        print("dagen: interrupted", file=sys.stderr)
        return 130
