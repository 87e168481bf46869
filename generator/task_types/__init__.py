"""The task types: one module each, registered in the one table below.

A task type module defines ``NAME``, ``SUMMARY``, ``OPERATORS`` (dotted paths
it lowers to), ``PROPERTIES``/``REQUIRED`` (its schema fragment), ``lower``
(task -> operator tasks, the first is the entry, the last the exit) and,
optionally, ``check`` (rules the schema cannot express).  Adding a type means
adding its module, one line here, and its data cases in ``tests/cases``.
"""

from __future__ import annotations

from types import ModuleType

from generator.task_types import emr_notebook, emr_step, glue_crawler, glue_job, step_function

TASK_TYPES: dict[str, ModuleType] = {
    module.NAME: module for module in (emr_step, emr_notebook, step_function, glue_job, glue_crawler)
}
