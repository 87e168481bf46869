-- The last seven days of orders, per region (read by every_type.yaml's weekly_total task).
SELECT region, count(*) AS orders
FROM orders
WHERE day BETWEEN DATE '{{ macros.ds_add(ds, -6) }}' AND DATE '{{ ds }}'
GROUP BY region
