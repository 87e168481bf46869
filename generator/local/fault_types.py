"""The task types whose work the emulator can make fail (``--fail``) or whose start response it can lose (``--flaky``).

A task type the emulator can fault is listed here by its ``NAME``; ``"cluster"`` stands for a
``create_<cluster>`` task (RunJobFlow).
"""

from __future__ import annotations

FAILABLE = (
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
)
FLAKY = (*FAILABLE, "glue_crawler", "cluster")
