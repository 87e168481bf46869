INSERT INTO sales.daily SELECT * FROM sales.staged WHERE day = '{{ ds }}'
