"""dagen: declarative pipelines for Amazon MWAA, compiled to real Airflow DAGs.

The folders are the phases and the commands.  Imports run only downward (a test,
``tests/test_layout.py``, fails otherwise); each layer may use those above it here::

    core/         the shared vocabulary: the one Diagnostic type, the spec model, templates,
                  value formats, schema building blocks, provider profile, lowering context
    resources/    managed resources around the tasks (EMR clusters): schema, checks, lifecycle
    task_types/   one module per task type, registered in one table: its schema fragment,
                  its checks and how it becomes an operator
    spec/         load -> validate -> normalise
                    load             YAML text -> data; duplicate keys, tags and dag-factory
                                     keys refused; positions only when a diagnostic needs them
                    validate_schema  JSON Schema (schema.py) -> located diagnostics with hints
                    merge, semantic  defaults.yaml merged under the spec; graph, references,
                                     dates, Jinja and task-type rules
                    files            files the spec names beside it (query_file) read into it
                    normalise        merged spec -> frozen PipelineSpec (core/model.py)
    compile/      lower -> configure -> build
                    lower              PipelineSpec -> operator tasks + cluster setup/teardown
                    dagfactory_config  -> dag-factory configuration (the intermediate form)
                    build              dag-factory builds the DAG; teardowns wired after
                    cache, shipped_build  configurations kept between parses and shipped by deploy
                    pipelines          drives the phases over files (``process``)
    loader/       what the single DAG file calls; the spec index a task process uses
    preview/ deploy/ local/ iam/   the commands (never importing one another)
    cli           the thin ``dagen`` command

Every problem is a ``core.diagnostics.Diagnostic``.
"""

__version__ = "0.1.0"
