CREATE TABLE IF NOT EXISTS warehouse_{{.Name}} AS SELECT * FROM staging_{{.Name}} LIMIT 0
