"""Lower -> configure -> build: PipelineSpec to operator tasks, to the dag-factory configuration, to the
Airflow DAG; the compile cache and the shipped build hold configurations; ``pipelines`` drives the phases."""
