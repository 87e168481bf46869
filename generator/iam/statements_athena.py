"""IAM statements of the Athena tasks: the query calls, the Glue catalog reads and the result writes."""

from __future__ import annotations

from generator.core.model import OperatorTask
from generator.iam.builder import PolicyBuilder, widen
from generator.iam.statements_s3 import s3_arn, s3_location


def athena_tasks(builder: PolicyBuilder, task: OperatorTask) -> None:
    """AthenaOperator: the query calls, and what Athena does as the caller (catalog reads, result writes)."""
    arns, kwargs = builder.arns, task.kwargs
    workgroup = arns.make("athena", f"workgroup/{widen(kwargs.get('workgroup', 'primary'))}")
    builder.allow(
        "AthenaRunQueries",
        ["athena:GetQueryExecution", "athena:StartQueryExecution", "athena:StopQueryExecution"],
        [workgroup],
    )
    if kwargs.get("catalog", "AwsDataCatalog") == "AwsDataCatalog":  # other catalogs are not the account's Glue
        database = widen(kwargs["database"])
        builder.allow(
            "AthenaReadGlueCatalog",
            [
                "glue:BatchGetPartition",
                "glue:GetDatabase",
                "glue:GetPartition",
                "glue:GetPartitions",
                "glue:GetTable",
                "glue:GetTables",
            ],
            [
                arns.make("glue", "catalog"),
                arns.make("glue", f"database/{database}"),
                arns.make("glue", f"table/{database}/*"),
            ],
        )
    if "output_location" in kwargs:  # else the workgroup's location, which the spec does not name
        bucket, prefix = s3_location(kwargs["output_location"])
        builder.allow(
            "AthenaResultBuckets",
            ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
            [s3_arn(arns, bucket)],
        )
        builder.allow(
            "AthenaWriteResults",
            ["s3:AbortMultipartUpload", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:PutObject"],
            [s3_arn(arns, f"{bucket}/{prefix}*")],
        )
