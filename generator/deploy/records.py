"""The deploy's records in the DAGs bucket, read and written: the lock, the manifest, the live release.

:mod:`generator.deploy.manifest` says what they hold; this module holds them
in S3 (through :mod:`generator.deploy.s3`), each failure a :class:`DeployError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from generator.deploy.bundle import LOADER, RELEASES
from generator.deploy.manifest import LOCK, MANIFEST, Manifest, lock_holder, lock_record
from generator.deploy.plan import Location
from generator.deploy.s3 import DeployError, Retries, delete_object, get_object, put_record

_RELEASE = re.compile(rf'^RELEASE = "{RELEASES}/([0-9a-f]+)"', re.MULTILINE)


@contextmanager
def deploy_lock(client: Any, dags: Location, retries: Retries, *, break_lock: bool) -> Iterator[None]:
    """Hold the bucket's deploy lock for the block; refuse when another deploy holds it."""
    if break_lock:
        delete_object(client, dags, LOCK, retries)
    if not put_record(client, dags, LOCK, lock_record(), retries, exclusive=True):
        holder = lock_holder(get_object(client, dags, LOCK, retries))
        raise DeployError(
            f"another deploy to {dags.uri()} is in progress: {holder}; nothing was uploaded",
            f"wait for it to finish; if it died, rerun with --break-lock (the lock is {dags.uri(LOCK)})",
        )
    try:
        yield
    except DeployError:
        _release_quietly(client, dags, retries)
        raise
    delete_object(client, dags, LOCK, retries)


def _release_quietly(client: Any, dags: Location, retries: Retries) -> None:
    """Release the lock of a failed deploy if S3 is still reachable; if not, --break-lock will."""
    try:
        delete_object(client, dags, LOCK, retries)
    except DeployError:
        pass


def read_manifest(client: Any, dags: Location, retries: Retries) -> Manifest:
    manifest = Manifest.from_bytes(get_object(client, dags, MANIFEST, retries))
    if manifest is None:
        raise DeployError(
            f"{dags.uri(MANIFEST)} is not a manifest dagen wrote; nothing was uploaded",
            "restore its previous version (the bucket is versioned) or delete it: then nothing under the prefixes "
            "counts as managed by dagen, and --prune deletes nothing",
        )
    return manifest


def write_manifest(client: Any, dags: Location, manifest: Manifest, retries: Retries) -> None:
    put_record(client, dags, MANIFEST, manifest.to_bytes(), retries)


def live_release(client: Any, dags: Location, retries: Retries) -> str | None:
    """The release the loader in the bucket names (what MWAA parses now), if any."""
    loader = get_object(client, dags, LOADER, retries)
    match = _RELEASE.search(loader.decode("utf-8", "replace")) if loader else None
    return match.group(1) if match else None
