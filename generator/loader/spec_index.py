"""Which spec holds which DAG id, known without opening the specs: the loader's index.

A task process (Airflow's parsing context names one DAG id) must find the one
spec of its DAG without reading the others.  A DAG id is its file's stem unless
the spec sets ``dag_id``, so the loader keeps an index in its cache folder, one
file per pipelines folder.  For each spec it records:

- its stat signature (size, mtime, ctime, inode): while it matches, the file is
  the one indexed, as git's index decides;
- the DAG id the spec declares, and the one the loader registered for it (they
  differ only when a broken spec runs its last good build);
- the compile cache key of its last good build (:mod:`generator.compile.cache`).

A spec whose signature changed, or that the index does not know, is read: its
declared id is its stem unless its bytes can spell ``dag_id``, and only then
is it parsed.  The index is a hint about the specs, never a source of DAGs:
what it says is checked against the file before it is used.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from generator.compile.cache import CompileCache
from generator.spec.load import TooLarge, declared_dag_id, read_regular

FORMAT = 1
Signature = tuple[int, int, int, int]


@dataclass(frozen=True)
class IndexEntry:
    signature: Signature
    declared: str  # the DAG id the spec's bytes give
    registered: str | None = None  # the DAG id the loader built it under (None: not built yet)
    good_key: str | None = None  # the cache key of its last build that succeeded


def signature(path: Path) -> Signature | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)


def _entry(fields: object) -> IndexEntry | None:
    if not isinstance(fields, dict):
        return None
    sig, declared, registered, good = (fields.get(k) for k in ("signature", "declared", "registered", "good_key"))
    if not (isinstance(sig, list) and len(sig) == 4 and all(type(part) is int for part in sig)):
        return None
    if not isinstance(declared, str) or not all(v is None or isinstance(v, str) for v in (registered, good)):
        return None
    return IndexEntry((sig[0], sig[1], sig[2], sig[3]), declared, registered, good)


def _parse(data: object) -> dict[str, IndexEntry]:
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("files"), dict):
        return {}
    entries = {file: _entry(fields) for file, fields in data["files"].items()}
    return {file: entry for file, entry in entries.items() if entry is not None}


class SpecIndex:
    """The index of one pipelines folder (empty, and never saved, without a usable cache)."""

    def __init__(self, cache: CompileCache | None, name: str, entries: dict[str, IndexEntry]) -> None:
        self.cache, self.name, self.entries = cache, name, entries
        self._loaded = dict(entries)

    @classmethod
    def load(cls, cache: CompileCache | None, folder: Path) -> SpecIndex:
        if cache is None:
            return cls(None, "", {})
        name = f"index-{hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:32]}.json"
        raw = cache.read_bytes(name)
        try:
            entries = _parse(json.loads(raw)) if raw is not None else {}
        except ValueError:
            entries = {}
        return cls(cache, name, entries)

    def fresh(self, file: str, path: Path) -> IndexEntry | None:
        """The entry of ``file`` if the file on disk is still the one indexed."""
        entry = self.entries.get(file)
        return entry if entry is not None and entry.signature == signature(path) else None

    def lookup(self, file: str, path: Path) -> IndexEntry | None:
        """The entry of ``file``, made afresh (declared id read from the file) when the file changed."""
        entry = self.fresh(file, path)
        if entry is not None:
            return entry
        sig = signature(path)
        if sig is None:
            return None
        try:
            raw = read_regular(path)
        except (OSError, TooLarge):  # the parse that builds it reports the problem
            raw = b""
        old = self.entries.get(file)
        entry = IndexEntry(sig, declared_dag_id(raw, path.stem), None, old.good_key if old else None)
        self.entries[file] = entry
        return entry

    def save(self) -> None:
        if self.cache is None or self.entries == self._loaded:
            return
        files = {file: asdict(entry) for file, entry in sorted(self.entries.items())}
        self.cache.write_text(self.name, json.dumps({"format": FORMAT, "files": files}))
        self._loaded = dict(self.entries)
