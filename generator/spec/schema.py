"""The JSON Schemas (draft 2020-12) of pipeline specs and of ``defaults.yaml``.

Composed from the cluster schema and the task-type fragments registered in
:data:`generator.task_types.TASK_TYPES`; ``schemas/*.schema.json`` are the
generated copies editors read (``dagen schema`` prints them, a test keeps them
current).  Tasks dispatch on ``type`` with ``if``/``then``, so an error names
the failing field of that type rather than a failed ``oneOf``.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from generator.core.conditions import CONDITION, FOR_EACH, TRIGGER_RULES
from generator.core.schema_parts import (
    BOOLEAN,
    DURATION,
    IDENTIFIER_PATTERN,
    POSITIVE_DURATION,
    POSITIVE_INT,
    SCHEDULE,
    STRING,
    TASK_ID_PATTERN,
    Schema,
    obj,
    prop,
)
from generator.core.value_formats import DAG_ID_PATTERN
from generator.resources.emr_cluster_schema import CLUSTER_PROPERTIES, CLUSTER_SCHEMA, CONFIGURATION_DEF
from generator.resources.kinds import kind_definitions
from generator.task_types import TASK_TYPES

# Top-level `x-...` keys hold YAML anchors for the spec to reuse (`<<: *fragment`); the spec ignores them.
FRAGMENTS: Schema = {"^x-": {"description": "A fragment to reuse with YAML anchors and aliases; ignored."}}
MAX_TASKS = 1000  # tasks in one spec (docs/spec-reference.md, "Input limits")
SCHEMA_URI = "https://json-schema.org/draft/2020-12/schema"
TASK_ID_NAMES: Schema = {
    "pattern": TASK_ID_PATTERN,
    "title": "task ids are letters, digits, '_' and '-', at most 200 (a '.' is reserved for task groups)",
}
NAMES: Schema = {
    "pattern": IDENTIFIER_PATTERN,
    "title": "names start with a letter, then letters, digits or '_' (at most 100)",
}
NAME_STRING: Schema = {"type": "string", **NAMES}
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?)?$"

DATE: Schema = {"type": "string", "pattern": DATE_PATTERN, "title": "date (YYYY-MM-DD, optionally with a time)"}

TASK_DEFAULTS = obj(
    {
        "retries": prop({"type": "integer", "minimum": 0}, "Retries of a failed task.", 2),
        "retry_delay": prop(DURATION, "Wait between retries.", "5m"),
        "retry_exponential_backoff": prop(BOOLEAN, "Double the wait after each retry.", True),
        "max_retry_delay": prop(DURATION, "Upper bound of the wait with exponential backoff.", "1h"),
        "execution_timeout": prop(DURATION, "Fail a task that runs longer than this.", "3h"),
        "email": prop(
            {"type": "array", "items": {"type": "string", "pattern": r"^[^@\s]+@[^@\s]+$"}},
            "Addresses Airflow's own task email goes to (through the environment's SMTP connection or email "
            "backend). Prefer `notifications` (`on_task_failure: [{email: [...]}]`): deprecated on Airflow 3, where "
            "each task built with it warns 'Setting email on a task is deprecated; please migrate to SmtpNotifier' "
            "(it still sends; to be removed in Airflow 4).",
            ["data-alerts@example.com"],
        ),
        "email_on_failure": prop(
            BOOLEAN,
            "Email `email` when a task fails after its last retry (Airflow's default: true). Deprecated on "
            "Airflow 3 with `email`: prefer `notifications.on_task_failure`.",
            True,
        ),
        "email_on_retry": prop(
            BOOLEAN,
            "Email `email` at each retry too. dagen sets false when `email` is set and this is not (Airflow's "
            "own default, true, mails every retry: 3 emails for one task with 2 retries). Deprecated on Airflow 3 "
            "with `email`: prefer `notifications.on_task_retry`.",
            False,
            default=False,
        ),
        "poll_interval": prop(
            POSITIVE_DURATION, "How often waits check progress (steps, notebooks, executions).", "30s", default="30s"
        ),
        "timeout": prop(DURATION, "How long waits last before the task fails.", "6h", default="6h"),
    },
    title="task defaults",
)

ASSET_URI: Schema = {
    "type": "string",
    "pattern": r"^[a-z][a-z0-9+.-]*://[^\s]+$",
    "title": "asset URI such as s3://bucket/prefix/",
}

COMMON_TASK_PROPERTIES: dict[str, Schema] = {
    "description": prop(STRING, "What the task does (shown in the Airflow UI).", "Convert ratings CSV to Parquet"),
    "depends_on": prop(
        {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        "Tasks that must succeed before this one starts.",
        ["extract_load_data"],
    ),
    "retries": TASK_DEFAULTS["properties"]["retries"],
    "retry_delay": TASK_DEFAULTS["properties"]["retry_delay"],
    "execution_timeout": TASK_DEFAULTS["properties"]["execution_timeout"],
    "poll_interval": TASK_DEFAULTS["properties"]["poll_interval"],
    "timeout": TASK_DEFAULTS["properties"]["timeout"],
    "group": prop(NAME_STRING, "Task group (under `groups`) the task is drawn in.", "preprocessing"),
    "outlets": prop(
        {"type": "array", "items": ASSET_URI, "uniqueItems": True},
        "Assets (datasets) this task updates when it succeeds; pipelines scheduled on them then run.",
        ["s3://movielens/curated/"],
    ),
    "run_if": prop(
        CONDITION,
        "Run the task only when this holds (checked when the run gets there); otherwise it is skipped, and so "
        "is every task that needs it.",
        "{{ params.full_refresh }}",
        {"s3_exists": "s3://landing/sales/{{ ds }}/_SUCCESS"},
        {"python": "lib.checks.is_business_day", "kwargs": {"day": "{{ ds }}"}},
    ),
    "trigger_rule": prop(
        {"enum": list(TRIGGER_RULES)},
        "When the task runs, from its upstream tasks' states (default all_success; a join after a branch: "
        "none_failed_min_one_success; all_done on a last task makes it a cleanup).",
        "all_done",
    ),
    "cleans_up": prop(
        {"type": "array", "items": {"type": "string"}, "minItems": 1, "uniqueItems": True},
        "Make this task the cleanup of these tasks (what they make, it removes): it runs after all the work "
        "that follows them, even when that work failed, once one of them succeeded, and the run still fails "
        "when the work failed.",
        ["create_staging"],
    ),
    "for_each": prop(
        FOR_EACH,
        "Make one task per item (a list, a list param's default, or a matrix: every combination), or map "
        "the task over another task's output when the run gets there; `{{ item }}` (`{{ item.FIELD }}`) "
        "is the item.",
        ["Books", "Toys"],
        {"param": "categories"},
        {"matrix": {"category": ["Books", "Toys"], "region": ["eu", "us"]}},
        {"output_of": "list_files", "max_items": 100},
    ),
}

PARAM = obj(
    {
        "default": prop({}, "Value used when the run is not given one.", "Books", ["Books", "Toys"]),
        "description": prop(STRING, "Shown in the trigger form.", "Categories to rank"),
        "type": prop(
            {
                "anyOf": [
                    {"enum": ["string", "integer", "number", "boolean", "array", "object", "null"]},
                    {
                        "type": "array",
                        "items": {"enum": ["string", "integer", "number", "boolean", "array", "object", "null"]},
                    },
                ]
            },
            "JSON type the trigger form enforces.",
            "array",
        ),
        "enum": prop({"type": "array", "minItems": 1}, "Allowed values.", ["daily", "weekly"]),
        "minimum": prop({"type": "number"}, "Smallest allowed number.", 1),
        "maximum": prop({"type": "number"}, "Largest allowed number.", 100),
        "format": prop({"enum": ["date", "date-time", "time"]}, "String format the trigger form enforces.", "date"),
    },
    required=("default",),
    title="runtime param",
)

AWS = obj(
    {
        "conn_id": prop(STRING, "Airflow connection used for AWS calls.", "aws_default", default="aws_default"),
        "region": prop(
            {"type": "string", "pattern": r"^[a-z]{2}(-[a-z]+)+-[0-9]$", "title": "AWS region"},
            "AWS region of the pipeline's resources (default: the connection's).",
            "us-east-1",
        ),
    },
    title="AWS settings",
)

NOTIFICATION_TARGET = obj(
    {
        "sns": prop(
            {
                "type": "string",
                "pattern": r"^(\{\{.*\}\}|arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_.-]+)$",
                "title": "SNS topic ARN",
            },
            "Publish to this SNS topic (through the pipeline's AWS connection).",
            "arn:aws:sns:us-east-1:123456789012:data-alerts",
        ),
        "email": prop(
            {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": r"^[^@\s]+@[^@\s]+$"}},
            "Send an email (through the environment's SMTP connection, `smtp_default`).",
            ["oncall@example.com"],
        ),
        "callback": prop(
            {
                "type": "string",
                "pattern": r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$",
                "title": "dotted path of a function",
            },
            "Call this function with the Airflow context (a module beside the pipelines, e.g. lib.alerts.page).",
            "lib.alerts.page_oncall",
        ),
        "subject": prop(
            STRING, "Subject (Jinja allowed; default names the DAG, task and state).", "{{ dag.dag_id }} failed"
        ),
    },
    title="notification target",
)
_TARGETS = {"type": "array", "minItems": 1, "items": NOTIFICATION_TARGET}
NOTIFICATIONS = obj(
    {
        "on_task_failure": prop(
            _TARGETS,
            "Told when any task fails (after its last retry).",
            [{"sns": "arn:aws:sns:us-east-1:123456789012:data-alerts"}],
        ),
        "on_task_retry": prop(_TARGETS, "Told when any task is retried.", [{"email": ["oncall@example.com"]}]),
        "on_run_failure": prop(_TARGETS, "Told when a run fails.", [{"callback": "lib.alerts.page_oncall"}]),
        "on_run_success": prop(_TARGETS, "Told when a run succeeds.", [{"email": ["team@example.com"]}]),
        "on_sla_miss": prop(
            _TARGETS,
            "Told when a run has not finished `sla` after its logical date.",
            [{"sns": "arn:aws:sns:us-east-1:123456789012:data-alerts"}],
        ),
    },
    title="notifications",
)

# Keys a pipeline shares with defaults.yaml.
SHARED_PROPERTIES: dict[str, Schema] = {
    "owner": prop(STRING, "Owner shown in the Airflow UI.", "data-platform"),
    "tags": prop(
        {
            "type": "array",
            "items": {
                **STRING,
                "maxLength": 100,
                "pattern": "^(?!dagen:)",
                "title": "tag (one starting with 'dagen:' is reserved: it marks placeholder and stale DAGs)",
            },
            "uniqueItems": True,
        },
        "Tags for filtering in the UI (at most 100 characters each, Airflow's limit).",
        ["movielens", "emr"],
    ),
    "schedule": prop(
        {
            "anyOf": [
                SCHEDULE,
                obj(
                    {
                        "assets": prop(
                            {"type": "array", "items": ASSET_URI, "minItems": 1, "uniqueItems": True},
                            "Assets whose updates (a producing task's `outlets`) start a run.",
                            ["s3://movielens/curated/"],
                        ),
                        "when": prop(
                            {"enum": ["all", "any"]},
                            "Run once all the assets were updated since the last run, or on any update.",
                            "all",
                            default="all",
                        ),
                    },
                    required=("assets",),
                    title="asset schedule",
                ),
            ]
        },
        "When runs start: a cron expression, a preset such as @daily, null for manual runs only, or `assets:` "
        "to run when other pipelines' tasks update them.",
        "0 * * * *",
        "@daily",
        None,
        {"assets": ["s3://movielens/curated/"]},
    ),
    "start_date": prop(DATE, "First logical date the schedule covers.", "2024-01-01"),
    "end_date": prop(DATE, "Last logical date the schedule covers.", "2025-12-31"),
    "timezone": prop(STRING, "IANA time zone of the schedule and dates (default UTC).", "Europe/Paris"),
    "catchup": prop(BOOLEAN, "Run the intervals missed since start_date.", False, default=False),
    "max_active_runs": prop(POSITIVE_INT, "Runs of this pipeline at once.", 1),
    "max_active_tasks": prop(POSITIVE_INT, "Tasks of one run at once.", 3),
    "dagrun_timeout": prop(DURATION, "Fail a run that lasts longer than this.", "4h"),
    "sla": prop(
        DURATION,
        "A run should have finished this long after its logical date (Airflow 3: its scheduled time; Airflow 2: "
        "the start of its data interval); if not, `notifications.on_sla_miss` are told.  The run goes on "
        "(`dagrun_timeout` stops it).  Needs a cron or preset schedule.",
        "3h",
    ),
    "task_defaults": prop(TASK_DEFAULTS, "Settings every task inherits.", {"retries": 2, "retry_delay": "5m"}),
    "aws": prop(AWS, "AWS connection and region.", {"conn_id": "aws_default", "region": "us-east-1"}),
    "notifications": prop(
        NOTIFICATIONS,
        "Who is told about failures, retries and finished runs: SNS topics, emails, or a callback.",
        {"on_task_failure": [{"sns": "arn:aws:sns:us-east-1:123456789012:data-alerts"}]},
    ),
}

PIPELINE_ONLY_PROPERTIES: dict[str, Schema] = {
    "dag_id": prop(
        {"type": "string", "pattern": DAG_ID_PATTERN, "title": "DAG id"},
        "DAG id (default: the file name without extension).",
        "movielens_emr_step_functions",
    ),
    "description": prop(STRING, "One-line summary shown in the DAG list.", "MovieLens preprocessing and curation"),
    "doc_md": prop(STRING, "Markdown documentation shown on the DAG page.", "## Runbook\nRe-run from the UI."),
    "params": prop(
        {"type": "object", "propertyNames": NAMES, "additionalProperties": PARAM},
        "Runtime parameters: shown in the trigger form, read as `{{ params.NAME }}`.",
        {"categories": {"default": ["Books"], "type": "array", "description": "Categories to rank"}},
    ),
    "clusters": prop(
        {"type": "object", "propertyNames": NAMES, "additionalProperties": {"$ref": "#/$defs/cluster"}},
        "EMR clusters and other managed resources (`kind`) the pipeline creates for its tasks and removes after them.",
        {
            "preprocess": {
                "release_label": "emr-7.5.0",
                "applications": ["Spark"],
                "instance_groups": {"primary": {"instance_type": "m5.xlarge"}},
            }
        },
    ),
    "groups": prop(
        {
            "type": "object",
            "propertyNames": NAMES,
            "additionalProperties": obj(
                {
                    "description": prop(
                        STRING,
                        "What the group's tasks do (shown as the group's tooltip).",
                        "Convert the raw CSV files to Parquet",
                    )
                },
                title="task group",
            ),
        },
        "Task groups: tasks set `group: NAME`; `depends_on` may name a group (all its tasks).",
        {"preprocessing": {"description": "Convert the raw CSV files to Parquet"}},
    ),
    "tasks": prop(
        {
            "type": "object",
            "minProperties": 1,
            "maxProperties": MAX_TASKS,
            "propertyNames": TASK_ID_NAMES,
            "additionalProperties": {"$ref": "#/$defs/task"},
        },
        "The work, keyed by task id; `type` selects what the task does.",
        {"curate": {"type": "glue_job", "job_name": "movielens-curate"}},
    ),
}


def _task_type_def(name: str) -> Schema:
    module = TASK_TYPES[name]
    properties = {
        "type": prop({"const": name}, module.SUMMARY, name),
        **COMMON_TASK_PROPERTIES,
        **module.PROPERTIES,
    }
    return obj(properties, required=("type", *module.REQUIRED), title=f"{name} task")


def _task_def() -> Schema:
    return {
        "title": "task",
        "type": "object",
        "required": ["type"],
        "properties": {"type": prop({"enum": list(TASK_TYPES)}, "What the task does.", *TASK_TYPES)},
        "allOf": [
            {
                "if": {"properties": {"type": {"const": name}}, "required": ["type"]},
                "then": {"$ref": f"#/$defs/{name}_task"},
            }
            for name in TASK_TYPES
        ],
    }


@cache
def pipeline_schema() -> dict[str, Any]:
    """The schema of one pipeline spec file."""
    defs: dict[str, Schema] = {
        **kind_definitions(CLUSTER_SCHEMA),
        "emr_configuration": CONFIGURATION_DEF,
        "task": _task_def(),
    }
    defs.update({f"{name}_task": _task_type_def(name) for name in TASK_TYPES})
    return {
        "$schema": SCHEMA_URI,
        "$id": "urn:dagen:schema:pipeline:v1",
        "title": "dagen pipeline spec (v1)",
        "description": "One Airflow pipeline for Amazon MWAA: schedule, params, EMR clusters and tasks.",
        **obj({**PIPELINE_ONLY_PROPERTIES, **SHARED_PROPERTIES}, required=("tasks",)),
        "patternProperties": FRAGMENTS,
        "$defs": defs,
    }


@cache
def defaults_schema() -> dict[str, Any]:
    """The schema of ``pipelines/defaults.yaml`` (team-wide defaults under every spec)."""
    cluster_defaults = obj(dict(CLUSTER_PROPERTIES), title="cluster defaults")
    return {
        "$schema": SCHEMA_URI,
        "$id": "urn:dagen:schema:defaults:v1",
        "title": "dagen team defaults (v1)",
        "description": "Settings merged under every pipeline spec in the same folder; the spec wins.",
        **obj(
            {
                **SHARED_PROPERTIES,
                "cluster_defaults": prop(
                    cluster_defaults,
                    "Settings merged under every cluster of every pipeline.",
                    {"log_uri": "s3://my-logs/emr/", "subnet_id": "{{ var.value.emr_subnet_id }}"},
                ),
            }
        ),
        "patternProperties": FRAGMENTS,
        "$defs": {"emr_configuration": CONFIGURATION_DEF},
    }


SCHEMAS = {"pipeline": pipeline_schema, "defaults": defaults_schema}
