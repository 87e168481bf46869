"""The S3 side of ``dagen deploy``: check the bucket, read the remote state, upload and delete.

boto3 is imported only here and only when a deploy runs, so validating specs
never needs it.  Every AWS or network failure becomes a :class:`DeployError`
(one line naming the file or bucket and the cause, and a hint), never a
traceback.  Objects are only ever written or deleted under the two prefixes of
the plan; :func:`_inside` re-checks that before each call.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from threading import Lock
from typing import Any

from generator.deploy.bundle import BundleFile, release_of
from generator.deploy.plan import DELETE, Location, Plan, RemoteObject, Step, listing_proves_same

SHA256_METADATA = "dagen-sha256"  # sent as x-amz-meta-dagen-sha256
MWAA_BUCKET_PREFIX = "airflow-"

_CONTENT_TYPES = {
    ".py": "text/x-python",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".json": "application/json",
    ".ipynb": "application/x-ipynb+json",
}


class DeployError(Exception):
    """A deploy that cannot go on: a one-line message and a hint."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


def bucket_name_problem(bucket: str) -> DeployError | None:
    """MWAA refuses a source bucket whose name does not start with ``airflow-``."""
    if bucket.startswith(MWAA_BUCKET_PREFIX):
        return None
    return DeployError(
        f"bucket '{bucket}' cannot hold MWAA DAGs: its name must start with '{MWAA_BUCKET_PREFIX}'",
        "pass the environment's DAGs bucket (DagsBucketName of cloudformation/mwaa-environment.yaml)",
    )


DEFAULT_MAX_ATTEMPTS = 10  # botocore's standard retry mode: rides out sustained SlowDown and 500s


