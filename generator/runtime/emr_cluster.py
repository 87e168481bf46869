"""The cluster pair of a pipeline, made retry-safe: create adopts an earlier try's cluster, terminate finds by tags.

RunJobFlow has no idempotency token, so a ``create_<cluster>`` retried after its
first try had started a cluster (a lost worker, a lost response, a waiter
timeout, a stale executor event) would start a second one, and a teardown that
knew only the XCom'd id would leave the first running until its idle timeout.

**Identity.** Every cluster a pipeline creates carries three tags (put there by
:mod:`generator.compile.lower`): ``dagen:dag-id`` (the DAG id), ``dagen:cluster``
(the cluster's key in the spec) and ``dagen:run-id`` (the DAG run's ``run_id``,
as :func:`run_tag` renders it).  A cluster belongs to a run's ``<cluster>`` when
it is *live* (STARTING, BOOTSTRAPPING, RUNNING or WAITING), its EMR name is the
request's ``Name`` and it carries all three tags with those values (each task
renders the name and tags with its own context, so a ``name`` template must render
the same on every try of both tasks: ``{{ ds }}``, params and ``{{ run_id }}`` do,
``{{ ti.try_number }}`` does not).  Finding them: ListClusters with those
states, every page; only the summaries with that name are described
(DescribeCluster), and the tags compared.  A cluster this role
may not describe (IAM allows it only on clusters of its own DAGs) is another
pipeline's, and skipped.  A role that may not list clusters (a policy older than
``dagen iam``'s) gets a warning in the log and the provider operator's own
behaviour: create starts a cluster, terminate terminates the XCom'd one.

**Create** (:class:`RetrySafeEmrCreateJobFlowOperator`): before RunJobFlow, look
for the run's live clusters; if there is one, adopt it -- the oldest, if an
earlier race made several -- instead of calling RunJobFlow: its id is what the
provider operator goes on with, so it is returned (XCom), linked, and waited
for exactly as a new cluster would be (deferrably through the provider's
``EmrCreateJobFlowTrigger`` when the task is deferrable, with the same waiter
and attempts).  Otherwise RunJobFlow runs as before.  When the *last* try fails
in the operator (the cluster never got ready, the waiter gave up), it terminates
the run's live clusters itself before failing: a setup that fails never runs its
teardown.  (A try failed from outside -- its worker killed on the last try --
leaves the cluster to its ``idle_timeout``.)

**Terminate** (:class:`RetrySafeEmrTerminateJobFlowOperator`): terminate every
live cluster of the run's ``<cluster>``, plus the id ``create_<cluster>`` pushed
to XCom if there is one (a create that failed before RunJobFlow pushed none).
The XCom'd cluster (else the oldest found) is terminated and waited for by the
provider operator, deferrably through ``EmrTerminateJobFlowTrigger``; the others
are terminated in one TerminateJobFlows call first.  Nothing found and nothing
XCom'd: nothing to do, and the task succeeds.

**The run id as a tag value.** EMR tag values are at most 256 characters of
letters, digits, spaces and ``_ . : / = + - @``, and may not start with ``aws:``.
Every run id Airflow makes (``scheduled__``, ``manual__``, ``backfill__``,
``dataset_triggered__``/``asset_triggered__`` + an ISO timestamp, Airflow 3
adding ``_`` + 8 letters or digits when there is no logical date) is such a
value and is used as it is.  A custom run id given on trigger may hold other
characters (Airflow's default ``allowed_run_id_pattern`` allows ``~``): it becomes
its characters with each one EMR refuses replaced by ``_``, cut to 200, then
``-`` and the first 16 hex digits of its SHA-256, so distinct run ids stay
distinct.  Create (on the tags it sends and matches) and terminate (on the tags
it matches) apply the same rendering to the same rendered ``{{ run_id }}``.

Both provider lines are served: 9.34 (MWAA 3.3.1) builds the create operator's
hook from ``aws_hook_class``, 9.0 (MWAA 2.10.3) from ``_emr_hook``; the waiting,
the triggers, the links and the failure handling are the provider's own.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import cached_property
from typing import Any

from airflow.providers.amazon.aws.hooks.emr import EmrHook
from airflow.providers.amazon.aws.operators.emr import EmrCreateJobFlowOperator, EmrTerminateJobFlowOperator
from botocore.exceptions import ClientError

DAG_TAG = "dagen:dag-id"
CLUSTER_TAG = "dagen:cluster"
RUN_TAG = "dagen:run-id"
IDENTITY_TAGS = (DAG_TAG, CLUSTER_TAG, RUN_TAG)
LIVE_STATES = ("STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING")

_TAG_VALUE = re.compile(r"[A-Za-z0-9 _.:/=+\-@]{0,256}")
_REFUSED = re.compile(r"[^A-Za-z0-9 _.:/=+\-@]")
_DENIED = ("AccessDeniedException", "AccessDenied")
_NO_ID = ("", "None")  # what an XCom template renders to when create_<cluster> pushed nothing


def run_tag(run_id: str) -> str:
    """``run_id`` as the value of the ``dagen:run-id`` tag (see the module: itself whenever EMR accepts it)."""
    if _TAG_VALUE.fullmatch(run_id) and not run_id.lower().startswith("aws:"):
        return run_id
    readable = _REFUSED.sub("_", run_id)[:200]
    if readable.lower().startswith("aws:"):
        readable = f"_{readable}"[:200]
    return f"{readable}-{hashlib.sha256(run_id.encode('utf-8')).hexdigest()[:16]}"


def identity_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """The identity tags among ``tags``, the run id rendered as a tag value."""
    return {key: run_tag(tags[key]) if key == RUN_TAG else tags[key] for key in IDENTITY_TAGS if key in tags}


def _tag_map(tags: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    return {str(tag["Key"]): str(tag.get("Value", "")) for tag in tags}


def _denied(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in _DENIED


def live_clusters(emr: Any, *, name: str, tags: Mapping[str, str]) -> list[str]:
    """Ids of the live clusters named ``name`` carrying every tag of ``tags``, oldest first.

    ``emr`` is a boto3 EMR client.  ListClusters returns at most 50 clusters a page,
    unsorted: every page is read, and the order comes from each cluster's creation time.
    """
    found: list[tuple[Any, str]] = []
    pages = emr.get_paginator("list_clusters").paginate(ClusterStates=list(LIVE_STATES))
    for page in pages:
        for summary in page.get("Clusters", []):
            if summary.get("Name") != name:
                continue
            try:
                cluster = emr.describe_cluster(ClusterId=summary["Id"])["Cluster"]
            except ClientError as error:
                if _denied(error):
                    continue  # not one of this role's DAGs' clusters (IAM lets it describe only those)
                raise
            status = cluster.get("Status", {})
            carried = _tag_map(cluster.get("Tags", []))
            if status.get("State") in LIVE_STATES and all(carried.get(k) == v for k, v in tags.items()):
                created = status.get("Timeline", {}).get("CreationDateTime")
                found.append((created.timestamp() if created else 0.0, str(summary["Id"])))
    return [cluster_id for _, cluster_id in sorted(found)]


def _live_clusters_or_none(emr: Any, log: Any, *, name: str, tags: Mapping[str, str]) -> list[str] | None:
    """:func:`live_clusters`, or None (logged) when the role may not list clusters: a role not yet given
    ListClusters (``dagen iam``) keeps what the provider operator does, rather than fail a teardown."""
    try:
        return live_clusters(emr, name=name, tags=tags)
    except ClientError as error:
        if not _denied(error):
            raise
        log.warning("Cannot look for this run's clusters (%s): grant what `dagen iam` lists", error)
        return None


class AdoptingEmrHook(EmrHook):  # type: ignore[misc]
    """``EmrHook`` whose ``create_job_flow`` adopts the run's live cluster instead of starting a second one."""

    def create_job_flow(self, job_flow_overrides: dict[str, Any]) -> dict[str, Any]:
        request = dict(job_flow_overrides)
        tags = _tag_map(request.get("Tags", []))
        identity = identity_tags(tags)
        if len(identity) < len(IDENTITY_TAGS) or "Name" not in request:
            return dict(super().create_job_flow(request))  # not a dagen cluster: nothing to adopt by
        request["Tags"] = [
            {**tag, "Value": identity[tag["Key"]]} if tag["Key"] == RUN_TAG else tag for tag in request["Tags"]
        ]
        adoptable = _live_clusters_or_none(self.conn, self.log, name=str(request["Name"]), tags=identity)
        if not adoptable:
            return dict(super().create_job_flow(request))
        self.log.info(
            "Adopting cluster %s: it is live and tagged %s, so an earlier try of this DAG run started it "
            "(RunJobFlow not called)%s",
            adoptable[0],
            identity,
            f"; also live with these tags: {', '.join(adoptable[1:])}" if adoptable[1:] else "",
        )
        return {"JobFlowId": adoptable[0], "ResponseMetadata": {"HTTPStatusCode": 200}}


