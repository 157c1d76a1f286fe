{{/* The keys of .Entity that kept their id, written to .Out. */ -}}
COPY (
  SELECT f."entity", f."source", f."source_key", f."id", f."source_file", f."line" FROM "_sk_first" f
  WHERE f."entity" = {{str .Entity}} AND NOT EXISTS (
    SELECT 1 FROM "_sk_taken" w WHERE w."entity" = f."entity" AND w."id" = f."id" AND w."winner" <> f."source_key")
) TO {{str .Out}} (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)
