-- {{.Subject}}s in both top lists: by number of reviews and by average rating.
INSERT INTO {{ident .Table}} ({{ident .Key}}, "review_count", "average_review_rating", "count_rank", "rating_rank"{{range .DimColumns}}, {{ident .}}{{end}})
SELECT c.{{ident .Key}}, c."review_count", r."average_review_rating", c."rank", r."rank"{{template "dim_columns" .}}
FROM ({{template "by_count" .}}) c
JOIN ({{template "by_rating" .}}) r ON r.{{ident .Key}} = c.{{ident .Key}}
LEFT JOIN {{ident .Dim}} d ON d.{{ident .DimKey}} = c.{{ident .Key}}
WHERE c."rank" <= $3 AND r."rank" <= $3
