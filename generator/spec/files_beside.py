"""The files a spec reads beside it (``query_file``): read so that none leads out of its folder, and checked.

:mod:`generator.spec.files` reads them into a spec when it is compiled; the
loader checks with :func:`unchanged` that a cached or shipped configuration's
files still hold what it was compiled from, without importing the checks.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from generator.spec.load import MAX_FILE_BYTES, TooLarge, read_regular

SUFFIXES = (".sql", ".dqdl")  # what a spec may read beside it; dagen deploy uploads these with the specs


@dataclass(frozen=True)
class FileProblem:
    """Why a file beside a spec cannot be used: the end of a sentence naming it, and a hint."""

    reason: str
    hint: str


_OUTSIDE_HINT = "only the spec's folder is deployed with it: put the file there instead of linking to it"
READ_HINT = "the file is read when the spec is compiled: make it a readable UTF-8 text file"


def _may_leave(folder: Path, relative: PurePosixPath) -> bool:
    """Whether ``relative`` could lead out of ``folder``: it is absolute, or a part is '..' or a symbolic link.

    A few ``lstat`` calls on the parts below the folder, instead of resolving the
    whole path every time: the loader checks the files of every cache hit.
    """
    if relative.is_absolute() or ".." in relative.parts:
        return True
    path = os.fspath(folder)
    for part in relative.parts:
        path = os.path.join(path, part)
        try:
            if stat.S_ISLNK(os.lstat(path).st_mode):
                return True
        except OSError:
            return False  # missing or unreadable: reading it says which
    return False


def read_beside(folder: Path, relative: str) -> bytes | FileProblem:
    """The bytes of ``relative`` inside ``folder``, or why they cannot be used.

    The schema already refuses absolute paths and ``..``; this also refuses a
    symbolic link that leads out of the folder, so a spec can only use files
    that are deployed with it.
    """
    path = folder / PurePosixPath(relative)
    if _may_leave(folder, PurePosixPath(relative)):
        try:
            root = folder.resolve()
            path = path.resolve()
        except (OSError, RuntimeError) as error:  # a symbolic link loop (RuntimeError before Python 3.13)
            return FileProblem(f"cannot be resolved ({getattr(error, 'strerror', None) or error})", READ_HINT)
        if not path.is_relative_to(root):
            return FileProblem("leads outside the spec's folder", _OUTSIDE_HINT)
    try:
        return read_regular(path)
    except FileNotFoundError:
        return FileProblem("does not exist beside the spec", "")
    except TooLarge as error:
        return FileProblem(f"is {error.args[0]:,} bytes, over the limit of {MAX_FILE_BYTES:,}", READ_HINT)
    except OSError as error:
        return FileProblem(f"cannot be read ({error.strerror or error})", READ_HINT)


def digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def unchanged(folder: Path, digests: Mapping[str, str]) -> bool:
    """True when every file still has the content whose digest was recorded."""
    for relative, expected in digests.items():
        content = read_beside(folder, relative)
        if isinstance(content, FileProblem) or digest(content) != expected:
            return False
    return True
