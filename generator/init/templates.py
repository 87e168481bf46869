"""The files of a new pipelines repository: ``dagen init`` writes exactly these.

The example pipeline is small and runs as generated: ``dagen validate``, ``dagen preview`` and
``dagen run --local`` (a Spark step on a transient EMR cluster, then an Athena query read from a
``.sql`` file beside the spec).  The loader and the schemas come from the package itself
(``generator.loader.dag_file``, ``generator.spec.schema``), so they never drift from the dagen
that wrote them.
"""

from __future__ import annotations

import json

from generator.loader.dag_file import LOADER_FILE, loader_source
from generator.spec.schema import SCHEMAS

REPOSITORY = "https://github.com/YOUR-ORG/dagen"  # where teams get dagen from: replace with your fork or mirror


def release_tag(version: str) -> str:
    """The git tag of a dagen release: ``vX.Y.Z`` for ``generator.__version__`` X.Y.Z."""
    return f"v{version}"


EXAMPLE_SPEC = """\
# An example pipeline written by `dagen init`: a Spark step on a transient EMR cluster, then an
# Athena query read from sql/summarise.sql.  The DAG id is the file name: `example`.
#   dagen validate pipelines/                          check every spec (also the pre-commit hook and CI)
#   dagen preview pipelines/example.yaml               the DAG it becomes
#   dagen run pipelines/example.yaml --local           run it in real Airflow on a local AWS emulator
# Editors find the schema through .vscode/settings.json (every spec under pipelines/, whatever its folder).
description: Count the words of the day's input files, then summarise the counts with Athena.
schedule: "@daily"
start_date: 2024-01-01
max_active_runs: 1

params:
  data_bucket:
    default: my-data-bucket
    type: string
    description: Bucket holding input/ and where output/ is written.
  scripts_uri:
    default: s3://my-data-bucket/spark_jobs
    type: string
    description: Where `dagen deploy --scripts-uri` uploaded spark_jobs/.

clusters:
  etl:
    release_label: emr-7.5.0
    applications: [Hadoop, Spark]
    instance_groups:
      primary: {instance_type: m5.xlarge}
      core: {instance_type: m5.xlarge, count: 2, market: SPOT}
    log_uri: s3://{{ params.data_bucket }}/emr-logs/

tasks:
  count_words:
    type: emr_step
    description: Count the words of the day's input files.
    cluster: etl
    spark:
      script: "{{ params.scripts_uri }}/word_count.py"
      deploy_mode: cluster
      args:
        - --input
        - s3://{{ params.data_bucket }}/input/{{ ds }}/
        - --output
        - s3://{{ params.data_bucket }}/output/word_counts/{{ ds }}/
    timeout: 1h
  summarise:
    type: athena_query
    description: The most frequent words of the day.
    depends_on: [count_words]
    query_file: sql/summarise.sql
    database: example
    output_location: s3://{{ params.data_bucket }}/athena-results/
"""

SUMMARY_SQL = """\
-- Read by the `summarise` task of pipelines/example.yaml (query_file), with Jinja rendered at run time.
SELECT word, SUM(count) AS total
FROM word_counts
WHERE day = '{{ ds }}'
GROUP BY word
ORDER BY total DESC
LIMIT 100
"""

DEFAULTS = """\
# yaml-language-server: $schema=../schemas/defaults.schema.json
# Team-wide defaults, merged under every pipeline in this folder (the pipeline wins).
owner: data-platform
tags: [dagen]
catchup: false
task_defaults:
  retries: 2
  retry_delay: 5m
  retry_exponential_backoff: true
  poll_interval: 30s
aws:
  conn_id: aws_default
cluster_defaults:
  service_role: EMR_DefaultRole
  instance_profile: EMR_EC2_DefaultRole
  subnet_id: "{{ var.value.emr_subnet_id }}"
  idle_timeout: 1h
  tags:
    # Required by the AmazonEMRServicePolicy_v2 service role.
    for-use-with-amazon-emr-managed-policies: "true"
"""

