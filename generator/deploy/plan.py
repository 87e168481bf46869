"""What ``dagen deploy`` will do: the bundle compared with the bucket, as an ordered plan.

Pure: the remote side arrives as :class:`RemoteObject` values (from one listing
per prefix, plus a HEAD only where the listing cannot decide), and the plan is
the list of operations in the order they must run, followed by the files left
as they are.  Printing the plan is also here, so ``--dry-run`` and a real deploy
show the same lines.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from generator.deploy.bundle import DAGS, RELEASES, SCRIPTS, BundleFile, phase_of, release_of
from generator.deploy.manifest import LOCK, MANIFEST

ADD, CHANGE, DELETE, KEEP, UNCHANGED = "add", "change", "delete", "keep", "unchanged"
UPLOADS = (ADD, CHANGE)
OWN_FILES = (MANIFEST, LOCK)  # dagen's own records in the DAGs area: never part of a plan

_BUCKET = r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"
# The folder forms MWAA accepts for DagS3Path (see cloudformation/mwaa-environment.yaml).
_FOLDER = r"[A-Za-z0-9_-]+(?:/[A-Za-z0-9_-]+)*"


@dataclass(frozen=True)
class Location:
    """A folder in a bucket; ``prefix`` always ends with "/" and is never empty."""

    bucket: str
    prefix: str

    def key(self, path: str) -> str:
        return self.prefix + path

    def uri(self, path: str = "") -> str:
        return f"s3://{self.bucket}/{self.prefix}{path}"

    def overlaps(self, other: Location) -> bool:
        return self.bucket == other.bucket and (
            self.prefix.startswith(other.prefix) or other.prefix.startswith(self.prefix)
        )


def parse_prefix(text: str) -> str | None:
    """``dags``, ``dags/`` or ``/dags/`` -> ``dags/``; None if not a folder MWAA accepts."""
    folder = text.strip("/")
    return f"{folder}/" if re.fullmatch(_FOLDER, folder) else None


def parse_bucket(text: str) -> str | None:
    """``airflow-x`` or ``s3://airflow-x/`` -> ``airflow-x``; None if not a bucket name."""
    name = text.removeprefix("s3://").rstrip("/")
    return name if re.fullmatch(_BUCKET, name) else None


def parse_folder_uri(text: str) -> Location | None:
    """``s3://bucket/folder/`` -> Location; None without a folder (a bucket root is never a deploy target)."""
    match = re.fullmatch(rf"s3://({_BUCKET})/(.+)", text)
    if not match:
        return None
    prefix = parse_prefix(match.group(2))
    return Location(match.group(1), prefix) if prefix else None


@dataclass(frozen=True)
class RemoteObject:
    """An object as the listing shows it; ``sha256`` is filled in from its metadata when read."""

    path: str  # relative to the area's prefix
    size: int
    etag: str  # without quotes
    sha256: str | None = None


def listing_proves_same(local: BundleFile, remote: RemoteObject) -> bool:
    """True when the listing alone shows the content is unchanged.

    A plain upload's ETag is the MD5 of its content.  A mismatch proves nothing
    (multipart uploads and SSE-KMS have other ETags), so then the SHA-256 that
    every upload stores in its metadata decides (:func:`same_content`).
    """
    return remote.size == len(local.content) and remote.etag == local.md5


def same_content(local: BundleFile, remote: RemoteObject) -> bool:
    return listing_proves_same(local, remote) or remote.sha256 == local.sha256


@dataclass(frozen=True)
class Step:
    action: str
    area: str
    path: str
    file: BundleFile | None = None  # what to upload; None for delete and keep
    copy_from: str | None = None  # an object of the area with the same content: copied in S3, not uploaded
    note: str = ""  # why a remote-only file is kept


KEPT_FOR_PRUNE = "not in the bundle; --prune deletes it"
KEPT_UNMANAGED = "not managed by dagen: left alone"
KEPT_LIVE = "a release MWAA may still parse: kept"


