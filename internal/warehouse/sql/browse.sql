{{/* One view of a table for the explorer: sorted, searched in its text
     columns ($1, an ILIKE pattern), one page ($2 or $1 the limit, then the
     offset). */ -}}
SELECT {{idents .Columns}}
FROM {{ident .Table}}
{{- template "browse_where" .}}
ORDER BY {{ident .Order}} {{if .Desc}}DESC{{else}}ASC{{end}} NULLS LAST{{with .Tie}}, {{ident .}}{{end}}
{{- if .Limit}}{{if .Search}}
LIMIT $2 OFFSET $3{{else}}
LIMIT $1 OFFSET $2{{end}}{{end}}
{{define "browse_where"}}{{if .Search}}
WHERE {{range $i, $c := .TextColumns}}{{if $i}} OR {{end}}{{ident $c}} ILIKE $1 ESCAPE '\'{{end}}{{end}}{{end}}
