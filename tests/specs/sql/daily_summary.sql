-- The statement of catalogue_more's daily_summary task (query_file): Jinja is rendered when the task runs.
INSERT INTO daily_summary
SELECT DATE '{{ ds }}' AS day, source, count(*) AS events
FROM {{ params.bucket }}_db.events
WHERE day = DATE '{{ ds }}'
{%- for partition in params.partitions %}
  AND partition_{{ loop.index }} = '{{ partition }}'
{%- endfor %}
GROUP BY source
