{{/* Row order in the transform's Parquet files carries no meaning: DuckDB may write in parallel. */ -}}
SET GLOBAL preserve_insertion_order = false
