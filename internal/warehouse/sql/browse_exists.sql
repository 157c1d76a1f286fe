{{/* Whether a table view holds a row after (or, .Reverse, before) the
     cursor's row: 1 when it does, no row when not. Without an ORDER BY the
     scan stops at the first such row it meets. */ -}}
SELECT 1 FROM {{ident .Table}}
{{- template "browse_where" .}}
LIMIT 1
