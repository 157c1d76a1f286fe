{{/* The rows of the Parquet files .Files in one file .Out, columns matched by name. */ -}}
COPY (SELECT * FROM read_parquet({{paths .Files}}, union_by_name = true)) TO {{str .Out}} (FORMAT parquet, COMPRESSION zstd)
