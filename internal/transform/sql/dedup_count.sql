{{/* The rows of the keys files .KeyFiles and their distinct ids (less the
     rows whose ordinal is in .Exclude): equal when no id appears twice, and
     the dedup then needs no winners. A grouping alone, which spills to
     DuckDB's temp_directory beyond its memory_limit. */ -}}
SELECT coalesce(sum("n"), 0)::BIGINT, count(*) FROM (
  SELECT "k", count(*) AS "n" FROM read_csv({{paths .KeyFiles}}, {{template "tsv_options" .}}, columns={{template "csv_columns" .KeyColumns}})
  {{- with .Exclude}} WHERE "_ord" NOT IN ({{ints .}}){{end}} GROUP BY "k"
)
