"""IAM statements of the Redshift Data API tasks (``RedshiftDataOperator``).

``ExecuteStatement``/``BatchExecuteStatement`` are authorised on the cluster
(``cluster:ID``) or the Serverless workgroup; a workgroup's ARN holds its id, not
its name, so a workgroup named in the spec is ``workgroup/*``.  ``DescribeStatement``,
``GetStatementResult`` and ``CancelStatement`` take no resource (``*``): the Data API
lets only the identity that ran a statement see or cancel it.  Signing in: a
secret is read by the caller (``secretsmanager:GetSecretValue``); ``db_user`` is
``redshift:GetClusterCredentials`` on that user and database; with neither, the
caller's IAM identity is the user (``redshift:GetClusterCredentialsWithIAM`` on a
cluster's database, ``redshift-serverless:GetCredentials`` on a workgroup).  Nothing
on S3: a COPY or UNLOAD reads and writes S3 as the role its IAM_ROLE clause names,
which the cluster assumes (no ``iam:PassRole`` by the caller).
"""

from __future__ import annotations

from generator.core.model import OperatorTask
from generator.iam.builder import PolicyBuilder, widen


def redshift_data_tasks(builder: PolicyBuilder, task: OperatorTask) -> None:
    arns, kwargs = builder.arns, task.kwargs
    database = widen(kwargs["database"])
    if "cluster_identifier" in kwargs:
        cluster = widen(kwargs["cluster_identifier"])
        target = arns.make("redshift", f"cluster:{cluster}")
    else:
        cluster = None
        target = arns.make("redshift-serverless", "workgroup/*")
    builder.allow(
        "RedshiftDataRunStatements", ["redshift-data:BatchExecuteStatement", "redshift-data:ExecuteStatement"], [target]
    )
    builder.allow(
        "RedshiftDataOwnStatements",
        ["redshift-data:CancelStatement", "redshift-data:DescribeStatement", "redshift-data:GetStatementResult"],
        ["*"],
    )
    if "secret_arn" in kwargs:
        builder.allow("RedshiftReadSecrets", ["secretsmanager:GetSecretValue"], [kwargs["secret_arn"]])
    elif "db_user" in kwargs and cluster is not None:
        builder.allow(
            "RedshiftDatabaseUserCredentials",
            ["redshift:GetClusterCredentials"],
            [
                arns.make("redshift", f"dbuser:{cluster}/{widen(kwargs['db_user'])}"),
                arns.make("redshift", f"dbname:{cluster}/{database}"),
            ],
        )
    elif cluster is not None:
        builder.allow(
            "RedshiftIamCredentials",
            ["redshift:GetClusterCredentialsWithIAM"],
            [arns.make("redshift", f"dbname:{cluster}/{database}")],
        )
    else:
        builder.allow("RedshiftServerlessIamCredentials", ["redshift-serverless:GetCredentials"], [target])
