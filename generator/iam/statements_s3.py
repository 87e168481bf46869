"""IAM statements of the S3 tasks (waits, copy, delete, create bucket, list, keys unchanged), and the S3 ARNs
other services' statements use.

Listings under a prefix are ``s3:ListBucket`` with an ``s3:prefix`` condition; the builder folds the buckets
and prefixes of one Sid into one statement, so two such tasks on different buckets allow each bucket's
listing under either prefix (still never a whole bucket, which has its own Sid).
"""

from __future__ import annotations

from generator.core.model import OperatorTask
from generator.iam.builder import Arns, PolicyBuilder, widen


def s3_arn(arns: Arns, path: str) -> str:
    return f"arn:{arns.partition}:s3:::{path}"  # S3 ARNs name neither region nor account


def s3_location(uri: str) -> tuple[str, str]:
    """Bucket and key of an s3:// URI, widened; a URI templated from its start is any bucket and key."""
    if not uri.startswith("s3://"):
        return "*", "*"
    bucket, _, key = uri[len("s3://") :].partition("/")
    return widen(bucket) or "*", widen(key)


def s3_wait_tasks(builder: PolicyBuilder, task: OperatorTask) -> None:
    """S3KeySensor: a pattern (or a regular expression) lists the bucket; a key is a HeadObject, which needs
    ListBucket to see a 404.  Each key of a list is one of these."""
    arns, kwargs = builder.arns, task.kwargs
    keys = [kwargs["bucket_key"]] if isinstance(kwargs["bucket_key"], str) else list(kwargs["bucket_key"])
    for name in keys:
        if kwargs.get("bucket_name"):
            bucket, key = widen(kwargs["bucket_name"]), widen(name)
        else:
            bucket, key = s3_location(name)
        builder.allow("S3ListWaitedBuckets", ["s3:ListBucket"], [s3_arn(arns, bucket)])
        if not kwargs.get("wildcard_match") and not kwargs.get("use_regex"):
            builder.allow("S3ReadWaitedObjects", ["s3:GetObject"], [s3_arn(arns, f"{bucket}/{key}")])


def _listing(builder: PolicyBuilder, sid: str, bucket: str, prefix: str) -> None:
    """ListBucket on ``bucket``, narrowed to keys under ``prefix`` (by the ``s3:prefix`` condition); a whole
    bucket's listing has its own Sid (one Sid's statements fold their buckets and prefixes together)."""
    if not prefix or prefix == "*":
        builder.allow("S3ListWholeBuckets", ["s3:ListBucket"], [s3_arn(builder.arns, bucket)])
        return
    builder.allow(sid, ["s3:ListBucket"], [s3_arn(builder.arns, bucket)], ("StringLike", "s3:prefix", f"{prefix}*"))


def s3_copy_tasks(builder: PolicyBuilder, task: OperatorTask) -> None:
    """CopyObject reads the source (GetObject; ListBucket so a missing source is a 404) and writes the
    destination (PutObject)."""
    source_bucket, source_key = s3_location(task.kwargs["source_bucket_key"])
    dest_bucket, dest_key = s3_location(task.kwargs["dest_bucket_key"])
    builder.allow("S3CopySources", ["s3:GetObject"], [s3_arn(builder.arns, f"{source_bucket}/{source_key}")])
    builder.allow("S3ListCopySources", ["s3:ListBucket"], [s3_arn(builder.arns, source_bucket)])
    builder.allow("S3CopyDestinations", ["s3:PutObject"], [s3_arn(builder.arns, f"{dest_bucket}/{dest_key}")])


def s3_delete_tasks(builder: PolicyBuilder, task: OperatorTask) -> None:
    """DeleteObjects needs DeleteObject on each key; a prefix is listed first (ListBucket under it)."""
    bucket = widen(task.kwargs["bucket"])
    if "prefix" in task.kwargs:
        prefix = widen(task.kwargs["prefix"])
        _listing(builder, "S3ListDeletedPrefixes", bucket, prefix)
        objects = [f"{bucket}/{prefix}*"]
    else:
        objects = [f"{bucket}/{widen(key)}" for key in task.kwargs["keys"]]
    builder.allow("S3DeleteObjects", ["s3:DeleteObject"], [s3_arn(builder.arns, path) for path in objects])


def s3_create_bucket_tasks(builder: PolicyBuilder, task: OperatorTask) -> None:
    """HeadBucket (allowed by ListBucket) finds a bucket already there; CreateBucket makes it otherwise."""
    arn = s3_arn(builder.arns, widen(task.kwargs["bucket_name"]))
    builder.allow("S3CreateBuckets", ["s3:CreateBucket", "s3:ListBucket"], [arn])


def s3_list_tasks(builder: PolicyBuilder, task: OperatorTask) -> None:
    """ListObjectsV2 under the prefix (a suffix's wildcard is matched by the operator, not by S3)."""
    prefix = widen(task.kwargs["prefix"]).split("*", 1)[0]
    _listing(builder, "S3ListPrefixes", widen(task.kwargs["bucket"]), prefix)


def s3_keys_unchanged_tasks(builder: PolicyBuilder, task: OperatorTask) -> None:
    """The sensor lists the prefix at each check."""
    _listing(builder, "S3ListWatchedPrefixes", widen(task.kwargs["bucket_name"]), widen(task.kwargs["prefix"]))


def s3_condition_tasks(builder: PolicyBuilder, uri: str) -> None:
    """An ``s3_exists`` condition: a key is a HeadObject (ListBucket lets it see a 404), a prefix a listing."""
    bucket, key = s3_location(uri)
    builder.allow("S3ListWaitedBuckets", ["s3:ListBucket"], [s3_arn(builder.arns, bucket)])
    if key and not key.endswith("/") and key != "*":
        builder.allow("S3ReadWaitedObjects", ["s3:GetObject"], [s3_arn(builder.arns, f"{bucket}/{key}")])
