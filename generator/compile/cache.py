"""A content-addressed cache of compiled configurations, for the DAG loader's hot path.

MWAA re-parses the DAGs folder every 30 s; most specs have not changed since the
last parse.  A spec that compiled cleanly is stored under the SHA-256 of
everything its configuration depends on: the spec's bytes, its folder's
defaults file, the generator's own source and the versions of the libraries that
judge a spec, the provider profile, the Airflow major and the file's display
name.  Change any of them and the key changes; a cache miss just compiles.
The files a spec reads beside it (``query_file``) are named by its bytes; the
entry records each one's SHA-256 and is used only while they all still match
(:func:`generator.spec.files_beside.unchanged`), so their bytes are part of the key too.
Specs with problems are never cached, so their diagnostics are always fresh.

Entries are JSON, not pickle, in an envelope user data cannot produce: every
mapping and list is wrapped, so the compiler's :class:`Constructed` markers are
the only objects restored, and only from an allow-list.  An entry of any other
shape (or without tasks) is ignored and the spec compiled again.  The folder
must belong to the current user and be writable by no one else, or the cache
is not used; it is checked and used through one open descriptor (no race).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import stat
import tempfile
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

from generator.compile.constructed import CONSTRUCTED_TYPES, Constructed

FORMAT = "3"
_LIBRARIES = ("pyyaml", "jsonschema", "jinja2", "croniter")


@cache
def generator_fingerprint() -> str:
    """Hash of the generator's source and of the libraries whose verdicts it relies on."""
    digest = hashlib.sha256(FORMAT.encode())
    package = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))  # the generator package
    # names as text, not pathlib (its relative_to cost a task start 0.03 s over the package's 180 files)
    sources = []
    for folder, _, names in os.walk(package):
        relative = os.path.relpath(folder, package).replace(os.sep, "/")
        sources += [name if relative == "." else f"{relative}/{name}" for name in names if name.endswith(".py")]
    for source in sorted(sources):
        digest.update(source.encode())
        with open(os.path.join(package, source), "rb") as handle:
            digest.update(handle.read())
    for library in _LIBRARIES:
        try:
            digest.update(f"{library}=={metadata.version(library)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{library}==absent".encode())
    return digest.hexdigest()


# Every JSON object in an entry's configuration is an envelope the encoder wrote: {"d": pairs} a mapping,
# {"l": items} a list, {"c": path, "a": args, "k": pairs} a compiler marker.  User data is always inside
# "d"/"l", so no value a spec holds can be read back as a marker, and an object of any other shape (or a bare
# list) inside the configuration makes the entry unusable.  They are unwrapped as json.loads reads them.


def _encode(value: Any) -> Any:
    if isinstance(value, Constructed):
        return {"c": value.path, "a": [_encode(a) for a in value.args], "k": _encode(value.kwargs)["d"]}
    if isinstance(value, dict):
        return {"d": [[key, _encode(sub)] for key, sub in value.items()]}
    if isinstance(value, (list, tuple)):
        return {"l": [_encode(sub) for sub in value]}
    if value is None or isinstance(value, (str, int, float)):
        return value
    raise TypeError(f"{type(value).__name__} in a configuration")


class _Items(list):  # type: ignore[type-arg]
    """A list an ``{"l": ...}`` envelope held (a JSON list anywhere else is structure, or makes the entry unusable)."""


class _Plain(dict):  # type: ignore[type-arg]
    """A JSON object that is no envelope: allowed only as the entry itself and its ``files``."""


_UNWRAPPED = (list, _Plain)  # what no value inside an envelope may be: a bare list, an object of another shape


def _mapping(pairs: Any) -> dict[str, Any] | None:
    if type(pairs) is not list:
        return None
    mapping: dict[str, Any] = {}
    for pair in pairs:
        if type(pair) is not list or len(pair) != 2 or type(pair[0]) is not str or type(pair[1]) in _UNWRAPPED:
            return None
        mapping[pair[0]] = pair[1]
    return mapping


def _envelope(value: dict[str, Any]) -> Any:
    """``json.loads``'s object hook: each envelope (innermost first) as what it holds, else a :class:`_Plain`."""
    if len(value) == 1:
        if "d" in value and (mapping := _mapping(value["d"])) is not None:
            return mapping
        items = value.get("l")
        if type(items) is list and not any(type(item) in _UNWRAPPED for item in items):
            return _Items(items)
    elif len(value) == 3 and value.keys() == {"c", "a", "k"}:
        args, kwargs = value["a"], _mapping(value["k"])
        if value["c"] not in CONSTRUCTED_TYPES:
            raise ValueError(f"unexpected type {value['c']} in a cache entry")
        if type(args) is list and kwargs is not None and not any(type(arg) in _UNWRAPPED for arg in args):
            return Constructed(value["c"], args=tuple(args), kwargs=kwargs)
    return _Plain(value)


def decode_config(value: Any) -> dict[str, Any]:
    """A configuration :func:`encode_config` stored, as ``json.loads(..., object_hook=_envelope)`` read it.

    ValueError unless it is a mapping envelope with tasks, every object in it an envelope.
    """
    if type(value) is not dict or not isinstance(value.get("tasks"), dict) or not value["tasks"]:
        raise ValueError("a cache entry without tasks")
    return value


