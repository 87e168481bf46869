"""What the command line says around its reports: output that may not be writable, verbosity, progress.

Reports go to stdout; everything else (errors, notes, ``--verbose`` lines, the progress counter) goes to
stderr, so a pipe of the report never holds a progress line.  An output that cannot be written (a
missing folder, a directory, a full disk) is one :class:`OutputError`, which ``dagen``'s ``main`` turns
into one line and exit 1.  Imports nothing else of dagen.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

AIRFLOW_MODULES = ("airflow", "dagfactory")
AIRFLOW_HINT = "pip install 'dagen[airflow]' (pin it to your MWAA version: see README \"Airflow versions\")"
STDIN = "-"  # the path that names a spec read from standard input
PROGRESS_FROM = 10  # fewer files are checked faster than a counter can be read


class OutputError(Exception):
    """Output that could not be written: ``cannot write PATH: REASON`` (exit 1)."""

    def __init__(self, target: str, error: OSError) -> None:
        super().__init__(f"cannot write {target}: {error.strerror or error}")


def write_output(data: str | bytes, path: str | None) -> None:
    """``data`` (text gets a final newline) to the file ``path``, or to stdout when ``path`` is None.

    A file that cannot be written raises :class:`OutputError`; stdout's own errors (a closed pipe, a
    full disk) propagate as OSError for ``main`` to end quietly.
    """
    if isinstance(data, str):
        data = (data if data.endswith("\n") else data + "\n").encode("utf-8")
    if path is None and getattr(sys.stdout, "buffer", None) is None:  # a text stream (an in-process capture)
        sys.stdout.write(data.decode("utf-8", errors="replace"))
        return
    if path is None:
        sys.stdout.flush()  # what print() wrote before comes first
        rest = memoryview(data)
        while rest:  # unbuffered (PYTHONUNBUFFERED), stdout's buffer is the file: one write takes what a pipe holds
            written = sys.stdout.buffer.write(rest)
            rest = rest[len(rest) if written is None else written :]
        sys.stdout.flush()
        return
    try:
        Path(path).write_bytes(data)
    except OSError as error:
        raise OutputError(path, error) from None


def write_file(path: Path, text: str) -> None:
    """One file of an output folder (``compile --target mwaa-serverless -o DIR``), as :func:`write_output`."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise OutputError(path.as_posix(), error) from None


def os_error_line(error: OSError, output: str | None) -> str | None:
    """The one line for an OSError that ended a command, or None for a closed stdout pipe.

    Writing to stdout failed (no file name on the error): stdout is pointed at /dev/null so Python's own
    flush at exit fails no more (the recipe of the Python docs' "Note on SIGPIPE"); a pipe whose reader
    left is the reader's choice, not an error to report.
    """
    if error.filename is None and (output is None or isinstance(error, BrokenPipeError)):
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):  # stdout is not a file (captured in tests)
            pass
        return None if isinstance(error, BrokenPipeError) else f"dagen: cannot write stdout: {error.strerror}"
    target = output if error.filename is None or error.filename == output else error.filename
    what = "cannot write " if target == output else ""
    return f"dagen: {what}{target}: {error.strerror or error}"


def airflow_missing(modules: tuple[str, ...] = AIRFLOW_MODULES) -> bool:
    """Whether Airflow or dag-factory cannot be imported (looked up, not imported: no Airflow start-up)."""
    for name in modules:
        try:
            if importlib.util.find_spec(name) is None:
                return True
        except (ImportError, ValueError):  # a module set to None in sys.modules, or a finder refusing it
            return True
    return False


def is_airflow_missing(error: ImportError) -> bool:
    """Whether an import failed because Airflow or dag-factory is not installed."""
    return isinstance(error, ModuleNotFoundError) and (error.name or "").split(".")[0] in AIRFLOW_MODULES


def needs_airflow(command: str) -> str:
    return f"dagen {command}: needs Apache Airflow: {AIRFLOW_HINT}"


@dataclass
class Console:
    """stderr for one command: ``quiet`` keeps only errors, ``verbose`` adds what was read."""

    quiet: bool = False
    verbose: bool = False
    stream: TextIO | None = None  # None: sys.stderr at the time of writing (tests replace it)
    _counter: bool = field(default=False, repr=False)
    _last: float = field(default=0.0, repr=False)

    @property
    def _out(self) -> TextIO:
        return self.stream if self.stream is not None else sys.stderr

    def _line(self, message: str) -> None:
        self._clear()
        print(message, file=self._out, flush=True)

    def error(self, message: str) -> None:
        self._line(message)

    def note(self, message: str) -> None:
        """A warning or a remark: not with ``--quiet``."""
        if not self.quiet:
            self._line(message)

    def info(self, message: str) -> None:
        """What was read, where from: only with ``--verbose``."""
        if self.verbose:
            self._line(message)

    def progress(self, done: int, total: int, what: str = "checked") -> None:
        """``checked 120/500`` overwriting itself, on a terminal only, for many files; cleared at the end."""
        if self.quiet or total < PROGRESS_FROM or not self._out.isatty():
            return
        now = time.monotonic()
        if done < total and now - self._last < 0.1:
            return
        self._last = now
        self._out.write(f"\r{what} {done}/{total}")
        self._out.flush()
        self._counter = True
        if done >= total:
            self._clear()

    def _clear(self) -> None:
        if self._counter:
            self._out.write("\r\x1b[K")
            self._out.flush()
            self._counter = False
