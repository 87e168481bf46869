SELECT count(*) FROM {{ params.table }} WHERE day = DATE '{{ ds }}'
