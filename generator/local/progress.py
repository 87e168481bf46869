"""Task states as a local run goes: the progress lines of ``dagen run --local``.

The child (:mod:`generator.local.run`) already has a callback at each change of a task's state (for its
report): when a task starts (``running``), succeeds, fails or is up for retry.  Each of those appends one
line to the file named by :data:`PROGRESS_ENV` (the run folder's ``progress.tsv``); the parent reads the
new lines of that file while it waits for the child (:func:`generator.local.child.run_child`'s tick,
every :data:`~generator.local.child.TICK_SECONDS`) and prints each as a line of its own, on a terminal
or not.  Nothing polls the metadata DB, and a run without the variable (a test's) announces nothing.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

PROGRESS_ENV = "DAGEN_LOCAL_RUN_PROGRESS"
PROGRESS_FILE = "progress.tsv"


def announce(task_id: str, state: str, span: Sequence[float] | None = None) -> None:
    """In the child: ``task_id`` (``TASK[INDEX]`` for a member of a mapped task) is now ``state``."""
    path = os.environ.get(PROGRESS_ENV)
    if not path:
        return
    duration = "" if span is None else f"{span[1] - span[0]:.1f}"
    with open(path, "a", encoding="utf-8") as progress:  # one short write per line: never a torn line
        progress.write(f"{task_id}\t{state}\t{duration}\n")


def progress_line(task_id: str, state: str, duration: str, width: int) -> str:
    """``  create_etl            running`` / ``  create_etl            success  (12.3s)``."""
    line = f"  {task_id:<{width}}{state}"
    return f"{line}  ({duration}s)" if duration else line


class ProgressLines:
    """In the parent: prints each state change the child announced since the last call (the tick)."""

    def __init__(self, path: Path, *, width: int = 22, out: TextIO | None = None) -> None:
        self.path = path
        self.width = width
        self.out = out or sys.stdout
        self.offset = 0
        self.lines: list[str] = []
        self.states: dict[str, str] = {}  # a deferred task resumes: its callback says "running" again

    def __call__(self) -> None:
        try:
            with self.path.open("rb") as progress:
                progress.seek(self.offset)
                data = progress.read()
        except FileNotFoundError:  # no task has started yet
            return
        complete = data[: data.rfind(b"\n") + 1]
        self.offset += len(complete)
        for raw in complete.decode("utf-8", errors="replace").splitlines():
            task_id, _, rest = raw.partition("\t")
            state, _, duration = rest.partition("\t")
            if self.states.get(task_id) == state:
                continue
            self.states[task_id] = state
            line = progress_line(task_id, state, duration, self.width)
            self.lines.append(line)
            print(line, file=self.out, flush=True)
