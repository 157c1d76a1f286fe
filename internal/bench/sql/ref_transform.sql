-- The reference's transform of one entity: typed CSV read (broken rows
-- skipped), text cleaned, dates converted, latest version of each id kept
-- (max timestamp per id, then a semi-join), written as zstd Parquet.
COPY (
  SELECT c.* FROM (
    SELECT {{template "ref_clean" .Columns}} FROM {{template "ref_source" .}}
  ) c
  SEMI JOIN (
    SELECT {{ident .Key}}, max("record_create_timestamp") AS ts FROM {{template "ref_source" .}} GROUP BY {{ident .Key}}
  ) w ON c.{{ident .Key}} = w.{{ident .Key}} AND c."record_create_timestamp" = w.ts
) TO {{str .Out}} (FORMAT parquet, COMPRESSION zstd)

{{- /* The typed read_csv of the entity's file .File; rows that do not fit are skipped. */}}
{{- define "ref_source"}}read_csv({{str .File}}, header=true, auto_detect=false, delim=',', quote='"', escape='"', ignore_errors=true, timestampformat='%Y-%m-%d %H:%M:%S.%f', columns={
{{- range $i, $c := .Columns}}{{if $i}}, {{end}}{{str $c.Name}}: {{str $c.ReadType}}{{end}} }){{end}}

{{- /* The select list that cleans the columns: text with its white space
       folded (and HTML tags dropped where the column holds HTML), Goodreads
       dates parsed, the rest as read. */}}
{{- define "ref_clean"}}{{range $i, $c := .}}{{if $i}}, {{end}}
{{- if $c.Text}}nullif(trim(regexp_replace({{if $c.HTML}}regexp_replace({{ident $c.Name}}, '<[^>]*>', ' ', 'g'){{else}}{{ident $c.Name}}{{end}}, '\s+', ' ', 'g')), '')
{{- else if $c.GoodreadsTS}}CAST(strptime({{ident $c.Name}}, '%a %b %d %H:%M:%S %z %Y') AS TIMESTAMP)
{{- else}}{{ident $c.Name}}{{end}} AS {{ident $c.Name}}{{end}}{{end}}
