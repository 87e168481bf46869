SELECT count(*)
FROM {{ params.tabel }}
WHERE day = DATE '{{ dss }}'
