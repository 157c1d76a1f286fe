-- The table's three key checks in one scan: its row count, its rows with a
-- NULL key, and the key values stored more than once (NULL counts as one
-- value, as GROUP BY groups it).
SELECT CAST(coalesce(sum("g"."n"), 0) AS BIGINT),
       CAST(coalesce(sum(CASE WHEN "g"."k" IS NULL THEN "g"."n" ELSE 0 END), 0) AS BIGINT),
       CAST(coalesce(sum(CASE WHEN "g"."n" > 1 THEN 1 ELSE 0 END), 0) AS BIGINT)
FROM (SELECT {{ident .Key}} AS "k", count(*) AS "n" FROM {{ident .Table}} GROUP BY {{ident .Key}}) "g"
