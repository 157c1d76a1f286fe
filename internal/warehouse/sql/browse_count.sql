{{/* The number of rows of a table view ($1 the search pattern, with a search). */ -}}
SELECT count(*) FROM {{ident .Table}}
{{- template "browse_where" .}}
