"""The table of diagnostic codes: each stable code, its title and what it means (the docs page lists them).

Codes come in ranges: DG1xx reading files, DG2xx JSON Schema, DG3xx the task graph, DG4xx values,
DG5xx task types and clusters, DG6xx building the DAG, DG7xx inputs, DG8xx the mwaa-serverless target.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Code:
    """A stable diagnostic code and what it means (shown in docs/diagnostics.md)."""

    code: str
    title: str
    explanation: str


_CODES = (
    # DG1xx: reading files
    Code("DG101", "YAML syntax error", "The file is not valid YAML."),
    Code("DG102", "duplicate key", "A mapping repeats a key; YAML would silently keep only the last one."),
    Code(
        "DG103",
        "forbidden YAML tag",
        "Tags such as `!!python/object` or `!Ref` would construct objects or need a custom loader; "
        "specs are plain data.",
    ),
    Code(
        "DG104",
        "not a pipeline document",
        "The file is empty, holds several documents, or its top level is not a mapping.",
    ),
    Code(
        "DG105",
        "object-constructing key",
        "`__type__`/`__args__` keys make dag-factory import and instantiate arbitrary classes, and dag-factory "
        "gives other `__name__` keys (`__join__`, `__and__`, `__or__`) a meaning; no such key is allowed anywhere "
        "in a spec, including keys brought in by a YAML merge key (`<<:`).",
    ),
    Code("DG106", "file cannot be read", "The file does not exist, is not readable, or is not UTF-8."),
    Code(
        "DG107",
        "file beside the spec cannot be used",
        "A file the spec names (`query_file`) does not exist in the spec's folder, leads out of it through a "
        "symbolic link, is empty, or is not readable UTF-8 text. It is read when the spec is compiled (in MWAA, "
        "from the DAGs folder, where `dagen deploy` puts it beside the spec).",
    ),
    Code(
        "DG108",
        "file too large",
        "A spec, defaults.yaml or query_file is over 1 MiB; such input is refused before it is parsed.",
    ),
    Code(
        "DG109",
        "input over a limit",
        "A spec nests mappings and lists more than 50 deep, stands for more than 100,000 keys, values and items "
        "once its aliases are expanded, holds a key or value over 100,000 characters, or has an alias inside the "
        "value it names; such input is refused before any value is built from it.",
    ),
    Code(
        "DG110",
        "YAML reads it as something else",
        "YAML 1.1 (what PyYAML and Airflow read) turns some plain values into what they do not look like: "
        "`yes`/`no`/`on`/`off` into booleans, `1:30` into 90, `017` into 15, `1_000` into 1000, while `0o17` "
        "stays text; and a key such as `123`, `1.5` or `yes` becomes a number or a boolean. Write `true`/`false` "
        "and decimal numbers, or quote what is meant as text.",
    ),
    # DG2xx: JSON Schema
    Code("DG201", "unknown key", "A key the schema does not define (often a typo)."),
    Code("DG202", "missing required key", "A key the schema requires is absent."),
    Code("DG203", "wrong type", "The value has the wrong type (for example a string where a number is expected)."),
    Code("DG204", "value not allowed", "The value is not one of the allowed values."),
    Code("DG205", "malformed value", "The value does not have the required form (durations, names, dates...)."),
    Code("DG206", "value out of range", "A number is below its minimum or above its maximum."),
    Code("DG207", "wrong size", "A list or mapping has too few or too many entries, or repeats an entry."),
    # DG3xx: the task graph
    Code("DG301", "unknown dependency", "`depends_on` names a task or group that the pipeline does not define."),
    Code("DG302", "unknown cluster", "A task names a cluster that `clusters` does not define."),
    Code("DG303", "dependency cycle", "Tasks depend on each other in a loop."),
    Code(
        "DG304",
        "duplicate generated task id",
        "A task id collides with a task the generator adds (a cluster's `create_<cluster>`/`terminate_<cluster>`).",
    ),
    Code("DG305", "unused cluster", "A cluster is defined but no task runs on it; it would never be created."),
    Code("DG306", "task depends on itself", "A task lists itself in `depends_on`."),
    Code("DG307", "unknown task group", "A task's `group` names a group that `groups` does not define."),
    Code("DG308", "empty task group", "A group under `groups` has no task."),
    Code(
        "DG309",
        "task id too long",
        "Airflow allows 250 characters in a task id, counted with its group prefix (`group.task`).",
    ),
    Code(
        "DG310",
        "unknown for_each variable",
        "A template reads `item` (or `item.FIELD`) that the task's `for_each` does not give: no `for_each`, a "
        "field a matrix does not have, or a param that is not a list.",
    ),
    Code(
        "DG311",
        "item where it cannot be replaced",
        "`{{ item }}` inside a larger expression, or in a setting of a mapped task that the mapping does not fill.",
    ),
    Code(
        "DG312",
        "fan-out task ids clash",
        "Two items of a `for_each` give the same task id, one gives an existing task's id, or the fan-outs make "
        "more tasks than a spec may have.",
    ),
    Code(
        "DG313",
        "branch path not downstream",
        "A branch's path (or `otherwise`) names a task that does not depend on the branch directly.",
    ),
    Code(
        "DG314",
        "task after a branch on no path",
        "A task depends directly on a branch but is not one of its paths: the branch would always skip it.",
    ),
    Code(
        "DG315",
        "trigger rule hides a failure",
        "A task with a rule that runs after failures succeeds, and nothing after the failed task fails with it: "
        "Airflow would mark the failed run successful.",
    ),
    Code(
        "DG316",
        "trigger rule on a cluster task",
        "A task on a transient cluster with a rule other than all_success would run without its cluster.",
    ),
    Code(
        "DG317",
        "XCom of an unknown or later task",
        "A template pulls the XCom of a task that does not exist or does not run before the reader.",
    ),
    Code(
        "DG318",
        "mapped over an unusable output",
        "`for_each: {output_of: TASK}` names an unknown task or one not upstream, or the type cannot be mapped.",
    ),
    Code(
        "DG319",
        "cleans up after an unknown task",
        "A `cleans_up` entry is not another task of the pipeline, or is a cleanup itself.",
    ),
    Code(
        "DG320",
        "not a possible cleanup",
        "A cleanup that tasks other than cleanups depend on, or that sets trigger_rule or run_if, or is mapped.",
    ),
    Code(
        "DG321",
        "rule right after a setup",
        "A task right after a task that a cleanup cleans up after has a rule other than all_success.",
    ),
    # DG4xx: values
    Code("DG401", "invalid schedule", "The cron expression or preset is not valid."),
    Code("DG402", "malformed S3 URI", "The value must look like `s3://bucket/key` (checked when not templated)."),
    Code("DG403", "malformed ARN", "The value must be an ARN of the expected service and resource type."),
    Code("DG404", "invalid Jinja template", "A `{{ ... }}` / `{% ... %}` template does not parse."),
    Code("DG405", "unknown param", "A template reads `params.X` but the pipeline declares no param X."),
    Code("DG406", "duplicate DAG id", "Two spec files produce the same DAG id."),
    Code("DG407", "invalid dates", "The start date is after the end date, or a date is not a real date."),
    Code("DG408", "unknown template variable", "A template reads a name that is not in Airflow's template context."),
    Code("DG409", "param default invalid", "A param's default does not satisfy its own type/enum/range/format."),
    Code(
        "DG410",
        "SLA without anyone to tell",
        "`sla` and `notifications.on_sla_miss` go together: a missed SLA must reach someone, and "
        "`on_sla_miss` needs an `sla` to miss.",
    ),
    Code(
        "DG411",
        "SLA without a time schedule",
        "`sla` is measured from a run's scheduled time; a pipeline with `schedule: null` or an asset schedule "
        "has none.",
    ),
    Code(
        "DG412",
        "file name is not a DAG id",
        "A spec without `dag_id` is named after its file, and Airflow allows only letters, digits, `_`, `-` and "
        "`.` (at most 250) in a DAG id; a copy like `etl (copy).yaml` would be refused when the DAG is built.",
    ),
    Code(
        "DG413",
        "continuous schedule with parallel runs",
        '`schedule: "@continuous"` starts the next run when the last one ends; Airflow refuses it with '
        "`max_active_runs` above 1 (dagen sets 1 when it is not given).",
    ),
    # DG5xx: task types and clusters
    Code(
        "DG501", "emr_step needs one kind", "An `emr_step` must set exactly one of `spark`, `hive`, `command`, `jar`."
    ),
    Code(
        "DG502",
        "step fights the cluster lifecycle",
        "`action_on_failure: TERMINATE_CLUSTER` kills a cluster the pipeline terminates itself, "
        "failing the remaining steps and the teardown; let the task fail instead.",
    ),
    Code(
        "DG503",
        "instance groups or fleets",
        "A cluster must define exactly one of `instance_groups` and `instance_fleets`.",
    ),
    Code("DG504", "managed scaling limits", "Managed scaling `min_capacity` must not exceed `max_capacity`."),
    Code("DG505", "Glue sizing conflict", "`max_capacity` cannot be combined with `worker_type`/`number_of_workers`."),
    Code(
        "DG506", "spot settings without spot", "Spot settings are given for an instance group whose market is not SPOT."
    ),
    Code(
        "DG507",
        "Athena query without a result location",
        "An `athena_query` must set `output_location` or `workgroup`: Athena needs to know where to write the "
        "results, from the request or from the workgroup's settings.",
    ),
    Code(
        "DG508",
        "S3 object named ambiguously",
        "An `s3_wait` names its bucket once: `bucket` with a key, or a key that is a full `s3://bucket/key` URI.",
    ),
    Code(
        "DG509",
        "operator outside the allow-list",
        "An `operator` task names a class outside `airflow.providers.`, `airflow.operators.` and "
        "`airflow.sensors.`; other modules are imported only when the task sets `custom_module: true`.",
    ),
    Code(
        "DG510",
        "reserved operator argument",
        "An `operator` task's `arguments` holds a key dagen sets itself, or one dag-factory would turn into "
        "code (callables, callbacks, lambdas, files, Variables).",
    ),
    Code(
        "DG511",
        "operator not found",
        "The `operator` class cannot be imported in this environment, or is not an Airflow operator.",
    ),
    Code(
        "DG512",
        "arguments do not fit the operator",
        "An `operator` task passes an argument the operator's signature does not have, or leaves out one it "
        "requires (checked when Airflow is installed).",
    ),
    Code(
        "DG513",
        "template in a field that is not rendered",
        "An `operator` task passes a `{{ ... }}` template to an argument that is not one of the operator's "
        "`template_fields`: Airflow would pass the text through unrendered.",
    ),
    Code(
        "DG514",
        "Athena query needs one statement",
        "An `athena_query` sets exactly one of `query` (the SQL, inline) and `query_file` (a `.sql` file beside "
        "the spec).",
    ),
    Code(
        "DG520",
        "existing cluster with creation settings",
        "A cluster given by `existing_cluster_id` is neither created nor terminated by the pipeline, so settings "
        "that describe how to create it do not apply.",
    ),
    Code(
        "DG521",
        "notification target needs one kind",
        "Each entry under `notifications` is one SNS topic, one email list, or one callback.",
    ),
    Code(
        "DG522",
        "task on a cluster of another kind",
        "A task's `cluster:` names an entry of a kind its type does not run on (an `emr_step` on an EMR Serverless "
        "application, an `emr_serverless_job` on an EMR cluster); the hint names the kinds the type runs on.",
    ),
    Code(
        "DG523",
        "EMR Serverless job needs one application",
        "An `emr_serverless_job` sets exactly one of `cluster` (an application under `clusters`, "
        "`kind: emr_serverless`) and `application_id` (an existing application).",
    ),
    Code(
        "DG524",
        "EMR on EKS job with two S3 log locations",
        "An `emr_eks_job` sets both `log_uri` and `monitoring.s3_log_uri`; a job run has one S3 log location.",
    ),
    Code(
        "DG525",
        "EMR on EKS job needs one virtual cluster",
        "An `emr_eks_job` sets exactly one of `cluster` (a virtual cluster under `clusters`, `kind: emr_eks`) and "
        "`virtual_cluster_id` (an existing one).",
    ),
    Code(
        "DG530",
        "Redshift task needs one warehouse",
        "A Redshift task sets exactly one of `cluster_identifier` (a provisioned cluster) and `workgroup_name` "
        "(a Redshift Serverless workgroup).",
    ),
    Code(
        "DG531",
        "Redshift credentials that do not fit",
        "A Redshift task signs in with `secret_arn` or `db_user`, not both, and `db_user` only on a cluster "
        "(Redshift Serverless gives no credentials for a named user).",
    ),
    Code(
        "DG532",
        "Redshift SQL needs one source",
        "A `redshift_sql` sets exactly one of `sql` (inline: a statement or a list) and `sql_file` (a `.sql` file "
        "beside the spec).",
    ),
    Code(
        "DG533",
        "result of a batch",
        "`return_result: true` returns one statement's result; a list under `sql` is a batch with none.",
    ),
    Code(
        "DG535",
        "S3 delete that does not fit one request",
        "An `s3_delete` sets exactly one of `keys` and `prefix`, and its `keys` are in one bucket (one "
        "DeleteObjects request names one bucket).",
    ),
    Code("DG536", "S3 delete of a whole bucket", "An `s3_delete` `prefix` is a bucket's root: it would empty it."),
    Code("DG537", "invalid bucket name", "An `s3_create_bucket` `bucket` breaks S3's naming rules (when literal)."),
    Code(
        "DG538",
        "s3_wait forms that do not combine",
        "An `s3_wait` sets exactly one of `key`, `keys` and `pattern`; a `pattern` is a regular expression over "
        "`bucket`'s keys, without `wildcard` or size and age checks; `min_size`/`max_age` are not deferrable.",
    ),
    Code(
        "DG539",
        "pattern characters with a suffix",
        "An `s3_list` with a `suffix` has `*`, `?` or `[` in its prefix or suffix, which the filter would read "
        "as a pattern.",
    ),
    Code(
        "DG534",
        "Redshift COPY or UNLOAD settings that do not fit",
        "An `s3_to_redshift` with `method: UPSERT` names its `upsert_keys` (and only it does); a "
        "`redshift_to_s3` sets exactly one of `select_query` and `table`, and `schema` only with `table`.",
    ),
    Code(
        "DG540",
        "unknown state to wait for",
        "A `wait_until` names a state (under `states` or `failed_states`) that its `resource` does not have.",
    ),
    Code(
        "DG541",
        "state the sensor cannot wait for",
        "A `wait_until` names a real state its sensor cannot wait for: the sensor waits for fixed states only, "
        "or fails the task on that state.",
    ),
    Code(
        "DG542",
        "wait without its resource",
        "A `wait_until` misses a key that identifies its `resource`, or sets one another kind of resource uses.",
    ),
    Code(
        "DG543",
        "one state only",
        "A `wait_until` on a Redshift cluster names more than one state: its sensor waits for one status.",
    ),
    Code(
        "DG544",
        "failed states not allowed",
        "A `wait_until` sets `failed_states` on a resource whose sensor has fixed failure states, or names a "
        "state both under `states` and under `failed_states`.",
    ),
    Code(
        "DG545",
        "Glue job to create without a size",
        "A `glue_job` with `create_if_missing` sets `worker_type` and `number_of_workers`: they size the job it "
        "creates as well as each run.",
    ),
    Code(
        "DG546",
        "Lambda code without an object key",
        "A `lambda_invoke` with `create_if_missing` names its deployment package as `s3://bucket/key` (the .zip "
        "object), not a bucket or a folder.",
    ),
    Code(
        "DG547",
        "qualifier of a function to create",
        "A `lambda_invoke` with `create_if_missing` creates `$LATEST` only, so it cannot also invoke a "
        "`qualifier` (a version or alias it would not make).",
    ),
    Code(
        "DG548",
        "Data Quality rulesets named twice or not at all",
        "A `glue_data_quality` sets exactly one of `rulesets` (rulesets that exist) and `ruleset` (one it owns), "
        "and an owned ruleset exactly one of `rules` and `rules_file`.",
    ),
    Code(
        "DG549",
        "not a DQDL ruleset",
        "The `rules` of a `glue_data_quality` ruleset have the form `Rules = [ rule, ... ]` with at least one rule: "
        "the operator refuses anything else when the task runs.",
    ),
    # DG6xx: building the DAG
    Code("DG601", "DAG build failed", "Airflow or dag-factory refused the compiled pipeline; the message says why."),
    # DG7xx: inputs
    Code("DG701", "no pipeline specs", "The path holds no `*.yaml`/`*.yml` pipeline specs."),
    # DG8xx: the mwaa-serverless target
    Code(
        "DG801",
        "cannot run on MWAA Serverless",
        "With `--target mwaa-serverless`: the construct needs dagen's runtime operators or a code package "
        "(`python` and `branch` tasks, `run_if`, `for_each: {output_of: ...}`), or an operator the service does "
        "not list (`http_wait`).",
    ),
    Code(
        "DG802",
        "operator not on MWAA Serverless's list",
        "With `--target mwaa-serverless`: an `operator` task names a class outside the service's operator "
        "allow-list (`generator/core/mwaa_serverless.py`).",
    ),
    Code(
        "DG803",
        "setting MWAA Serverless ignores",
        "With `--target mwaa-serverless`: the spec asks for something the service ignores or a workflow cannot "
        "carry (`catchup: true`, `dagrun_timeout`, `sla`, email, callbacks, notifications other than SNS on "
        "failure, `outlets` (no assets), `execution_timeout` below the cap, a time zone other than UTC); the run "
        "would not do it.",
    ),
    Code(
        "DG804",
        "value over MWAA Serverless's limits",
        "With `--target mwaa-serverless`: `retries` above 3, `retry_delay` above 5 minutes, or an "
        "`execution_timeout` (or a `timeout` that one try must wait through) above 1 hour.",
    ),
    Code(
        "DG805",
        "schedule not a cron expression",
        "With `--target mwaa-serverless`: the schedule must be a cron expression or null; `@hourly`, `@daily`, "
        "`@weekly`, `@monthly`, `@quarterly` and `@yearly` are translated, `@once`, `@continuous` and asset "
        "schedules are refused.",
    ),
)

CODES: dict[str, Code] = {code.code: code for code in _CODES}
