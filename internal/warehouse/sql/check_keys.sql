-- The table's key checks in one scan: its row count, its rows with a NULL
-- key, and the key values stored more than once (NULL counts as one value,
-- as GROUP BY groups it); with .Rating (the reviews) also the rows whose
-- review_rating is outside [0, 5], from the same scan.
SELECT CAST(coalesce(sum("g"."n"), 0) AS BIGINT),
       CAST(coalesce(sum(CASE WHEN "g"."k" IS NULL THEN "g"."n" ELSE 0 END), 0) AS BIGINT),
       CAST(coalesce(sum(CASE WHEN "g"."n" > 1 THEN 1 ELSE 0 END), 0) AS BIGINT)
{{- if .Rating}},
       CAST(coalesce(sum("g"."bad"), 0) AS BIGINT)
{{- end}}
FROM (SELECT {{ident .Key}} AS "k", count(*) AS "n"
{{- if .Rating}},
             count(CASE WHEN "review_rating" < 0 OR "review_rating" > 5 THEN 1 END) AS "bad"
{{- end}}
      FROM {{ident .Table}} GROUP BY {{ident .Key}}) "g"
