# dagen: set-up, tests and demo. Every environment is created from a committed lock file.
#   make demo   run the main job on the embedded default (the seed pipelines)
#   make test   create every environment and run the whole test suite
SHELL := /bin/bash
.DEFAULT_GOAL := test

UV_VERSION := 0.13.9
UV := .tools/bin/uv
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy
export UV_NO_PROGRESS := 1
# Every lane's packages are byte-compiled when installed: a Python process started with
# PYTHONDONTWRITEBYTECODE (or a read-only site-packages) would otherwise compile Airflow anew each time.
export UV_COMPILE_BYTECODE := 1
# dag-factory's Airflow plugin phones home on every DAG run unless told not to.
export AIRFLOW__DAG_FACTORY__ENABLE_TELEMETRY := False
export DO_NOT_TRACK := 1
export AIRFLOW__CORE__LOAD_EXAMPLES := False

LANES := .venv .venv-airflow2
PYTEST_GENERATOR := -m pytest tests --ignore=tests/spark_jobs --ignore=tests/cloudformation -q --durations=25

.PHONY: test demo bench lanes lint preview-tools postgres test-airflow3 test-airflow2 test-spark test-cloudformation generated clean

$(UV):
	python3 -m venv .tools
	.tools/bin/pip install --quiet "uv==$(UV_VERSION)"

# Airflow 3.3 lane: what MWAA 3.3.1 runs (Python 3.12, providers-amazon 9.34.0).
.venv/.installed: requirements/airflow3.lock setup.cfg | $(UV)
	rm -rf .venv
	$(UV) venv --quiet --python "$$(scripts/find-python.sh 3.12)" .venv
	VIRTUAL_ENV=.venv $(UV) pip sync --quiet requirements/airflow3.lock
	VIRTUAL_ENV=.venv $(UV) pip install --quiet --no-deps -e .
	touch $@

# Airflow 2.10 lane: what MWAA 2.10.3 runs (Python 3.11, providers-amazon 9.0.0).
.venv-airflow2/.installed: requirements/airflow2.lock setup.cfg | $(UV)
	rm -rf .venv-airflow2
	$(UV) venv --quiet --python "$$(scripts/find-python.sh 3.11)" .venv-airflow2
	VIRTUAL_ENV=.venv-airflow2 $(UV) pip sync --quiet requirements/airflow2.lock
	VIRTUAL_ENV=.venv-airflow2 $(UV) pip install --quiet --no-deps -e .
	touch $@

# Tools lane: cfn-lint and statelint for the CloudFormation templates.
.venv-tools/.installed: requirements/tools.lock | $(UV)
	rm -rf .venv-tools
	$(UV) venv --quiet --python "$$(scripts/find-python.sh 3.11)" .venv-tools
	VIRTUAL_ENV=.venv-tools $(UV) pip sync --quiet requirements/tools.lock
	touch $@

# Spark lane: pyspark 3.5 (the Spark line of EMR 7) for the jobs in spark_jobs/, with a Java runtime.
.venv-spark/.installed: requirements/spark.lock | $(UV)
	scripts/ensure-java.sh
	rm -rf .venv-spark
	$(UV) venv --quiet --python "$$(scripts/find-python.sh 3.11)" .venv-spark
	VIRTUAL_ENV=.venv-spark $(UV) pip sync --quiet requirements/spark.lock
	touch $@

lanes: .venv/.installed .venv-airflow2/.installed

# Graphviz (dagen preview --format svg|png) and Chromium (the HTML preview test), from Debian's packages.
preview-tools:
	scripts/ensure-preview-tools.sh

# PostgreSQL's server programs, from Debian's package: the metadata DB of tests/real_scheduler (each session
# starts a private cluster of its own on loopback and stops it).
postgres:
	scripts/ensure-postgres.sh

# Both lanes, whichever runs: tests/test_property_inputs.py checks its verdicts against the other lane's Python.
test-airflow3: lanes preview-tools postgres
	.venv/bin/python $(PYTEST_GENERATOR)

test-airflow2: lanes preview-tools postgres
	.venv-airflow2/bin/python $(PYTEST_GENERATOR)

test-cloudformation: .venv-tools/.installed
	.venv-tools/bin/python -m pytest tests/cloudformation -q

# ruff (lint + format) and mypy on the package, the loader and the generator's tests.
lint: .venv-tools/.installed
	.venv-tools/bin/ruff check generator dags benchmarks tests --exclude tests/spark_jobs,tests/cloudformation
	.venv-tools/bin/ruff format --check generator dags benchmarks tests/*.py
	.venv-tools/bin/mypy generator --ignore-missing-imports

test-spark: .venv-spark/.installed
	.venv-spark/bin/python -m pytest tests/spark_jobs -q

test: lint test-airflow3 test-airflow2 test-cloudformation test-spark

demo: .venv/.installed
	.venv/bin/dagen validate pipelines/
	.venv/bin/dagen preview pipelines/movielens_emr_step_functions.yaml
	# Run MovieLens end to end in real Airflow on the local AWS emulator (docs/local-runs.md).
	.venv/bin/dagen run pipelines/movielens_emr_step_functions.yaml --local

# Regenerate the committed generated files (a test fails when they are stale).
generated: .venv/.installed
	.venv/bin/dagen schema --kind pipeline -o schemas/pipeline.schema.json
	.venv/bin/dagen schema --kind defaults -o schemas/defaults.schema.json
	.venv/bin/dagen codes -o docs/diagnostics.md
	.venv/bin/dagen docs -o docs/spec-reference.md
	.venv/bin/dagen iam pipelines/ --format cloudformation -o cloudformation/pipelines-policy.yaml

clean:
	rm -rf .tools .venv .venv-airflow2 .venv-spark .venv-tools

# Parse-time benchmark (not part of `make test`): writes docs/performance.md.
bench: .venv/.installed .venv-airflow2/.installed
	.venv/bin/python benchmarks/run.py
