"""The one diagnostic type, the table of stable codes, and the reporters.

Every problem the generator finds -- YAML syntax, schema, references, values,
task-type rules, DAG build failures -- becomes a :class:`Diagnostic`.  Phases
return diagnostics as values; nothing raises to report a user error.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

ERROR = "error"


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


@dataclass(frozen=True, kw_only=True)
class Diagnostic:
    """One problem, located in a file.

    ``line`` and ``column`` are 1-based; ``path`` is the JSON-pointer-like path of
    the offending value inside the document (``tasks/extract/depends_on/0``).
    """

    code: str
    message: str
    file: str
    line: int = 1
    column: int = 1
    path: str = ""
    hint: str | None = None
    severity: str = ERROR

    def __post_init__(self) -> None:
        if self.code not in CODES:  # a programming error, not a user error
            raise ValueError(f"unknown diagnostic code {self.code}")

    @property
    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.file, self.line, self.column, self.code)

    def text(self) -> str:
        """One line (and one hint line): a line break inside a value the message quotes is shown escaped."""
        head = f"{self.file}:{self.line}:{self.column}: {self.code} {_one_line(self.message)}"
        return f"{head}\n    hint: {_one_line(self.hint)}" if self.hint else head


def _one_line(text: str) -> str:
    return text.replace("\r", "\\r").replace("\n", "\\n")


def sorted_unique(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Diagnostics in file/line order, each reported once."""
    return sorted(set(diagnostics), key=lambda d: d.sort_key)


def _report_text(diagnostics: list[Diagnostic], files_checked: int) -> str:
    lines = [d.text() for d in diagnostics]
    errors = sum(1 for d in diagnostics if d.severity == ERROR)
    if errors:
        lines.append(f"{errors} error(s) in {len({d.file for d in diagnostics})} of {files_checked} file(s)")
    else:
        lines.append(f"{files_checked} file(s) checked, no errors")
    return "\n".join(lines)


def _report_json(diagnostics: list[Diagnostic], files_checked: int) -> str:
    return json.dumps(
        {"files_checked": files_checked, "diagnostics": [asdict(d) for d in diagnostics]},
        indent=2,
    )


def _github_escape(value: str, *, property_value: bool = False) -> str:
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if property_value:
        value = value.replace(":", "%3A").replace(",", "%2C")
    return value


def _report_github(diagnostics: list[Diagnostic], files_checked: int) -> str:
    """GitHub Actions workflow commands: one annotation per diagnostic."""
    lines = []
    for d in diagnostics:
        message = d.message + (f"\nhint: {d.hint}" if d.hint else "")
        lines.append(
            f"::{d.severity} file={_github_escape(d.file, property_value=True)},line={d.line},"
            f"col={d.column},title={d.code}::{_github_escape(message)}"
        )
    lines.append(_report_text(diagnostics, files_checked).splitlines()[-1])
    return "\n".join(lines)


REPORTERS: dict[str, Callable[[list[Diagnostic], int], str]] = {
    "text": _report_text,
    "json": _report_json,
    "github": _report_github,
}


def codes_markdown() -> str:
    """The docs page listing every code (written to docs/diagnostics.md)."""
    out = [
        "# Diagnostic codes",
        "",
        "<!-- generated by `dagen codes`; do not edit by hand -->",
        "",
        "Every problem `dagen validate` (and the DAG loader) reports has a stable code.",
        "Ranges: DG1xx reading files, DG2xx schema, DG3xx task graph, DG4xx values,",
        "DG5xx task types and clusters, DG6xx building the DAG, DG7xx inputs, DG8xx the mwaa-serverless target.",
        "",
        "| code | title | meaning |",
        "|---|---|---|",
    ]
    out += [f"| {c.code} | {c.title} | {c.explanation} |" for c in _CODES]
    return "\n".join(out) + "\n"
