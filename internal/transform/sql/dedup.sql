{{/* The latest version of each id of the clean files .Files, written to .Out:
     the winners (greatest timestamp, then greatest ordinal) are found in the
     keys files beside them, so the clean rows are read once; rows whose
     ordinal is in .Exclude (derived-id collisions) never win. When no id
     appears twice (.Unique, from dedup_count), every row not excluded wins:
     no grouping, no join of millions of ordinals beside the scan and the
     Parquet writer.
     The winner's ordinal is the low 63 bits of the greatest t·2⁶³ + _ord
     (an ordinal is below 2⁶³): one HUGEINT per id in the grouping, where
     arg_max by a struct of (t, _ord) kept a sort key per id. On the
     11.4 GB batch's 9.3 M review keys (6 M ids), DuckDB's memory went from
     1,084 to 807 MiB at a 2GB limit, and the dedup passes at 512MB, where
     arg_max ran out of memory (and spilled at 768MB: 49 against 32 CPU-s). */ -}}
COPY (
  SELECT {{idents .Columns}} FROM read_csv({{paths .Files}}, {{template "tsv_options" .}}, columns={{template "csv_columns" .FileColumns}})
  {{- if .Unique}}{{with .Exclude}}
  WHERE "_ord" NOT IN ({{ints .}}){{end}}
  {{- else}}
  WHERE "_ord" IN (SELECT (max(("t"::HUGEINT << 63) | "_ord") & 9223372036854775807)::BIGINT FROM read_csv({{paths .KeyFiles}}, {{template "tsv_options" .}}, columns={{template "csv_columns" .KeyColumns}}){{with .Exclude}} WHERE "_ord" NOT IN ({{ints .}}){{end}} GROUP BY "k")
  {{- end}}
) TO {{str .Out}} (FORMAT parquet, {{codec .Compression}}, ROW_GROUP_SIZE_BYTES {{str .RowGroupBytes}})
