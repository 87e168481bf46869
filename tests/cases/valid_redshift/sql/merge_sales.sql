MERGE INTO sales.daily USING sales.staged ON sales.daily.day = sales.staged.day
WHEN MATCHED THEN UPDATE SET amount = sales.staged.amount
WHEN NOT MATCHED THEN INSERT VALUES (sales.staged.day, sales.staged.amount)
