"""The real-scheduler lane's harness: PostgreSQL, the emulator and Airflow's components as separate processes.

``lane`` runs one session (what starts, in order; what is read at the end; how it all stops), with
``processes`` (process groups, and finding whatever is left), ``postgres`` (a private cluster),
``dags_folder`` (the DAGs folder of a deployed bundle), ``emulator`` (the local AWS and what it holds at the
end), ``deployment`` (Airflow's configuration, components, DAG runs and their states), ``trigger_runs``
(the script that triggers the runs) and ``worker_kill`` (the worker killed mid-step).
"""
