{{/* The first $1 rows of an analytics table, in rank order, with the columns
     a summary prints. The average is rounded through NUMERIC, which both
     DuckDB and PostgreSQL round (PostgreSQL has no round(double, int)). */ -}}
{{define "average"}}CAST(round(CAST("average_review_rating" AS NUMERIC(18, 6)), 2) AS DOUBLE PRECISION) AS "average_review_rating"{{end -}}
SELECT
{{- if eq .Kind "review_count"}} "rank", {{ident .Key}}, {{ident .Name}}, "review_count"
{{- else if eq .Kind "average_rating"}} "rank", {{ident .Key}}, {{ident .Name}}, {{template "average"}}, "review_count"
{{- else}} {{ident .Key}}, {{ident .Name}}, "review_count", {{template "average"}}
{{- end}}
FROM {{ident .Table}} ORDER BY {{ident .Order}} LIMIT $1