def encode_config(config: dict[str, Any]) -> Any:
    return _encode(config)


class CacheEntry(NamedTuple):
    dag_id: str
    config: dict[str, Any]
    files: dict[str, str]  # relative path of each file the spec reads beside it -> SHA-256 of its bytes
    key: str = ""  # the key it was compiled under (stored in shipped entries; the file name in the cache)


def entry_json(key: str, dag_id: str, config: dict[str, Any], files: dict[str, str]) -> str:
    """One entry as JSON text (the cache's files and the shipped build's)."""
    return json.dumps({"key": key, "dag_id": dag_id, "config": encode_config(config), "files": files})


MAX_ENTRY_BYTES = 16 * 1024 * 1024  # far above any compiled spec (a spec is at most 1 MiB)


def parse_entry(raw: bytes) -> CacheEntry | None:
    """The entry in ``raw``, or None when it is not exactly what :func:`entry_json` writes."""
    try:
        entry = json.loads(raw.decode("utf-8"), object_hook=_envelope)
        if type(entry) is not _Plain:
            return None
        files, key, dag_id = entry.get("files", {}), entry.get("key", ""), entry["dag_id"]
        if not isinstance(files, dict) or not all(
            isinstance(name, str) and isinstance(sha, str) for name, sha in files.items()
        ):
            return None
        if not isinstance(dag_id, str) or not isinstance(key, str):
            return None
        return CacheEntry(dag_id, decode_config(entry["config"]), files, key)
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return None


def _read_descriptor(descriptor: int, owner: int | None) -> bytes | None:
    """A regular file's bytes from an open descriptor (closed here); None for anything else."""
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_ENTRY_BYTES:
            return None
        if owner is not None and info.st_uid != owner:
            return None
        with os.fdopen(descriptor, "rb") as handle:
            descriptor = -1
            return handle.read(MAX_ENTRY_BYTES + 1)
    except OSError:
        return None
    finally:
        if descriptor >= 0:
            os.close(descriptor)


def read_entry(path: Path) -> CacheEntry | None:
    """The entry in ``path`` (a shipped build's), or None when it is missing, unreadable or malformed."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)  # no FIFO can block a parse
    except OSError:
        return None
    raw = _read_descriptor(descriptor, owner=None)
    return parse_entry(raw) if raw is not None else None


class CompileCache:
    """Compiled configurations by content key, in a private folder.

    The folder is opened once, checked on that descriptor (owned by this user, writable by no one else), and
    every entry is read and written relative to it: swapping the folder or an entry for a link after the
    check changes nothing, and an entry another user made is never read.
    """

    _FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._descriptor: int | None = None

    def __del__(self) -> None:
        if self._descriptor is not None:
            os.close(self._descriptor)

    def _folder(self) -> int | None:
        """The checked descriptor of the folder, or None when the folder cannot be used safely."""
        if self._descriptor is None:
            try:
                descriptor = os.open(self.folder, self._FOLDER_FLAGS)
            except OSError:
                return None
            info = os.fstat(descriptor)
            if info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                os.close(descriptor)
                return None
            self._descriptor = descriptor
        return self._descriptor

    @classmethod
    def default(cls) -> CompileCache | None:
        """The cache in ``$DAGEN_CACHE_DIR`` or the temp folder; None when it cannot be used safely."""
        if os.environ.get("DAGEN_CACHE", "1") == "0":
            return None
        folder = Path(os.environ.get("DAGEN_CACHE_DIR") or Path(tempfile.gettempdir()) / f"dagen-cache-{os.getuid()}")
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError:
            return None
        cache = cls(folder)
        return cache if cache._folder() is not None else None

    def read_bytes(self, name: str) -> bytes | None:
        """An entry of the folder, if it is a regular file of this user (never followed if a link)."""
        folder = self._folder()
        if folder is None:
            return None
        try:
            descriptor = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=folder)
        except OSError:
            return None
        return _read_descriptor(descriptor, owner=os.getuid())

    def write_text(self, name: str, text: str) -> None:
        """Write then rename, inside the folder: a concurrent parser never reads half a file.  Silent (a cache)."""
        folder = self._folder()
        if folder is None:
            return
        temporary = f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            descriptor = os.open(temporary, flags, 0o600, dir_fd=folder)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(temporary, name, src_dir_fd=folder, dst_dir_fd=folder)
        except OSError:
            try:
                os.unlink(temporary, dir_fd=folder)
            except OSError:
                pass

    @staticmethod
    def key(*, spec: bytes, defaults: bytes, file: str, profile: str, airflow_major: int) -> str:
        digest = hashlib.sha256(generator_fingerprint().encode())
        for part in (file.encode(), profile.encode(), str(airflow_major).encode(), defaults, spec):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
        return digest.hexdigest()

    def get(self, key: str) -> CacheEntry | None:
        """The entry stored under ``key``; the caller checks that its ``files`` are unchanged."""
        raw = self.read_bytes(f"{key}.json")
        entry = parse_entry(raw) if raw is not None else None
        return entry._replace(key=key) if entry is not None else None

    def put(self, key: str, dag_id: str, config: dict[str, Any], *, files: dict[str, str] | None = None) -> None:
        try:
            text = entry_json(key, dag_id, config, files or {})
        except (TypeError, ValueError):
            return
        self.write_text(f"{key}.json", text)