WORD_COUNT_JOB = '''\
"""Count the words of text files: the Spark job of pipelines/example.yaml's count_words step."""

from __future__ import annotations

import argparse

from pyspark.sql import SparkSession
from pyspark.sql import functions as F


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input", required=True, help="folder of text files")
    parser.add_argument("--output", required=True, help="where the counts are written (Parquet)")
    args = parser.parse_args()
    spark = SparkSession.builder.appName("word_count").getOrCreate()
    words = spark.read.text(args.input).select(F.explode(F.split(F.lower("value"), r"\\W+")).alias("word"))
    counts = words.where(F.col("word") != "").groupBy("word").count()
    counts.write.mode("overwrite").parquet(args.output)
    spark.stop()


if __name__ == "__main__":
    main()
'''

GITIGNORE = """\
.venv/
__pycache__/
*.pyc
.pytest_cache/
spark-warehouse/
metastore_db/
derby.log
"""


def pre_commit_config(version: str) -> str:
    return f"""\
# Validate the pipelines before each commit (`pip install pre-commit && pre-commit install`).
repos:
  - repo: {REPOSITORY}
    rev: {release_tag(version)}
    hooks: [{{id: dagen-validate}}]
"""


def validate_workflow(version: str) -> str:
    return f"""\
# Validate every pipeline spec on pull requests; errors appear as annotations on the changed lines.
name: validate pipelines
on:
  pull_request:
    paths: ["pipelines/**", "schemas/**", "dags/**"]
  push:
    branches: [main]
    paths: ["pipelines/**", "schemas/**", "dags/**"]
permissions:
  contents: read
jobs:
  validate:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
      # Validation needs only dagen itself (PyYAML, jsonschema, Jinja2, croniter), not Airflow.
      - run: pip install "dagen @ git+{REPOSITORY}@{release_tag(version)}"
      - run: dagen validate --format github pipelines/
"""


def vscode_settings() -> str:
    """``yaml.schemas`` for VS Code's YAML extension: every spec under ``pipelines/``, whatever its folder.

    ``defaults.yaml`` files get their own schema; the ``!`` pattern keeps them out of the pipeline
    schema where the extension supports negated patterns, and their ``$schema`` comment wins elsewhere.
    """
    settings = {
        "yaml.schemas": {
            "./schemas/pipeline.schema.json": [
                "pipelines/**/*.yaml",
                "pipelines/**/*.yml",
                "!pipelines/**/defaults.yaml",
                "!pipelines/**/defaults.yml",
            ],
            "./schemas/defaults.schema.json": ["pipelines/**/defaults.yaml", "pipelines/**/defaults.yml"],
        },
        "files.associations": {"pipelines/**/*.sql": "sql"},
    }
    return json.dumps(settings, indent=2) + "\n"


def repository_files(version: str) -> dict[str, str]:
    """Every file of a new repository: its path ("/"-separated, relative to it) -> its text.

    ``version`` is the dagen that writes it, which its pre-commit hook and CI workflow pin.
    """
    return {
        "pipelines/example.yaml": EXAMPLE_SPEC,
        "pipelines/sql/summarise.sql": SUMMARY_SQL,
        "pipelines/defaults.yaml": DEFAULTS,
        f"dags/{LOADER_FILE}": loader_source(),
        "schemas/pipeline.schema.json": json.dumps(SCHEMAS["pipeline"](), indent=2) + "\n",
        "schemas/defaults.schema.json": json.dumps(SCHEMAS["defaults"](), indent=2) + "\n",
        "spark_jobs/word_count.py": WORD_COUNT_JOB,
        ".pre-commit-config.yaml": pre_commit_config(version),
        ".github/workflows/validate-pipelines.yml": validate_workflow(version),
        ".gitignore": GITIGNORE,
        ".vscode/settings.json": vscode_settings(),
    }
