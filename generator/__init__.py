"""dagen: declarative pipelines for Amazon MWAA, compiled to real Airflow DAGs.

The phases run one way, each a module that never reaches back::

    source            load      YAML text -> data; duplicate keys, tags and __type__ rejected;
                                positions computed only when a diagnostic needs them
    validate_schema   validate  JSON Schema (schema.py, composed from task_types/ and
                                emr_cluster.py) -> located diagnostics with hints
    merge, semantic   validate  defaults.yaml merged under the spec; graph, references,
                                dates, Jinja and task-type rules -> diagnostics
    spec_files        validate  files the spec names beside it (query_file) read into it
    normalise         normalise merged spec -> frozen PipelineSpec (model.py)
    lower             lower     PipelineSpec -> operator tasks + cluster setup/teardown
    dagfactory_config lower     -> dag-factory configuration (the intermediate form)
    build             build     dag-factory builds the DAG; teardowns wired after

``pipelines.process`` drives the phases over files; ``airflow_loader`` is what
the single DAG file calls (with ``compile_cache``, the ``shipped_build`` that
``dagen deploy`` puts in the bundle, and the ``spec_index`` that lets a task
process build only its DAG); ``cli`` is the thin ``dagen`` command.  Every
problem is a ``diagnostics.Diagnostic``.
"""

__version__ = "0.1.0"
