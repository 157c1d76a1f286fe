{{/* The latest version of each id of the clean files .Files, written to .Out:
     the winners (greatest timestamp, then greatest ordinal) are found in the
     keys files beside them, so the clean rows are read once; rows whose
     ordinal is in .Exclude (derived-id collisions) never win. */ -}}
COPY (
  SELECT {{idents .Columns}} FROM read_csv({{paths .Files}}, {{template "tsv_options" .}}, columns={{template "csv_columns" .FileColumns}})
  WHERE "_ord" IN (SELECT arg_max("_ord", {'t': "t", 'o': "_ord"}) FROM read_csv({{paths .KeyFiles}}, {{template "tsv_options" .}}, columns={{template "csv_columns" .KeyColumns}}){{with .Exclude}} WHERE "_ord" NOT IN ({{ints .}}){{end}} GROUP BY "k")
) TO {{str .Out}} (FORMAT parquet, {{codec .Compression}}, ROW_GROUP_SIZE_BYTES {{str .RowGroupBytes}})
