"""Progress of ``dagen deploy``: a rich progress bar on a terminal, one plain line per operation otherwise.

CI logs and pipes get plain lines (a redrawn bar would fill them with control
codes); rich is optional and imported only for a terminal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

Report = Callable[[int, str], None]  # (operations done, what was just done)


@contextmanager
def progress(stream: TextIO, total: int) -> Iterator[Report]:
    """A reporter for ``total`` operations written to ``stream``."""
    if total and stream.isatty():
        try:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
        except ImportError:
            pass
        else:
            columns = (
                TextColumn("deploying"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.description}"),
            )
            with Progress(*columns, console=Console(file=stream)) as bar:
                task = bar.add_task("", total=total)
                yield lambda done, text: bar.update(task, completed=done, description=text)
            return

    def line(done: int, text: str) -> None:
        stream.write(f"[{done}/{total}] {text}\n")
        stream.flush()

    yield line
