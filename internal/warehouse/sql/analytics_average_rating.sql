-- Top {{.Limit}} {{.Subject}}s by average review rating in the window, with their {{.Dim}} columns.
INSERT INTO goodreads_analytics.{{.Table}} (rank, {{.Key}}, average_review_rating, review_count{{range .DimColumns}}, {{.}}{{end}})
SELECT t.rank, t.{{.Key}}, t.average_review_rating, t.review_count{{template "dim_columns" .}}
FROM ({{template "by_rating" .}}) t
LEFT JOIN goodreads_warehouse.{{.Dim}} d ON d.{{.DimKey}} = t.{{.Key}}
WHERE t.rank <= {{.Limit}}
