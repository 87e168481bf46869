"""IAM statements of the Lambda tasks: InvokeFunction on the function (and version or alias) a spec names.

A ``create_if_missing`` function's ``<task>_create_function`` calls GetFunction (also what the
``function_active_v2`` waiter polls) and CreateFunction on the function, reads the code object with the
caller's permissions (s3:GetObject) and passes the function's role to Lambda only.
"""

from __future__ import annotations

from generator.core.model import OperatorTask
from generator.iam.builder import Arns, PolicyBuilder, role_arn, widen
from generator.iam.statements_s3 import s3_arn


def _lambda_function_arn(arns: Arns, function: str, qualifier: str | None) -> str:
    """The ARN InvokeFunction is authorised on: a name, an ARN or a partial ARN, with its version or alias."""
    function = widen(function)
    if function.startswith("arn:"):
        arn = function
    elif ":function:" in function:  # ACCOUNT:function:NAME
        account, _, name = function.partition(":function:")
        arn = f"arn:{arns.partition}:lambda:{arns.region}:{account}:function:{name}"
    else:
        arn = arns.make("lambda", f"function:{function}")
    qualified = arn.count(":") > 6  # arn:partition:lambda:region:account:function:name[:qualifier]
    return f"{arn}:{widen(qualifier)}" if qualifier and not qualified else arn


def lambda_tasks(builder: PolicyBuilder, task: OperatorTask) -> None:
    kwargs = task.kwargs
    function = _lambda_function_arn(builder.arns, kwargs["function_name"], kwargs.get("qualifier"))
    builder.allow("LambdaInvokeFunctions", ["lambda:InvokeFunction"], [function])


def lambda_create_tasks(builder: PolicyBuilder, task: OperatorTask) -> None:
    kwargs = task.kwargs
    function = _lambda_function_arn(builder.arns, kwargs["function_name"], None)
    builder.allow("LambdaCreateFunctions", ["lambda:CreateFunction", "lambda:GetFunction"], [function])
    code = kwargs["code"]
    builder.allow(
        "LambdaReadFunctionCode",
        ["s3:GetObject"],
        [s3_arn(builder.arns, f"{widen(code['S3Bucket'])}/{widen(code['S3Key'])}")],
    )
    builder.allow(
        "PassLambdaRoles",
        ["iam:PassRole"],
        [role_arn(builder.arns, kwargs["role"])],
        ("StringEquals", "iam:PassedToService", "lambda.amazonaws.com"),
    )
