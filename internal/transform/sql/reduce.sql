{{/* The winner of each id (.Key) across the Parquet parts .Parts, written to
     .Out: the greatest .Timestamp, then the later part. */ -}}
COPY (
  SELECT {{idents .Columns}} FROM (
{{- range $i, $p := .Parts}}{{if $i}}
  UNION ALL{{end}} SELECT {{idents $.Columns}}, {{int $i}} AS "_part" FROM read_parquet({{str $p}})
{{- end}})
  QUALIFY row_number() OVER (PARTITION BY {{ident .Key}} ORDER BY {{ident .Timestamp}} DESC, "_part" DESC) = 1
) TO {{str .Out}} (FORMAT parquet, {{codec .Compression}})