class Retries:
    """The retries botocore made so far (each response says how many it needed)."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = Lock()  # uploads run in threads

    def record(self, response: Any) -> None:
        metadata = response.get("ResponseMetadata", {}) if isinstance(response, dict) else {}
        with self._lock:
            self.count += int(metadata.get("RetryAttempts", 0) or 0)

    def text(self) -> str:
        return f" ({self.count} retr{'y' if self.count == 1 else 'ies'} so far)" if self.count else ""


def s3_client(*, region: str | None, endpoint_url: str | None, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise DeployError(
            "boto3 is not installed (deploy needs it to talk to S3)", "pip install boto3 into dagen's environment"
        ) from None
    config = Config(
        user_agent_extra="dagen-deploy",
        # S3-compatible servers behind a custom endpoint rarely resolve bucket subdomains.
        s3={"addressing_style": "path"} if endpoint_url else {},
        retries={"mode": "standard", "total_max_attempts": max_attempts},  # the first attempt included
        connect_timeout=10,
        read_timeout=60,
    )
    session = boto3.session.Session(region_name=region)
    return session.client("s3", endpoint_url=endpoint_url, config=config)


def _errors() -> tuple[type[Exception], ...]:
    """What an S3 call can raise when the service or the network fails (urllib3 and botocore both leak a few
    plain exceptions on a connection dropped mid-response)."""
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError, OSError, AttributeError, ValueError)


def _code(error: Exception) -> str:
    response = getattr(error, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def aws_cause(error: Exception) -> str:
    """The part of a botocore error a person needs: the AWS error code and message, or the network problem."""
    response = getattr(error, "response", None)
    if isinstance(response, dict) and response:
        detail = response.get("Error", {})
        code = detail.get("Code") or response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
        return f"{code}: {detail.get('Message') or 'no message'}"
    return str(error) or type(error).__name__


def _bucket_error(bucket: str, error: Exception) -> DeployError:
    code = _code(error)
    if code in ("NoSuchBucket", "404"):
        return DeployError(
            f"bucket '{bucket}' does not exist",
            "create it with cloudformation/mwaa-environment.yaml (docs/deploying-stacks.md) or check --bucket",
        )
    if code in ("AccessDenied", "403"):
        return DeployError(
            f"access to bucket '{bucket}' denied ({aws_cause(error)})",
            "the deploy role needs s3:GetBucketVersioning, s3:ListBucket, s3:GetObject, s3:PutObject and "
            "s3:DeleteObject on the prefixes (docs/deploying-dags.md)",
        )
    from botocore.exceptions import NoCredentialsError

    if isinstance(error, NoCredentialsError):
        return DeployError(
            "no AWS credentials found",
            "set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run in CI with OIDC",
        )
    return DeployError(
        f"cannot read bucket '{bucket}': {aws_cause(error)}", "check --endpoint-url, --region and the network"
    )


def check_dags_bucket(client: Any, bucket: str, retries: Retries) -> None:
    """MWAA needs versioning on its source bucket (requirements.txt and plugins are pinned by version id)."""
    try:
        response = client.get_bucket_versioning(Bucket=bucket)
        retries.record(response)
        status = response.get("Status")
    except _errors() as error:
        raise _bucket_error(bucket, error) from None
    if status != "Enabled":
        state = "suspended" if status == "Suspended" else "never enabled"
        raise DeployError(
            f"bucket '{bucket}' does not have versioning enabled ({state}); MWAA requires a versioned DAGs bucket",
            f"aws s3api put-bucket-versioning --bucket {bucket} --versioning-configuration Status=Enabled",
        )


def _inside(location: Location, key: str) -> str:
    # The last guard of "never anything outside the prefixes": refuse, do not trust the caller.
    if not key.startswith(location.prefix) or key == location.prefix:
        raise AssertionError(f"refusing to touch s3://{location.bucket}/{key}: outside {location.uri()}")
    return key


def list_remote(client: Any, location: Location, retries: Retries) -> dict[str, RemoteObject]:
    """Every object under the prefix (one paginated listing, no download), by path below the prefix.

    Folder markers (keys ending in "/", made by the console's "Create folder")
    are not files: they are neither compared nor deleted.
    """
    found: dict[str, RemoteObject] = {}
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=location.bucket, Prefix=location.prefix):
            retries.record(page)
            for item in page.get("Contents", []):
                key = item["Key"]
                if key.startswith(location.prefix) and not key.endswith("/"):
                    path = key[len(location.prefix) :]
                    found[path] = RemoteObject(path=path, size=item["Size"], etag=item["ETag"].strip('"').lower())
    except _errors() as error:
        raise _bucket_error(location.bucket, error) from None
    return found


def read_hashes(
    client: Any, location: Location, remote: dict[str, RemoteObject], local: dict[str, BundleFile], retries: Retries
) -> dict[str, RemoteObject]:
    """Fill in ``sha256`` from the metadata (a HEAD, never a download), only where the listing cannot decide."""
    out = dict(remote)
    for path, there in remote.items():
        file = local.get(path)
        if file is None or listing_proves_same(file, there):
            continue
        key = _inside(location, location.key(path))
        try:
            response = client.head_object(Bucket=location.bucket, Key=key)
            retries.record(response)
            metadata = response.get("Metadata", {})
        except _errors() as error:
            raise DeployError(
                f"cannot read {location.uri(path)}: {aws_cause(error)}", "check the permissions and rerun"
            ) from None
        out[path] = RemoteObject(path=path, size=there.size, etag=there.etag, sha256=metadata.get(SHA256_METADATA))
    return out


def _content_type(path: str) -> str:
    suffix = path[path.rfind(".") :] if "." in path else ""
    return _CONTENT_TYPES.get(suffix, "text/plain")


def run_step(client: Any, plan: Plan, step: Step, retries: Retries) -> str | None:
    """One upload, copy or deletion; returns the new object's version id (None for a deletion)."""
    location = plan.locations[step.area]
    key = _inside(location, location.key(step.path))
    try:
        if step.action == DELETE:
            # In a versioned bucket this adds a delete marker: the old versions stay recoverable.
            retries.record(client.delete_object(Bucket=location.bucket, Key=key))
            return None
        assert step.file is not None
        common = {"ContentType": _content_type(step.path), "Metadata": {SHA256_METADATA: step.file.sha256}}
        if step.copy_from is not None:
            source = {"Bucket": location.bucket, "Key": _inside(location, location.key(step.copy_from))}
            response = client.copy_object(
                Bucket=location.bucket, Key=key, CopySource=source, MetadataDirective="REPLACE", **common
            )
        else:
            response = client.put_object(Bucket=location.bucket, Key=key, Body=step.file.content, **common)
        retries.record(response)
        return response.get("VersionId")
    except _errors() as error:
        if step.action == DELETE:
            what = f"deleting {plan.uri(step)}"
        else:
            what = f"uploading {step.file.source if step.file else step.path} to {plan.uri(step)}"
        raise DeployError(f"{what} failed: {aws_cause(error)}", "") from None


PARALLEL_UPLOADS = 8  # the files of one release: nothing reads them before the loader names it


def _batches(operations: list[Step]) -> list[list[Step]]:
    """The operations in order, the uploads into a release grouped (they may run at once)."""
    batches: list[list[Step]] = []
    for step in operations:
        parallel = step.action != DELETE and release_of(step.path) is not None
        if parallel and batches and batches[-1][0].action != DELETE and release_of(batches[-1][0].path):
            batches[-1].append(step)
        else:
            batches.append([step])
    return batches


def run_plan(client: Any, plan: Plan, on_step: Callable[[int, Step, str | None], None], retries: Retries) -> None:
    """Every operation in order (a release's uploads at once); the first failure stops the deploy."""
    operations = plan.operations
    done = 0
    with ThreadPoolExecutor(PARALLEL_UPLOADS) as pool:
        for batch in _batches(operations):
            futures = [pool.submit(run_step, client, plan, step, retries) for step in batch]
            for step, future in zip(batch, futures, strict=True):
                try:
                    version = future.result()
                except DeployError as error:
                    for pending in futures:
                        pending.cancel()
                    raise DeployError(
                        error.message,
                        f"{done} of {len(operations)} operation(s) done; "
                        "rerun dagen deploy to finish (it uploads only what still differs)",
                    ) from None
                done += 1
                on_step(done, step, version)


def get_object(client: Any, location: Location, path: str, retries: Retries) -> bytes | None:
    """An object's bytes, or None when there is none."""
    try:
        response = client.get_object(Bucket=location.bucket, Key=_inside(location, location.key(path)))
        retries.record(response)
        return bytes(response["Body"].read())
    except _errors() as error:
        if _code(error) in ("NoSuchKey", "404"):
            return None
        raise _record_failure("read", location, path, error) from None


def _record_failure(verb: str, location: Location, path: str, error: Exception) -> DeployError:
    return DeployError(f"cannot {verb} {location.uri(path)}: {aws_cause(error)}", "check the network and rerun")


def put_record(
    client: Any, location: Location, path: str, content: bytes, retries: Retries, *, exclusive: bool = False
) -> bool:
    """Write one of dagen's records; with ``exclusive``, only if it does not exist (S3 conditional write).

    False when an exclusive write finds the object there.
    """
    condition = {"IfNoneMatch": "*"} if exclusive else {}
    try:
        key = _inside(location, location.key(path))
        response = client.put_object(
            Bucket=location.bucket, Key=key, Body=content, ContentType="application/json", **condition
        )
        retries.record(response)
    except _errors() as error:
        if exclusive and _code(error) in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409"):
            return False
        raise _record_failure("write", location, path, error) from None
    return True


def delete_object(client: Any, location: Location, path: str, retries: Retries) -> None:
    try:
        retries.record(client.delete_object(Bucket=location.bucket, Key=_inside(location, location.key(path))))
    except _errors() as error:
        raise _record_failure("delete", location, path, error) from None
