"""``dagen preview``: see exactly what a spec will become before it is deployed.

What you preview is what runs: the specs go through
:func:`generator.compile.pipelines.process` and :func:`generator.compile.build.build_dag`, the
calls the DAG loader makes, and the resulting Airflow DAG object is described
(:mod:`generator.preview.model`), then rendered as text, JSON, Mermaid, DOT,
SVG, PNG or one HTML page; ``--show-args`` prints one task's operator
arguments, ``--diff REF`` what changed against a git revision of the spec.

Exit codes, as for every dagen command: 0 success, 1 the specs have errors
(reported like ``dagen validate``), 2 bad command line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from generator.core.console import OutputError, is_airflow_missing, needs_airflow, write_output
from generator.core.diagnostics import REPORTERS
from generator.preview.model import DagPreview, PreviewRun, document, preview_paths

FORMATS = ("text", "json", "mermaid", "dot", "svg", "png", "html")
DIFF_FORMATS = ("text", "json")
SHOW_ARGS_FORMATS = ("text", "json")
DESCRIPTION = (
    "Build each spec into the Airflow DAG the loader would build and show it: the task graph, task types, "
    "operators, setup/teardown, trigger rules, clusters, the schedule with its next runs, and params."
)


class UsageError(Exception):
    """A bad command line (exit code 2)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PIPELINE_OR_DIR", help="spec files or folders")
    parser.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    parser.add_argument(
        "--show-args",
        metavar="TASK",
        help="print the operator arguments of TASK (or DAG_ID.TASK) as the operator receives them",
    )
    parser.add_argument(
        "--diff",
        metavar="GIT_REF",
        help="show what changes in the generated DAG(s) against the spec(s) at this git revision",
    )
    parser.add_argument(
        "--now",
        metavar="ISO_TIME",
        help="compute the next runs after this time, e.g. 2024-06-01T00:00:00Z (default: now)",
    )
    parser.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")


def register(subparsers: Any) -> None:
    """Add ``preview`` to the ``dagen`` command (``subparsers`` from ``add_subparsers``)."""
    parser = subparsers.add_parser(
        "preview", help="show the DAG a spec becomes: graph, tasks, schedule, arguments", description=DESCRIPTION
    )
    add_arguments(parser)
    parser.set_defaults(run=run)


def parser() -> argparse.ArgumentParser:
    """``dagen preview`` on its own (for tests and ``python -m generator.preview.command``)."""
    main_parser = argparse.ArgumentParser(prog="dagen")
    register(main_parser.add_subparsers(dest="command", required=True))
    return main_parser


def main(argv: Sequence[str] | None = None) -> int:
    """``argv`` without the program name, starting with ``preview``."""
    args = parser().parse_args(argv)
    return int(args.run(args))


def parse_now(text: str | None) -> datetime:
    if text is None:
        return datetime.now(timezone.utc).replace(microsecond=0)
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise UsageError(f"--now: '{text}' is not an ISO 8601 time such as 2024-06-01T00:00:00Z") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _check_combinations(args: argparse.Namespace) -> None:
    if args.diff and args.show_args:
        raise UsageError("--diff and --show-args cannot be combined")
    if args.diff and args.format not in DIFF_FORMATS:
        raise UsageError(f"--diff prints text or json, not {args.format}")
    if args.show_args and args.format not in SHOW_ARGS_FORMATS:
        raise UsageError(f"--show-args prints text or json, not {args.format}")
    missing = [path for path in args.paths if not Path(path).exists()]
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(missing)}")


