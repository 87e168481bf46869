"""A local AWS for ``dagen run --local``: moto's server on loopback, plus the few behaviours it lacks.

moto 5.2.5 in server mode already answers every call the generated DAGs make,
except where noted below.  This package adds exactly the missing behaviours,
one module per emulated service, through moto's own extension points (its
model classes, its state manager, its response classes and its config),
in-process:

* **EMR steps** progress ``PENDING -> RUNNING -> COMPLETED`` (stock moto leaves
  them RUNNING forever).  A step is a moto ``ManagedState`` named
  ``emr::step``; by default each DescribeStep/ListSteps that returns it moves
  it one state on, so a waiter polling every second sees it finish in two polls.
* **EMR notebook executions** (StartNotebookExecution, DescribeNotebookExecution,
  StopNotebookExecution, ListNotebookExecutions; stock moto answers HTTP 500):
  ``START_PENDING -> RUNNING -> FINISHED`` (``emr::notebook_execution``).  The
  request is checked the way EMR checks it: the cluster must exist and be
  WAITING/RUNNING, the editor (workspace) must be registered, and the
  parameters must be a JSON object.
* **Glue crawlers** finish at once (state ``glue::crawl`` set to immediate),
  their last crawl reports ``SUCCEEDED`` (moto says ``COMPLETED``), and
  GetCrawlerMetrics is implemented.
* **Glue Data Quality** (moto has none of it): rulesets (Create/Get/Update/Delete/List),
  evaluation runs ``RUNNING -> SUCCEEDED`` one state per GetDataQualityRulesetEvaluationRun, and
  BatchGetDataQualityResult with one ``PASS`` per rule of the DQDL; an injected failure makes the first
  rule ``FAIL`` (the run succeeds, the task fails on the result).
* **Step Functions executions run**: moto's ``execute_state_machine`` is on, so
  definitions made of Pass/Wait/Choice/Succeed/Fail/Parallel/Map states and
  the request-response integrations moto can run really execute.  A definition
  with any other Task resource (``.sync``, ``.waitForTaskToken``, EMR, Lambda,
  Batch, ``aws-sdk:*``...) cannot run in moto; its executions are *completed by
  the emulator*: ``RUNNING -> SUCCEEDED`` with the input as output
  (``stepfunctions::execution``), so the pipeline's wiring is still exercised.
* **EMR Serverless job runs** progress ``SUBMITTED -> RUNNING -> SUCCESS``
  (``emr-serverless::job_run``; stock moto answers SUCCESS at once) and
  **EMR on EKS job runs** ``PENDING -> RUNNING -> COMPLETED``
  (``emr-containers::job_run``; stock moto leaves them RUNNING forever), one
  state per GetJobRun/DescribeJobRun.  StartJobRun is idempotent on its client
  token, as in AWS (moto starts a new run every time): dagen's retries rely
  on it to find the job run an earlier try started.
* **Athena**: StartQueryExecution without a result location (in the request
  or the workgroup) is refused as Athena refuses it; a query whose result
  bucket does not exist fails (``Unable to verify/create output bucket``);
  GetQueryExecution answers with the effective result location and, for a
  failed query, its ``StateChangeReason``.  Queries are not run (moto's
  ``athena::execution`` reaches SUCCEEDED at once).
* **Lambda without Docker**: moto's config ``{"lambda": {"use_docker": False}}``
  (set while the emulator runs) serves Lambda from moto's "simple" backend,
  whose Invoke answers with the event and never runs the code; the emulator
  makes Invoke of an unknown function, version or alias
  ``ResourceNotFoundException`` (the simple backend answers any name), takes
  every name form Lambda takes (moto drops the ``Qualifier`` parameter and
  fails on ``ACCOUNT:function:NAME``) and records each invocation.
* **SNS messages and S3 objects** are recorded with who published or wrote
  them (moto already handles both).
* **Failure injection**, per *origin*: the runner names who is calling (the
  Airflow task id, :meth:`LocalAws.attribute_to`) and can make everything an
  origin starts -- EMR steps, notebook executions, Glue job runs, Step
  Functions executions, EMR Serverless and EMR on EKS job runs, Athena
  queries, Lambda invocations (``X-Amz-Function-Error: Unhandled``), Glue Data Quality rules -- end
  FAILED with a cause (:meth:`LocalAws.fail`), or make the first start call of
  an origin take effect but lose its response
  (:meth:`LocalAws.lose_first_response`), as when a worker dies right after it.
  The same faults can name a *resource* instead (:meth:`LocalAws.fault_on`: a step
  or cluster name, a state machine, a job, a function...), for callers the
  emulator cannot attribute, such as a real Airflow deployment (``dagen emulator``).
* Every resource those calls create is recorded with its origin, so a run can
  report what each task did (:meth:`LocalAws.snapshot`).
* **A call moto does not implement fails at once**: ``501`` with ``dagen emulator:
  <Action> is not emulated`` (stock moto answers 500, which botocore retries).

Batch (it needs Docker) is not emulated.  One emulator runs at a time in a
process: moto's backends are process-global.

The modules: ``emr`` (steps, notebook executions), ``glue``, ``glue_data_quality``, ``stepfunctions``,
``emr_serverless``, ``emr_containers`` (EMR on EKS), ``athena``, ``lambda_``,
``sns_s3``, ``unsupported`` (calls moto lacks); ``shared`` (the account, the
running emulator, records, faults and lost responses, which every service
module uses); ``server`` (:class:`LocalAws` and ``install``, which patches moto
with every service module) and ``snapshot`` (what a run did, as plain data).
"""

from generator.local.emulator.server import LocalAws
from generator.local.emulator.shared import ACCOUNT_ID, DEFAULT_REGION, DUMMY_KEY, RESOURCE_KINDS
from generator.local.emulator.stepfunctions import runnable_in_moto

__all__ = ["ACCOUNT_ID", "DEFAULT_REGION", "DUMMY_KEY", "RESOURCE_KINDS", "LocalAws", "runnable_in_moto"]
