"""``dagen run --local``: the pipeline in real Airflow against the local AWS emulator."""