class RetrySafeEmrCreateJobFlowOperator(EmrCreateJobFlowOperator):  # type: ignore[misc]
    """``EmrCreateJobFlowOperator`` that adopts the cluster an earlier try of the DAG run started (see the module)."""

    aws_hook_class = AdoptingEmrHook  # providers 9.34: ``self.hook`` is built from it

    @cached_property
    def _emr_hook(self) -> EmrHook:
        """The hook providers 9.0 build here (9.34 never reads this), with the arguments 9.0 gives it."""
        return AdoptingEmrHook(aws_conn_id=self.aws_conn_id, emr_conn_id=self.emr_conn_id, region_name=self.region_name)

    def execute(self, context: Any) -> Any:
        with self._no_cluster_left_when_no_try_is(context):
            return super().execute(context)

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> Any:
        with self._no_cluster_left_when_no_try_is(context):
            return super().execute_complete(context, event)

    @contextmanager
    def _no_cluster_left_when_no_try_is(self, context: Any) -> Iterator[None]:
        """The last try failing (its cluster never got ready, a waiter gave up) terminates the run's clusters.

        A failed setup never runs its teardown, so ``terminate_<cluster>`` cannot; an earlier try's failure
        leaves the cluster to the next try, which adopts it.  (A deferral is a ``BaseException``: it passes.)
        """
        try:
            yield
        except Exception:
            ti = context["ti"]
            if int(ti.try_number) > int(ti.max_tries):  # no try left
                self._terminate_run_clusters()
            raise

    def _terminate_run_clusters(self) -> None:
        request = self.job_flow_overrides if isinstance(self.job_flow_overrides, dict) else {}
        identity = identity_tags(_tag_map(request.get("Tags", [])))
        if len(identity) < len(IDENTITY_TAGS) or "Name" not in request:
            return
        hook = self.hook if hasattr(EmrCreateJobFlowOperator, "aws_hook_class") else self._emr_hook
        found = _live_clusters_or_none(hook.conn, self.log, name=str(request["Name"]), tags=identity)
        if found:
            self.log.warning("Last try failed: terminating this run's clusters %s", ", ".join(found))
            hook.conn.terminate_job_flows(JobFlowIds=found)


