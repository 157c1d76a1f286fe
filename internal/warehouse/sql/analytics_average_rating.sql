-- The top {{.Subject}}s by average review rating in the window, with their {{.Dim.Name}} columns.
INSERT INTO {{ident .Table}} ("rank", {{ident .Key}}, "average_review_rating", "review_count"{{range .DimColumns}}, {{ident .}}{{end}})
SELECT t."rank", t.{{ident .Key}}, t."average_review_rating", t."review_count"{{template "dim_columns" .}}
FROM ({{template "by_rating" .}}) t
LEFT JOIN {{ident .Dim}} d ON d.{{ident .DimKey}} = t.{{ident .Key}}
WHERE t."rank" <= {{param .Top}}
