-- Top {{.Limit}} {{.Subject}}s by number of reviews in the window, with their {{.Dim}} columns.
INSERT INTO goodreads_analytics.{{.Table}} (rank, {{.Key}}, review_count{{range .DimColumns}}, {{.}}{{end}})
SELECT t.rank, t.{{.Key}}, t.review_count{{template "dim_columns" .}}
FROM ({{template "by_count" .}}) t
LEFT JOIN goodreads_warehouse.{{.Dim}} d ON d.{{.DimKey}} = t.{{.Key}}
WHERE t.rank <= {{.Limit}}