def _tasks_named(previews: list[DagPreview], name: str) -> list[tuple[DagPreview, Any]]:
    """The tasks ``name`` designates: ``TASK`` in every DAG, or ``DAG_ID.TASK``; a grouped task is ``GROUP.TASK``.

    Task and DAG ids may both hold dots, so each DAG is tried with and without its id in front.
    """
    found = []
    for preview in previews:
        candidates = [name]
        if name.startswith(preview.dag_id + "."):
            candidates.append(name[len(preview.dag_id) + 1 :])
        task = next((t for t in map(preview.task, candidates) if t is not None), None)
        if task is not None:
            found.append((preview, task))
    if not found:
        known = ", ".join(f"{p.dag_id}.{t.task_id}" for p in previews for t in p.tasks)
        raise UsageError(f"--show-args: no task '{name}'; the tasks are: {known}")
    return found


def _show_args(previews: list[DagPreview], args: argparse.Namespace) -> str:
    from generator.preview.text import arguments_text

    found = _tasks_named(previews, args.show_args)
    if args.format == "json":
        items = [
            {"dag_id": preview.dag_id, "task_id": task.task_id, "operator": task.operator, "arguments": task.arguments}
            for preview, task in found
        ]
        return json.dumps(items, indent=2, ensure_ascii=False) + "\n"
    return "\n\n".join(arguments_text(preview, task) for preview, task in found) + "\n"


def _render(previews: list[DagPreview], fmt: str, now: datetime) -> str | bytes:
    from generator.preview import graph as preview_graph
    from generator.preview import html as preview_html
    from generator.preview import text as preview_text

    renderers: dict[str, Callable[[], str | bytes]] = {
        "text": lambda: preview_text.render_text(previews, now),
        "json": lambda: json.dumps(document(previews, now), indent=2, ensure_ascii=False) + "\n",
        "mermaid": lambda: preview_graph.render_mermaid(previews),
        "dot": lambda: preview_graph.render_dot(previews),
        "svg": lambda: preview_graph.render_svg(previews),
        "png": lambda: preview_graph.render_png(previews),
        "html": lambda: preview_html.render_html(previews, now),
    }
    return renderers[fmt]()


def _diff(run_: PreviewRun, args: argparse.Namespace, now: datetime) -> str:
    from generator.preview.diff import DiffError, diff_runs, previews_at, render_diff_json, render_diff_text

    try:
        old = previews_at(args.diff, [Path(path) for path in args.paths], now=now)
    except DiffError as error:
        raise UsageError(str(error)) from error
    diffs = diff_runs(old, run_, args.diff)
    return render_diff_json(diffs, args.diff) if args.format == "json" else render_diff_text(diffs, args.diff)


def _produce(args: argparse.Namespace) -> int:
    _check_combinations(args)
    now = parse_now(args.now)
    run_ = preview_paths([Path(path) for path in args.paths], now=now)
    if not run_.files:
        print(f"dagen: DG701 no pipeline specs (*.yaml, *.yml) under {', '.join(args.paths)}", file=sys.stderr)
        return 1
    if run_.diagnostics:
        print(REPORTERS["text"](run_.diagnostics, run_.files))
        return 1
    if args.diff:
        output: str | bytes = _diff(run_, args, now)
    elif args.show_args:
        output = _show_args(run_.previews, args)
    else:
        output = _render(run_.previews, args.format, now)
    write_output(output, args.output)
    return 0


def run(args: argparse.Namespace) -> int:
    from generator.preview.graph import GraphvizMissing

    try:
        return _produce(args)
    except UsageError as error:
        print(f"dagen preview: error: {error}", file=sys.stderr)
        return 2
    except GraphvizMissing as error:
        print(f"dagen preview: {error}", file=sys.stderr)
        return 1
    except OutputError as error:
        print(f"dagen: {error}", file=sys.stderr)
        return 1
    except OSError:  # stdout closed or full: for dagen's main to end quietly
        raise
    except Exception as error:  # noqa: BLE001 - a bug must still not end in a traceback for the user
        if isinstance(error, ModuleNotFoundError) and is_airflow_missing(error):
            print(needs_airflow("preview"), file=sys.stderr)
            return 2
        print(f"dagen preview: internal error, please report it: {type(error).__name__}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