@dataclass(frozen=True)
class Plan:
    """Every file of the bundle and of the bucket's prefixes, with what happens to it."""

    steps: tuple[Step, ...]
    locations: dict[str, Location]
    prune: bool

    @property
    def operations(self) -> list[Step]:
        """What changes the bucket, in the order it must run."""
        return [step for step in self.steps if step.action in (ADD, CHANGE, DELETE)]

    def counts(self) -> Counter[str]:
        return Counter(step.action for step in self.steps)

    def uri(self, step: Step) -> str:
        return self.locations[step.area].uri(step.path)

    def lines(self) -> list[str]:
        releases: dict[tuple[str, str], int] = {}  # a whole release deleted or kept: one line, not one per file
        out: list[str | tuple[str, str]] = []
        for step in self.steps:
            release = release_of(step.path) if step.area == DAGS else None
            if release is not None and (step.note == KEPT_LIVE or step.action == DELETE):
                whole = (step.action, self.locations[step.area].uri(f"{RELEASES}/{release}/"))
                if whole not in releases:
                    out.append(whole)
                releases[whole] = releases.get(whole, 0) + 1
                continue
            action = "copy" if step.copy_from else step.action
            note = f"  ({step.note})" if step.note else ""
            out.append(f"  {action:<10}{self.uri(step)}{note}")
        return [line if isinstance(line, str) else _release_line(*line, releases[line]) for line in out]

    def summary(self, *, dry_run: bool) -> str:
        n = self.counts()
        kept = f"; {n[KEEP]} remote-only file(s) kept" if n[KEEP] else ""
        copies = sum(1 for step in self.steps if step.copy_from)
        copied = f" ({copies} copied in S3)" if copies else ""
        if dry_run:
            return (
                f"dry run: {n[ADD]} to add{copied}, {n[CHANGE]} to change, {n[DELETE]} to delete, "
                f"{n[UNCHANGED]} unchanged{kept}; nothing uploaded"
            )
        return (
            f"summary: {n[ADD]} added{copied}, {n[CHANGE]} changed, {n[DELETE]} deleted, {n[UNCHANGED]} unchanged{kept}"
        )


def _release_line(action: str, folder: str, count: int) -> str:
    why = KEPT_LIVE if action == KEEP else "an older release dagen uploaded"
    return f"  {action:<10}{folder}  ({count} file(s): {why})"


def make_plan(
    files: list[BundleFile],
    remote: dict[str, dict[str, RemoteObject]],
    locations: dict[str, Location],
    *,
    prune: bool,
    managed: dict[str, set[str]] | None = None,
    kept_releases: set[str] | None = None,
) -> Plan:
    """``files`` in upload order and the remote objects of each area -> the plan.

    Uploads keep the bundle's order; a file whose content the area already holds is copied there in S3.
    Remote files not in the bundle: a release dagen uploaded is deleted unless it is one of the
    ``kept_releases`` (the one MWAA parses now and the one before it), another file dagen uploaded
    (``managed``, by area) is deleted with ``prune``, and a file dagen did not upload is never touched.  Deletions come
    after every upload, in the reverse phase order.
    """
    managed = managed or {}
    uploads: list[Step] = []
    unchanged: list[Step] = []
    for file in files:
        there = remote.get(file.area, {}).get(file.path)
        if there is None:
            uploads.append(Step(ADD, file.area, file.path, file, copy_from=_same_content(file, remote)))
        elif same_content(file, there):
            unchanged.append(Step(UNCHANGED, file.area, file.path, file))
        else:
            uploads.append(Step(CHANGE, file.area, file.path, file))
    local = {(file.area, file.path) for file in files}
    extra = sorted(
        ((area, path) for area in (DAGS, SCRIPTS) for path in remote.get(area, {}) if (area, path) not in local),
        key=lambda item: (-phase_of(*item), item[1]),
    )
    deletes: list[Step] = []
    kept: list[Step] = []
    for area, path in extra:
        release = release_of(path) if area == DAGS else None
        if area == DAGS and path in OWN_FILES:
            continue
        if path not in managed.get(area, set()):
            kept.append(Step(KEEP, area, path, note=KEPT_UNMANAGED))
        elif release is not None and release in (kept_releases or set()):
            kept.append(Step(KEEP, area, path, note=KEPT_LIVE))
        elif release is not None or prune:
            deletes.append(Step(DELETE, area, path))
        else:
            kept.append(Step(KEEP, area, path, note=KEPT_FOR_PRUNE))
    return Plan(steps=tuple(uploads + deletes + kept + unchanged), locations=locations, prune=prune)


def _same_content(file: BundleFile, remote: dict[str, dict[str, RemoteObject]]) -> str | None:
    """A remote object of the file's area that the listing shows to hold the file's content, if any."""
    for there in remote.get(file.area, {}).values():
        if listing_proves_same(file, there):
            return there.path
    return None
