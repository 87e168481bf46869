"""``lambda_invoke`` with ``create_if_missing``: create the function only when it does not exist.

``<task>_create_function`` runs :class:`CreateLambdaFunctionIfMissingOperator` before the invoke.  It
asks GetFunction first:

* the function exists (made by hand, by an earlier run, or by an earlier try of this run whose
  CreateFunction response was lost): nothing is created and **nothing is updated** (neither its code
  nor its configuration: a pipeline that changes them deploys a new function or updates it itself);
  the task waits until the function is ``Active`` and returns its ARN;
* GetFunction answers ``ResourceNotFoundException``: the provider's ``LambdaCreateFunctionOperator``
  creates it and waits until it is ``Active`` (``function_active_v2``).  Two tries racing (a lost
  worker) end the same way: a CreateFunction answered ``ResourceConflictException`` is an existing
  function.

A retry is therefore always safe: it finds the function an earlier try created.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.operators.lambda_function import LambdaCreateFunctionOperator
from botocore.exceptions import ClientError


class CreateLambdaFunctionIfMissingOperator(LambdaCreateFunctionOperator):  # type: ignore[misc]
    """``LambdaCreateFunctionOperator`` that adopts a function that exists instead of failing on it."""

    def execute(self, context: Any) -> Any:
        existing = self._existing_arn()
        if existing is None:
            try:
                return super().execute(context)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "ResourceConflictException":
                    raise
                existing = self._existing_arn()
                if existing is None:
                    raise
        self.log.info("Lambda function %s exists (%s): not created, not updated", self.function_name, existing)
        if self.wait_for_completion:
            self.hook.conn.get_waiter("function_active_v2").wait(
                FunctionName=self.function_name,
                WaiterConfig={"Delay": self.waiter_delay, "MaxAttempts": self.waiter_max_attempts},
            )
        return existing

    def _existing_arn(self) -> str | None:
        try:
            configuration = self.hook.conn.get_function(FunctionName=self.function_name)["Configuration"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return None
            raise
        return str(configuration["FunctionArn"])
