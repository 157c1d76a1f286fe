{{/* The latest version of each id of the clean files .Files, written to .Out:
     every row but the losers, found in the keys files beside them, so the
     clean rows are read once. A loser is a row of an id that has a newer
     one (a greater timestamp, then a greater ordinal: the row read last);
     rows whose ordinal is in .Exclude (derived-id collisions) never win and
     are never written. The losers are the rows numbered after the first of
     their id's window (one pass over the small keys, no grouping to join
     back), and only they meet the clean rows: a few per cent of them, none
     when no id appears twice. A count of the ids first (dedup_count) and a
     semi-join of every winner's ordinal cost the reviews of the 1 M batch
     3.3-3.5 CPU-s, a grouping joined back to the keys 3.0-3.4, this form
     2.9-3.0 (BENCHMARKS.md, issue 14, "Round 8"). */ -}}
COPY (
  SELECT {{idents .Columns}} FROM read_csv({{paths .Files}}, {{template "tsv_options" .}}, columns={{template "csv_columns" .FileColumns}})
  WHERE "_ord" NOT IN (
    SELECT "_ord" FROM read_csv({{paths .KeyFiles}}, {{template "tsv_options" .}}, columns={{template "csv_columns" .KeyColumns}}){{with .Exclude}} WHERE "_ord" NOT IN ({{ints .}}){{end}}
    QUALIFY row_number() OVER (PARTITION BY "k" ORDER BY "t" DESC, "_ord" DESC) > 1
  ){{with .Exclude}} AND "_ord" NOT IN ({{ints .}}){{end}}
) TO {{str .Out}} (FORMAT parquet, {{codec .Compression}}, ROW_GROUP_SIZE_BYTES {{str .RowGroupBytes}})
