CREATE OR REPLACE TABLE {{ident .Staging}} AS SELECT * FROM read_parquet({{str .Parquet}})
