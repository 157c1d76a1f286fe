-- {{.Subject}}s in both top lists: by number of reviews and by average rating
-- (both ranked from one scan of the reviews).
INSERT INTO {{ident .Table}} ({{ident .Key}}, "review_count", "average_review_rating", "count_rank", "rating_rank"{{range .DimColumns}}, {{ident .}}{{end}})
SELECT b.{{ident .Key}}, b."review_count", b."average_review_rating", b."count_rank", b."rating_rank"{{template "dim_columns" .}}
FROM ({{template "by_both" .}}) b
LEFT JOIN {{ident .Dim}} d ON d.{{ident .DimKey}} = b.{{ident .Key}}
WHERE b."count_rank" <= {{param .Top}} AND b."rating_rank" <= {{param .Top}}
