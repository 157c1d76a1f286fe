{{/* One view of a table for the explorer: identifiers quoted by the caller,
     the search pattern, the limit and the offset bound as parameters. */}}
SELECT {{range $i, $c := .Columns}}{{if $i}}, {{end}}{{$c}}{{end}}
FROM {{.Table}}
{{- template "browse_where" .}}
ORDER BY {{.Order}} {{if .Desc}}DESC{{else}}ASC{{end}} NULLS LAST{{with .Tie}}, {{.}}{{end}}
{{- if .Limit}}
LIMIT {{.Limit}} OFFSET {{.Offset}}
{{- end}}
{{define "browse_where"}}{{if .Search}}
WHERE {{range $i, $c := .TextColumns}}{{if $i}} OR {{end}}{{$c}} ILIKE {{$.Search}} ESCAPE '\'{{end}}{{end}}{{end}}
