-- The top {{.Subject}}s by number of reviews in the window, with their {{.Dim.Name}} columns.
INSERT INTO {{ident .Table}} ("rank", {{ident .Key}}, "review_count"{{range .DimColumns}}, {{ident .}}{{end}})
SELECT t."rank", t.{{ident .Key}}, t."review_count"{{template "dim_columns" .}}
FROM ({{template "by_count" .}}) t
LEFT JOIN {{ident .Dim}} d ON d.{{ident .DimKey}} = t.{{ident .Key}}
WHERE t."rank" <= {{param .Top}}
