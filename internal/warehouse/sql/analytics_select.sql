{{/* An analytics table in rank order; a column named "" reads as NULL. */ -}}
SELECT {{range $i, $c := .Columns}}{{if $i}}, {{end}}{{if $c}}{{ident $c}}{{else}}NULL{{end}}{{end}}
FROM {{ident .Table}}
ORDER BY {{ident .Order}}
