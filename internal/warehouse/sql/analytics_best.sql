-- {{.Subject}}s in both top-{{.Limit}} lists: by number of reviews and by average rating.
INSERT INTO goodreads_analytics.{{.Table}} ({{.Key}}, review_count, average_review_rating, count_rank, rating_rank{{range .DimColumns}}, {{.}}{{end}})
SELECT c.{{.Key}}, c.review_count, r.average_review_rating, c.rank, r.rank{{template "dim_columns" .}}
FROM ({{template "by_count" .}}) c
JOIN ({{template "by_rating" .}}) r ON r.{{.Key}} = c.{{.Key}}
LEFT JOIN goodreads_warehouse.{{.Dim}} d ON d.{{.DimKey}} = c.{{.Key}}
WHERE c.rank <= {{.Limit}} AND r.rank <= {{.Limit}}
