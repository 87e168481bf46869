SELECT * FROM {{ params.table }
