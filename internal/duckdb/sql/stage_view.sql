{{/* A staging view over the batch's Parquet files, columns cast to the
     staging table's types: staging costs no copy, the upsert reads the files. */ -}}
CREATE VIEW {{ident .Table}} AS
SELECT
{{- range $i, $c := .Columns}}{{if $i}},{{end}}
  CAST({{ident $c.Name}} AS {{$c.Type}}) AS {{ident $c.Name}}
{{- end}}
FROM read_parquet({{paths .Files}})
