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

A task process looks up the spec recorded as built under its DAG id: that
spec keeps the id in every full parse (a spec added later to claim it gets
DG406), so one ``stat`` of it is enough.  Only without such a spec (a worker
whose cache never saw the folder) is every spec looked up.  A spec whose
signature changed, or that the index does not know, is read: its declared id
is its stem unless its bytes can spell ``dag_id``, and only then is it parsed.
The index is a hint about the specs, never a source of DAGs: what it says is
checked against the file before it is used.
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


class SpecIndex:
    """The index of one pipelines folder (empty, and never saved, without a usable cache).

    Entries are checked as they are used: a task process reads the index of 1000 specs, checks the one
    entry of its DAG's holder and leaves the others as read.
    """

    def __init__(self, cache: CompileCache | None, name: str, stored: dict[str, object]) -> None:
        self.cache, self.name = cache, name
        self._stored = stored  # file -> its fields as read
        self._entries: dict[str, IndexEntry] = {}  # the entries checked or made by this parse
        self._complete = False  # whether _entries holds every stored entry (or replaced them: restart)
        self._previous: dict[str, IndexEntry] | None = None  # the index a full parse started from
        self._changed = False

    @classmethod
    def load(cls, cache: CompileCache | None, folder: Path) -> SpecIndex:
        if cache is None:
            return cls(None, "", {})
        name = f"index-{hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:32]}.json"
        raw = cache.read_bytes(name)
        try:
            data = json.loads(raw) if raw is not None else {}
        except ValueError:
            data = {}
        usable = isinstance(data, dict) and data.get("format") == FORMAT and isinstance(data.get("files"), dict)
        return cls(cache, name, data["files"] if usable else {})

    def get(self, file: str) -> IndexEntry | None:
        if file not in self._entries and not self._complete:
            entry = _entry(self._stored.get(file))
            if entry is not None:
                self._entries[file] = entry
        return self._entries.get(file)

    def set(self, file: str, entry: IndexEntry) -> None:
        self._changed = self._changed or self.get(file) != entry
        self._entries[file] = entry

    def all(self) -> dict[str, IndexEntry]:
        """Every entry (the stored ones checked, with this parse's in their place)."""
        if not self._complete:
            for file, fields in self._stored.items():
                if file not in self._entries and (entry := _entry(fields)) is not None:
                    self._entries[file] = entry
            self._complete = True
        return dict(self._entries)

    def restart(self) -> dict[str, IndexEntry]:
        """For a full parse: the index becomes what this parse records (a deleted spec leaves it); the old one."""
        self._previous = self.all()
        self._entries = {}
        return self._previous

    def holder(self, dag_id: str) -> str | None:
        """The one file the index records as built under ``dag_id`` (None: no file, or more than one)."""
        files = [
            file
            for file, fields in self._stored.items()
            if isinstance(fields, dict) and fields.get("registered") == dag_id
        ]
        return files[0] if len(files) == 1 else None

    def lookup(self, file: str, path: Path) -> IndexEntry | None:
        """The entry of ``file``, made afresh (declared id read from the file) when the file changed."""
        sig = signature(path)
        old = self.get(file)
        if old is not None and old.signature == sig:
            return old  # the file on disk is still the one indexed
        if sig is None:
            return None
        try:
            raw = read_regular(path)
        except (OSError, TooLarge):  # the parse that builds it reports the problem
            raw = b""
        entry = IndexEntry(sig, declared_dag_id(raw, path.stem), None, old.good_key if old else None)
        self.set(file, entry)
        return entry

    def save(self) -> None:
        """Write the index if this parse changed it."""
        changed = self._changed if self._previous is None else self._entries != self._previous
        if self.cache is None or not changed:
            return
        files: dict[str, object] = {file: asdict(entry) for file, entry in sorted(self.all().items())}
        self.cache.write_text(self.name, json.dumps({"format": FORMAT, "files": files}))
        self._stored, self._previous, self._changed = files, None, False
