{{/* The Parquet files .Files (one entity's keys, a part each) as one file .Out. */ -}}
COPY (SELECT * FROM read_parquet({{paths .Files}})) TO {{str .Out}} (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)
