"""SNS and S3 in the emulator: moto handles both; messages and objects are recorded with who made them.

A copy (CopyObject) by an origin made to fail (``--fail`` on an ``s3_copy`` task) is refused with
``AccessDenied`` and the cause, so the task fails on each try (botocore never retries AccessDenied).
"""

from __future__ import annotations

import json
from typing import Any

from generator.local.emulator.shared import current_origin, fail_cause, record


def install() -> None:
    import moto.s3.models as s3_models
    import moto.sns.models as sns_models

    stock_publish = sns_models.Topic.publish

    def publish(self: Any, message: str, subject: str | None = None, **kwargs: Any) -> str:
        message_id: str = stock_publish(self, message, subject, **kwargs)
        text = message
        if kwargs.get("message_structure") == "json":  # one message per protocol: record the default one
            text = json.loads(message).get("default", message)
        record("message", message_id, {"subject": subject, "message": text}, parent=self.arn)
        return message_id

    sns_models.Topic.publish = publish

    stock_put = s3_models.S3Backend.put_object

    def put_object(self: Any, bucket_name: str, key_name: str, value: bytes, *args: Any, **kwargs: Any) -> Any:
        key = stock_put(self, bucket_name, key_name, value, *args, **kwargs)
        record("object", f"s3://{bucket_name}/{key_name}", {"size": len(value or b"")}, parent=bucket_name)
        return key

    s3_models.S3Backend.put_object = put_object

    from moto.s3.exceptions import S3ClientError

    stock_copy = s3_models.S3Backend.copy_object

    def copy_object(self: Any, src_key: Any, dest_bucket_name: str, dest_key_name: str, *args: Any, **kw: Any) -> Any:
        cause = fail_cause(current_origin())
        if cause:
            raise S3ClientError("AccessDenied", f"dagen emulator: this copy fails: {cause}")
        return stock_copy(self, src_key, dest_bucket_name, dest_key_name, *args, **kw)

    s3_models.S3Backend.copy_object = copy_object
