{{/* The latest version of each id of the clean files .Files, written to .Out:
     the winners (greatest timestamp, then greatest ordinal) are found in the
     keys files beside them, so the clean rows are read once; rows whose
     ordinal is in .Exclude (derived-id collisions) never win. When no id
     appears twice (.Unique, from dedup_count), every row not excluded wins:
     no grouping, no join of millions of ordinals beside the scan and the
     Parquet writer. */ -}}
COPY (
  SELECT {{idents .Columns}} FROM read_csv({{paths .Files}}, {{template "tsv_options" .}}, columns={{template "csv_columns" .FileColumns}})
  {{- if .Unique}}{{with .Exclude}}
  WHERE "_ord" NOT IN ({{ints .}}){{end}}
  {{- else}}
  WHERE "_ord" IN (SELECT arg_max("_ord", {'t': "t", 'o': "_ord"}) FROM read_csv({{paths .KeyFiles}}, {{template "tsv_options" .}}, columns={{template "csv_columns" .KeyColumns}}){{with .Exclude}} WHERE "_ord" NOT IN ({{ints .}}){{end}} GROUP BY "k")
  {{- end}}
) TO {{str .Out}} (FORMAT parquet, {{codec .Compression}}, ROW_GROUP_SIZE_BYTES {{str .RowGroupBytes}})
