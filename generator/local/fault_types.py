"""The task types whose work the emulator can make fail (``--fail``) or whose start response it can lose (``--flaky``).

A task type the emulator can fault is listed here by its ``NAME``; ``"cluster"`` stands for a
``create_<cluster>`` task (RunJobFlow).
"""

from __future__ import annotations

STARTS = (  # types whose start call the emulator can fail (the work ends FAILED) or whose response it can lose
    "emr_step",
    "emr_notebook",
    "step_function",
    "glue_job",
    "athena_query",
    "emr_serverless_job",
    "emr_eks_job",
    "lambda_invoke",
    "redshift_sql",
    "s3_to_redshift",
    "redshift_to_s3",
    "glue_data_quality",
)
FAILABLE = (*STARTS, "s3_copy")  # a copy is refused (AccessDenied): no response to lose
FLAKY = (*STARTS, "glue_crawler", "cluster")
