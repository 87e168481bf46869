"""The task types: one module each, registered in the one table below.

A task type module defines ``NAME``, ``SUMMARY``, ``OPERATORS`` (dotted paths
it lowers to), ``PROPERTIES``/``REQUIRED`` (its schema fragment), ``lower``
(task -> operator tasks, the first is the entry, the last the exit) and,
optionally, ``check`` (rules the schema cannot express), ``ONE_OF`` (groups
of keys of which a task sets exactly one; ``check`` enforces it, the spec
reference's example uses the first) and ``FILE_KEYS`` (keys naming a file
beside the spec, read into another key by :mod:`generator.spec.files`).
Adding a type means adding its module, one line here, and its data cases in
``tests/cases``.  A type with ``MAPPED_KWARG`` (the operator argument that
holds ``{{ item }}``) can be mapped over another task's output at run time.
"""

from __future__ import annotations

from types import ModuleType

from generator.task_types import (
    athena_query,
    branch,
    emr_eks_job,
    emr_notebook,
    emr_serverless_job,
    emr_step,
    generic_operator,
    glue_crawler,
    glue_data_quality,
    glue_job,
    glue_partition_wait,
    http_wait,
    lambda_invoke,
    python,
    redshift_sql,
    redshift_to_s3,
    s3_copy,
    s3_create_bucket,
    s3_delete,
    s3_keys_unchanged,
    s3_list,
    s3_to_redshift,
    s3_wait,
    sns_publish,
    step_function,
    wait_until,
)

TASK_TYPES: dict[str, ModuleType] = {
    module.NAME: module
    for module in (emr_step, emr_notebook, step_function, glue_job, glue_crawler)
    + (athena_query, s3_wait, emr_serverless_job, emr_eks_job, lambda_invoke, python, http_wait, branch)
    + (wait_until, redshift_sql, s3_to_redshift, redshift_to_s3, sns_publish)
    + (s3_copy, s3_delete, s3_create_bucket, s3_list, s3_keys_unchanged)
    + (glue_data_quality,)
    + (glue_partition_wait,)
    + (generic_operator,)  # the escape hatch, last
}
MAPPABLE_TYPES = frozenset(name for name, module in TASK_TYPES.items() if hasattr(module, "MAPPED_KWARG"))
