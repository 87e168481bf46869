"""The build ``dagen deploy`` ships in the bundle, so the first parse after a deploy is as fast as a warm one.

For every spec the bundle holds ``compiled/<spec path>.json``: the entry the
loader's compile cache would hold for it (:mod:`generator.compile.cache`), with
the key it was compiled under (the spec's bytes, its folder's defaults, the
files it reads beside it, the generator's source, the library versions, the
provider profile and the Airflow major).  The loader uses an entry only when
that key is the one it computes itself, and compiles otherwise (a spec uploaded
by hand, another library version).  An entry is data restored through the
cache's envelope and allow-list: nothing in the bundle can construct an
arbitrary object.  Because ``dagen deploy`` ships only specs that validate,
the entry of a spec that no longer does is its last good build.
"""

from __future__ import annotations

from pathlib import Path

from generator.compile.cache import CacheEntry, read_entry

FOLDER = "compiled"


def entry_path(file: str) -> str:
    """Where the entry of the spec displayed as ``file`` (``pipelines/x.yaml``) sits, relative to the root."""
    return f"{FOLDER}/{file}.json"


class ShippedBuild:
    """The ``compiled/`` folder of a bundle root (the folder holding ``pipelines/``)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def beside(cls, root: Path) -> ShippedBuild | None:
        return cls(root) if (root / FOLDER).is_dir() else None

    def get(self, file: str) -> CacheEntry | None:
        """The shipped entry of a spec, whatever its key (the caller compares it)."""
        return read_entry(self.root / entry_path(file))
