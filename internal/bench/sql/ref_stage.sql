CREATE OR REPLACE TABLE staging_{{.Name}} AS SELECT * FROM read_parquet({{.Parquet}})
