SELECT count(*) FROM events WHERE day = DATE '{{ ds }}'
