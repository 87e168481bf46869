"""IAM statements of the S3 waits, and the S3 ARNs other services' statements use."""

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
    """S3KeySensor: a pattern lists the bucket; a key is a HeadObject, which needs ListBucket to see a 404."""
    arns, kwargs = builder.arns, task.kwargs
    if kwargs.get("bucket_name"):
        bucket, key = widen(kwargs["bucket_name"]), widen(kwargs["bucket_key"])
    else:
        bucket, key = s3_location(kwargs["bucket_key"])
    builder.allow("S3ListWaitedBuckets", ["s3:ListBucket"], [s3_arn(arns, bucket)])
    if not kwargs.get("wildcard_match"):
        builder.allow("S3ReadWaitedObjects", ["s3:GetObject"], [s3_arn(arns, f"{bucket}/{key}")])


def s3_condition_tasks(builder: PolicyBuilder, uri: str) -> None:
    """An ``s3_exists`` condition: a key is a HeadObject (ListBucket lets it see a 404), a prefix a listing."""
    bucket, key = s3_location(uri)
    builder.allow("S3ListWaitedBuckets", ["s3:ListBucket"], [s3_arn(builder.arns, bucket)])
    if key and not key.endswith("/") and key != "*":
        builder.allow("S3ReadWaitedObjects", ["s3:GetObject"], [s3_arn(builder.arns, f"{bucket}/{key}")])
