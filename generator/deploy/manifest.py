"""What dagen keeps in the DAGs bucket about its own deploys: the manifest and the deploy lock.

The manifest (``dagen-manifest.json`` at the top of the DAGs prefix) lists every
object dagen uploaded, per folder URI: ``--prune`` deletes only those, and
everything else under the prefixes is reported as not managed by dagen.  A
deploy writes it before its first upload (what it is about to upload) and
after its last deletion, so an interrupted deploy never leaves an object of
its own unlisted.

The lock (``dagen-deploy.lock``) is created with a conditional write (S3
``If-None-Match: *``): of two deploys that start together exactly one creates
it, the other stops before reading the bucket.  A deploy deletes its lock when
it ends; one that died leaves it, and ``--break-lock`` removes it.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
from dataclasses import dataclass, field
from datetime import datetime, timezone

MANIFEST = "dagen-manifest.json"
LOCK = "dagen-deploy.lock"
FORMAT = 1


@dataclass
class Manifest:
    """Folder URI (``s3://bucket/prefix/``) -> the paths below it that dagen uploaded."""

    managed: dict[str, set[str]] = field(default_factory=dict)
    releases: list[str] = field(default_factory=list)  # the releases the loader was switched to, oldest first

    def kept_releases(self, live: str | None) -> set[str]:
        """What MWAA may still parse: the live release and the one before (a sync may lag behind a switch)."""
        history = [*self.releases, *([live] if live and live not in self.releases[-1:] else [])]
        return set(history[-2:])

    def switched_to(self, release: str) -> None:
        if release not in self.releases[-1:]:
            self.releases = [*self.releases, release][-10:]

    def paths(self, folder: str) -> set[str]:
        return self.managed.get(folder, set())

    def add(self, folder: str, paths: set[str]) -> None:
        self.managed.setdefault(folder, set()).update(paths)

    def remove(self, folder: str, paths: set[str]) -> None:
        self.managed[folder] = self.paths(folder) - paths

    def to_bytes(self) -> bytes:
        folders = {folder: sorted(paths) for folder, paths in sorted(self.managed.items()) if paths}
        record = {"format": FORMAT, "releases": self.releases, "managed": folders}
        return (json.dumps(record, indent=1) + "\n").encode()

    @classmethod
    def from_bytes(cls, raw: bytes | None) -> Manifest | None:
        """The manifest in ``raw``; an empty one when there is none; None when it is not one dagen wrote."""
        if raw is None:
            return cls()
        try:
            data = json.loads(raw)
        except ValueError:
            return None
        ours = isinstance(data, dict) and data.get("format") == FORMAT
        folders, releases = (data.get("managed"), data.get("releases", [])) if ours else (None, None)
        if not isinstance(folders, dict) or not all(
            isinstance(paths, list) and all(isinstance(path, str) for path in paths) for paths in folders.values()
        ):
            return None
        if not isinstance(releases, list) or not all(isinstance(release, str) for release in releases):
            return None
        return cls({str(folder): set(paths) for folder, paths in folders.items()}, list(releases))


def lock_record() -> bytes:
    """Who holds the lock, for the message of a deploy that finds it taken."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    holder = f"{user}@{socket.gethostname()} (process {os.getpid()}), started {started}"
    return (json.dumps({"holder": holder}) + "\n").encode()


def lock_holder(raw: bytes | None) -> str:
    try:
        holder = json.loads(raw or b"").get("holder")
    except (ValueError, AttributeError):
        holder = None
    return holder if isinstance(holder, str) else "an unknown deploy"
