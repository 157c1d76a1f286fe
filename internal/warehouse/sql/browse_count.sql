{{/* The number of rows of a table view (its search applies). */}}
SELECT count(*) FROM {{.Table}}
{{- template "browse_where" .}}
