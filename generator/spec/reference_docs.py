"""docs/spec-reference.md, generated from the schemas: every key, its meaning, default and an example."""

from __future__ import annotations

import json
from typing import Any

import yaml

from generator.spec.airflow_rules import FIRST_YEAR, LAST_YEAR, TASK_ID_LENGTH
from generator.spec.load import MAX_FILE_BYTES
from generator.spec.schema import COMMON_TASK_PROPERTIES, MAX_TASKS, defaults_schema, pipeline_schema
from generator.spec.yaml_checks import MAX_DEPTH, MAX_STRING, MAX_VALUES
from generator.task_types import TASK_TYPES


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref:
        return root["$defs"][ref.rsplit("/", 1)[1]]
    return schema


def _type_text(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return "one of " + ", ".join(f"`{json.dumps(v)}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{schema['const']}`"
    if "title" in schema:
        return schema["title"]
    kind = schema.get("type", "any")
    kind = " or ".join(kind) if isinstance(kind, list) else kind
    if "anyOf" in schema:
        kind = " or ".join(_type_text(option) for option in schema["anyOf"])
    return {"object": "mapping", "array": "list"}.get(kind, kind)


def _example(schema: dict[str, Any]) -> str:
    examples = schema.get("examples")
    if not examples:
        return ""
    return "`" + json.dumps(examples[0], ensure_ascii=False).replace("|", "\\|") + "`"


def _table(properties: dict[str, Any], required: list[str], root: dict[str, Any]) -> list[str]:
    rows = ["| key | type | meaning | example |", "|---|---|---|---|"]
    for name, schema in properties.items():
        schema = _resolve(schema, root)
        meaning = schema.get("description", "")
        if name in required:
            meaning = "**Required.** " + meaning
        if "default" in schema:
            meaning += f" Default: `{json.dumps(schema['default'])}`."
        rows.append(f"| `{name}` | {_type_text(schema)} | {meaning.replace('|', '/')} | {_example(schema)} |")
    return rows


def _objects(schema: dict[str, Any], root: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The mappings with keys a value can be, each with the words that tell it apart (none for the only one).

    A list stands for its items and a map (``NAME: {...}``) for its values; each alternative of an ``anyOf``
    that is a mapping is one, named by its title (``run_if`` as an S3 condition...).
    """
    schema = _resolve(schema, root)
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        schema = _resolve(schema["items"], root)
    if (
        "additionalProperties" in schema
        and isinstance(schema["additionalProperties"], dict)
        and "properties" not in schema
    ):
        schema = _resolve(schema["additionalProperties"], root)
    if "properties" in schema:
        return [("", schema)]
    found = []
    for option in schema.get("anyOf", ()):
        for words, inner in _objects(option, root):
            found.append((words or f" ({_resolve(option, root).get('title', 'mapping')})", inner))
    return found


def _nested(
    title: str, schema: dict[str, Any], root: dict[str, Any], out: list[str], seen: dict[str, str] | None = None
) -> None:
    seen = {} if seen is None else seen
    for words, found in _objects(schema, root):
        heading = title + words
        key = json.dumps(found, sort_keys=True)
        if key in seen:
            out += ["", f"### {heading}", "", f"Same keys as {seen[key]}."]
            continue
        seen[key] = heading
        out += ["", f"### {heading}", "", *_table(found["properties"], found.get("required", []), root)]
        for name, sub in found["properties"].items():
            if any(inner is not found for _, inner in _objects(sub, root)):
                _nested(f"{heading} › `{name}`", sub, root, out, seen)


def _task_example(name: str) -> str:
    module = TASK_TYPES[name]
    groups = getattr(module, "ONE_OF", ())  # of keys a task sets exactly one of, the example shows the first
    needed = {*module.REQUIRED, *(group[0] for group in groups)}
    alternatives = {key for group in groups for key in group[1:]}
    keys = [key for key in module.PROPERTIES if key in needed]
    keys += [key for key in module.PROPERTIES if key not in needed and key not in alternatives][: max(0, 5 - len(keys))]
    example: dict[str, Any] = {"type": name, **{key: module.PROPERTIES[key]["examples"][0] for key in keys}}
    return yaml.safe_dump({"tasks": {f"my_{name}": example}}, sort_keys=False, width=100, allow_unicode=True)


def _lowers_to(operators: tuple[str, ...]) -> str:
    names = list(dict.fromkeys(op.rsplit(".", 1)[1] for op in operators))
    if not names:
        return "Lowers to: the operator the task names."
    return f"Lowers to: {', '.join(f'`{name}`' for name in names)}."


def reference_markdown() -> str:
    root = pipeline_schema()
    out = [
        "# Spec reference (v1)",
        "",
        "<!-- generated by `dagen docs`; do not edit by hand -->",
        "",
        "One YAML file per pipeline in `pipelines/`; the DAG id is the file name unless `dag_id` is set.",
        "Strings may hold Jinja (`{{ params.x }}`, `{{ var.value.X }}`, `{{ ds }}`), rendered by Airflow when the",
        "task runs. Durations are `45s`, `10m`, `2h`, `1d`, `1h30m` or a number of seconds.",
        "",
        "## Top level",
        "",
        *_table(root["properties"], root.get("required", []), root),
        "",
        "A top-level key starting with `x-` holds a fragment to reuse with YAML anchors (`<<: *name`); the spec",
        "ignores the key itself (in `defaults.yaml` too).",
    ]
    for key in ("task_defaults", "aws", "params"):
        _nested(f"`{key}`", root["properties"][key], root, out)
    out += ["", *_EMAIL]
    _nested("`notifications`", root["properties"]["notifications"], root, out)
    out += ["", *_NOTIFICATIONS]
    _nested("`groups.NAME`", root["properties"]["groups"], root, out)
    _nested("`schedule`", root["properties"]["schedule"], root, out)
    out += ["", *_ASSETS]
    _nested("`clusters.NAME`", root["$defs"]["cluster"], root, out)
    _nested("`configurations` entries", root["$defs"]["emr_configuration"], root, out)
    out += ["", "## Tasks", "", "Every task has a `type` and these common keys:", ""]
    shared = {key: root["$defs"]["emr_step_task"]["properties"][key] for key in COMMON_TASK_PROPERTIES}
    out += _table(shared, [], root)
    out += [
        "",
        "`run_if`, `trigger_rule`, `for_each` and the `branch` type are described, with complete examples, in",
        "[control flow](control-flow.md).",
    ]
    for key in ("run_if", "for_each"):
        _nested(f"`{key}`", shared[key], root, out)
    out += ["", "### `outlets`", "", *_OUTLETS]
    for name, module in TASK_TYPES.items():
        task_def = root["$defs"][f"{name}_task"]
        own = {key: task_def["properties"][key] for key in module.PROPERTIES}
        one_of = [f"Exactly one of {', '.join(f'`{k}`' for k in group)}." for group in getattr(module, "ONE_OF", ())]
        out += [
            "",
            f"### `{name}`",
            "",
            module.SUMMARY,
            "",
            _lowers_to(module.OPERATORS),
            "",
            *_table(own, list(module.REQUIRED), root),
            "",
            *(one_of and [" ".join(one_of), ""]),
            "```yaml",
            _task_example(name).rstrip(),
            "```",
        ]
        for key, schema in module.PROPERTIES.items():
            _nested(f"`{name}` › `{key}`", schema, root, out)
    defaults = defaults_schema()
    out += ["", "## `defaults.yaml`", "", defaults["description"], "", *_table(defaults["properties"], [], defaults)]
    out += ["", *_limits(), "", *_EDITOR]
    return "\n".join(out) + "\n"


_EMAIL = [
    "**Email settings.** Prefer `notifications` (below) to `task_defaults.email`, `email_on_failure` and",
    "`email_on_retry`. Those three are Airflow's own per-task email, passed to every task as they are written:",
    "`email_on_failure` and `email_on_retry` default to `true` in Airflow (`[email] default_email_on_failure`,",
    "`default_email_on_retry`), so a spec that sets only `email` is emailed on every retry as well as on the",
    "failure (a task with `retries: 2` that fails sends 3 emails); set `email_on_retry: false` to be told only of",
    "the failure. On Airflow 3 they are deprecated: a task built with `email` set logs a",
    '`RemovedInAirflow4Warning` ("Setting email on a task is deprecated; please migrate to SmtpNotifier.", and',
    "the same for `email_on_retry` and `email_on_failure`); they still send mail on Airflow 3 (through the SMTP",
    "provider's `SmtpNotifier`, or the configured `[email] email_backend`) and are to be removed in Airflow 4.",
    "`notifications: {on_task_failure: [{email: [...]}]}` sends mail through that same `SmtpNotifier` on both",
    "Airflow majors, only after a task's last retry, and can also publish to SNS or call a function.",
]

_NOTIFICATIONS = [
    "Each event lists its targets; a target sets exactly one of `sns`, `email`, `callback` (DG521).",
    "`on_task_failure` is told once per task, after its last retry; `on_task_retry` at each retry. SNS",
    "targets publish through the pipeline's AWS connection (`aws.conn_id`), email targets through the",
    "environment's SMTP connection `smtp_default` (`dagen preview` lists the connections a pipeline uses).",
    "",
    "```yaml",
    "notifications:",
    '  on_task_failure: [{sns: "arn:aws:sns:us-east-1:123456789012:data-alerts"}, {email: [oncall@example.com]}]',
    "  on_run_success: [{callback: lib.alerts.celebrate}]   # a function in pipelines/lib/alerts.py",
    '  on_sla_miss: [{sns: "arn:aws:sns:us-east-1:123456789012:data-alerts", subject: "{{ dag.dag_id }} is late"}]',
    "sla: 3h",
    "```",
]

_ASSETS = [
    "A pipeline scheduled on assets runs when other pipelines' tasks that list them in `outlets` succeed",
    "(Airflow 3 assets, Airflow 2 datasets). `when: all` waits for an update of every asset since its last run;",
    "`when: any` runs on each update.",
    "",
    "```yaml",
    "schedule:",
    "  assets: [s3://warehouse/curated/, s3://warehouse/prices/]",
    "  when: any",
    "```",
]

_OUTLETS = [
    "A list of asset URIs (`scheme://...`, such as `s3://bucket/prefix/`) a task updates when it succeeds: each",
    "success records an asset event, and every pipeline whose `schedule.assets` lists the URI is then due. A",
    "failed or skipped task updates nothing. The URI names the asset; nothing checks the data is there.",
    "",
    "```yaml",
    "tasks:",
    "  publish:",
    "    type: glue_job",
    "    job_name: curate",
    "    outlets: [s3://warehouse/curated/]   # pipelines with schedule: {assets: [s3://warehouse/curated/]} run next",
    "```",
]

_EDITOR = [
    "## Editor support",
    "",
    "`schemas/pipeline.schema.json` and `schemas/defaults.schema.json` give editors that use yaml-language-server",
    "(VS Code's YAML extension, Neovim, Helix, Zed, Emacs' lsp-mode) completion, each key's description and",
    "example, and errors as you type. A spec's first line can point at the schema:",
    "",
    "```yaml",
    "# yaml-language-server: $schema=../schemas/pipeline.schema.json",
    "```",
    "",
    "That path is relative to the spec, so it is only right for specs directly in `pipelines/`: a spec in",
    "`pipelines/team/` needs `../../schemas/...`. Associating the schemas by file pattern in the editor's",
    "settings instead works for every spec whatever its folder (and needs no comment). VS Code, in the",
    "repository's `.vscode/settings.json`:",
    "",
    "```json",
    "{",
    '  "yaml.schemas": {',
    '    "./schemas/pipeline.schema.json": ["pipelines/**/*.yaml", "!pipelines/**/defaults.yaml"],',
    '    "./schemas/defaults.schema.json": ["pipelines/**/defaults.yaml"]',
    "  }",
    "}",
    "```",
    "",
    "A `$schema` comment in a file wins over these settings, so a `defaults.yaml` that keeps its comment is",
    "checked against the defaults schema even by a yaml-language-server too old for `!` patterns (negated",
    "patterns came with redhat-developer/yaml-language-server#1345). Other editors give yaml-language-server",
    "the same mapping as its `yaml.schemas` setting, with paths from the workspace root: Neovim",
    "(`settings = {yaml = {schemas = {...}}}` in the `yamlls` setup), Helix",
    "(`[language-server.yaml-language-server.config.yaml.schemas]` in `languages.toml`), Zed",
    "(`lsp.yaml-language-server.settings.yaml.schemas` in `settings.json`), Emacs (`lsp-yaml-schemas`).",
    "JetBrains IDEs: Settings ›",
    "Languages & Frameworks › Schemas and DTDs › JSON Schema Mappings, `schemas/pipeline.schema.json` with the",
    "file path pattern `pipelines/**/*.yaml`.",
]


def _limits() -> list[str]:
    """The input limits, from the constants that enforce them."""
    rows = [
        (
            "a spec, `defaults.yaml` or `query_file`",
            f"{MAX_FILE_BYTES:,} bytes (1 MiB), a regular file",
            "DG108, DG106",
        ),
        ("mappings and lists inside each other", f"{MAX_DEPTH} levels, counted through aliases", "DG109"),
        ("keys, values and items, aliases expanded", f"{MAX_VALUES:,}", "DG109"),
        ("one key or value", f"{MAX_STRING:,} characters", "DG109"),
        ("tasks in one spec", f"{MAX_TASKS:,}", "DG207"),
        ("a task id with its group prefix", f"{TASK_ID_LENGTH} characters", "DG309"),
        ("a duration", "366d", "DG206"),
        ("`start_date`, `end_date`", f"years {FIRST_YEAR} to {LAST_YEAR}", "DG407"),
    ]
    return [
        "## Input limits",
        "",
        "Input over a limit is refused with a located diagnostic before the expensive work, so that no spec can "
        "stall or crash `dagen` or the DAG loader.",
        "",
        "| What | Limit | Code |",
        "|---|---|---|",
        *(f"| {what} | {limit} | {code} |" for what, limit, code in rows),
    ]
