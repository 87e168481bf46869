"""The retry rule of the tasks that start work on AWS and wait for it: which tries belong together, and what a try does.

A task's *tries of this run* are the try numbers since the task was last
cleared, the current one last: Airflow sets ``max_tries`` to the last try
number plus ``retries`` when a task is cleared (and to ``retries`` when its
task instance is made), so the first of them is ``max_tries - retries + 1``.
A clear starts afresh: the work of the tries before it is never adopted, so a
re-run from the UI always runs the work again.

Each try names the work it starts by :func:`try_key` (dag id, run id, task id,
map index, try number): a Step Functions execution name, notebook execution
tags, an EMR job run's client token.  A try first looks at the work the tries
of this run started (:func:`next_step`):

* one that **succeeded** is the task's result (an earlier try ended after its
  work did, e.g. its worker was lost): nothing is started;
* one still **running** is adopted and waited for (a lost start response, a
  lost worker, a wait that timed out): nothing is started, so at most one
  execution of a task runs at a time;
* when all of them **ended unsuccessfully** (failed, timed out, aborted,
  stopped, cancelled), or there is none, this try starts new work under its own
  key -- unless this try's own work is among them (it already failed: the try
  fails, and the next try starts again).

**Client tokens** (EMR Serverless and EMR on EKS job runs): StartJobRun is
idempotent on its client token, and a job run cannot be looked up by it, so a
try recovers the job run of an earlier try by sending that try's token again
(:func:`replayed_token`), oldest first: a token already used returns its job
run and starts nothing.  The first whose job run has not ended unsuccessfully
is the one this try sends (so it is awaited, or is the result); if all ended
unsuccessfully the try sends its own token, which starts a new job run.  (A
token whose try never reached StartJobRun starts a job run when replayed: that
is then this try's new job run.)

This module imports no Airflow: it is the rule, shared by the operators beside
it (what each task type's retry does is said in words by its module's ``RETRY``,
shown by ``dagen preview``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any, Literal

Step = Literal["done", "wait", "failed", "start"]


def tries_of_this_run(ti: Any, retries: int) -> range:
    """The try numbers of ``ti`` since its task was last cleared, the current one last."""
    current = max(1, int(ti.try_number))
    first = int(ti.max_tries) - int(retries) + 1
    return range(max(1, min(first, current)), current + 1)


def run_key(dag_id: str, run_id: str, task_id: str, map_index: int) -> str:
    """One task (one mapped instance) of one DAG run, as a UUID (36 characters of ``[0-9a-f-]``)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"dagen/{dag_id}/{run_id}/{task_id}/{map_index}"))


def try_key(dag_id: str, run_id: str, task_id: str, map_index: int, try_number: int) -> str:
    """One try of a task of a DAG run, as a UUID: what that try names the work it starts by."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"dagen/{dag_id}/{run_id}/{task_id}/{map_index}/{try_number}"))


def keys_of(context: Mapping[str, Any], retries: int) -> dict[int, str]:
    """Try number -> :func:`try_key`, for the tries of this run of the context's task (current last)."""
    ti = context["ti"]
    return {
        number: try_key(ti.dag_id, context["run_id"], ti.task_id, getattr(ti, "map_index", -1), number)
        for number in tries_of_this_run(ti, retries)
    }


def next_step(
    states: Mapping[int, str], current: int, *, succeeded: frozenset[str], unsuccessful: frozenset[str]
) -> tuple[Step, int]:
    """What try ``current`` does, given the state of the work each try of this run started (see the module).

    ``states`` maps a try number to the state of its work (tries that started none are absent); a state
    in neither set is still running.  Returns the step and the try whose work it concerns.
    """
    for number in sorted(states, reverse=True):
        if states[number] in succeeded:
            return "done", number
    for number in sorted(states, reverse=True):
        if states[number] not in unsuccessful:
            return "wait", number
    if current in states:
        return "failed", current
    return "start", current


def replayed_token(keys: Mapping[int, str], state_of: Callable[[str], str], *, unsuccessful: frozenset[str]) -> str:
    """The client token try ``max(keys)`` sends (see the module); ``state_of(token)`` starts with it, idempotently."""
    current = max(keys)
    for number in sorted(keys):
        if number != current and state_of(keys[number]) not in unsuccessful:
            return keys[number]
    return keys[current]
