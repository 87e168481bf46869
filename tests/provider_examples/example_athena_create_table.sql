CREATE EXTERNAL TABLE IF NOT EXISTS example_default.example_test_table (`name` string, `age` int)
ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe'
WITH SERDEPROPERTIES ('serialization.format' = ',', 'field.delim' = ',')
LOCATION 's3://example-athena-bucket/example_test_table/'
TBLPROPERTIES ('has_encrypted_data' = 'false')
