{{/* The number of rows of a table view (its search, .Arg.Search, applies;
     no cursor, no page). */ -}}
SELECT count(*) FROM {{ident .Table}}
{{- template "browse_where" .}}
