"""IAM statements of the Lambda tasks: InvokeFunction on the function (and version or alias) a spec names."""

from __future__ import annotations

from generator.core.model import OperatorTask
from generator.iam.builder import Arns, PolicyBuilder, widen


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
