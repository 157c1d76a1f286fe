{{/* A reading statement of the SQL box, as a subquery, so that only the
     page asked for is computed and returned. It ends on its own line: a
     trailing -- comment in it stays a comment. */}}
SELECT * FROM (
{{.Query}}
) AS "grpipe_query"
{{- if .Limit}}
LIMIT {{.Limit}} OFFSET {{.Offset}}
{{- end}}
