-- Jinja is rendered by Airflow when the task runs.
{% set day = ds %}
INSERT INTO daily_report
SELECT DATE '{{ day }}', count(*) FROM {{ params.table }} WHERE day = DATE '{{ day }}'