class RetrySafeEmrTerminateJobFlowOperator(EmrTerminateJobFlowOperator):  # type: ignore[misc]
    """``EmrTerminateJobFlowOperator`` that terminates every live cluster of the run's cluster (see the module).

    :param cluster_name: the EMR name ``create_<cluster>`` gives the cluster (templated, like its request).
    :param cluster_tags: the identity tags ``create_<cluster>`` puts on it (templated).
    """

    template_fields = (*EmrTerminateJobFlowOperator.template_fields, "cluster_name", "cluster_tags")
    job_flow_id: str | None  # the provider operator's: the id create_<cluster> returned, as rendered

    def __init__(self, *, cluster_name: str, cluster_tags: dict[str, str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cluster_name = cluster_name
        self.cluster_tags = cluster_tags

    def _emr_client(self) -> Any:
        """The client the provider operator itself terminates with (9.0 builds its hook in ``execute``)."""
        if hasattr(EmrTerminateJobFlowOperator, "aws_hook_class"):
            return self.hook.conn
        return EmrHook(aws_conn_id=self.aws_conn_id).get_conn()

    def execute(self, context: Any) -> None:
        pushed = str(self.job_flow_id or "").strip()
        pushed = "" if pushed in _NO_ID else pushed
        emr = self._emr_client()
        found = _live_clusters_or_none(
            emr, self.log, name=str(self.cluster_name), tags=identity_tags(self.cluster_tags)
        )
        live = found or []
        targets = list(dict.fromkeys([pushed, *live] if pushed else live))
        if not targets:
            self.log.info(
                "No cluster to terminate: none is live with the name %s and tags %s, and create pushed no id",
                self.cluster_name,
                identity_tags(self.cluster_tags),
            )
            return None
        awaited, others = targets[0], targets[1:]
        if others:
            self.log.info("Terminating %s too: live clusters of this DAG run's cluster", ", ".join(others))
            emr.terminate_job_flows(JobFlowIds=others)
        self.job_flow_id = awaited
        return super().execute(context)  # type: ignore[no-any-return]
