{{/* One view of a table for the explorer: sorted, searched in its text
     columns ($1, an ILIKE pattern), one page ($2 or $1 the limit, then the
     offset). A table with a unique key (.Key) is paged on its key first
     and joined back: only the page's rows are read whole, not every row
     the ordering passes over. */ -}}
{{- if and .Limit .Key -}}
SELECT {{range $i, $c := .Columns}}{{if $i}}, {{end}}"t".{{ident $c}}{{end}}
FROM {{ident .Table}} AS "t"
JOIN (
  SELECT {{ident .Key}} AS "grpipe_key"
  FROM {{ident .Table}}
  {{- template "browse_where" .}}
  ORDER BY {{ident .Order}} {{if .Desc}}DESC{{else}}ASC{{end}} NULLS LAST{{with .Tie}}, {{ident .}}{{end}}
  {{- template "browse_limit" .}}
) AS "p" ON "t".{{ident .Key}} = "p"."grpipe_key"
ORDER BY "t".{{ident .Order}} {{if .Desc}}DESC{{else}}ASC{{end}} NULLS LAST{{with .Tie}}, "t".{{ident .}}{{end}}
{{- else -}}
SELECT {{idents .Columns}}
FROM {{ident .Table}}
{{- template "browse_where" .}}
ORDER BY {{ident .Order}} {{if .Desc}}DESC{{else}}ASC{{end}} NULLS LAST{{with .Tie}}, {{ident .}}{{end}}
{{- template "browse_limit" .}}
{{- end}}
{{define "browse_where"}}{{if .Search}}
WHERE {{range $i, $c := .TextColumns}}{{if $i}} OR {{end}}{{ident $c}} ILIKE $1 ESCAPE '\'{{end}}{{end}}{{end}}
{{define "browse_limit"}}{{if .Limit}}{{if .Search}}
LIMIT $2 OFFSET $3{{else}}
LIMIT $1 OFFSET $2{{end}}{{end}}{{end}}
