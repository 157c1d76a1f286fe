-- check_keys.sql on PostgreSQL: the same four counts from one scan, the
-- duplicates found by numbering the rows of each key value (a sort, which
-- PostgreSQL does in about half the time of the hash aggregation over a
-- million distinct keys: BENCHMARKS.md, "Round 8: PostgreSQL against DuckDB").
-- A key value stored more than once has exactly one row numbered 2; NULL
-- keys form one partition, as GROUP BY groups them.
SELECT count(*),
       count(*) FILTER (WHERE "g"."k" IS NULL),
       count(*) FILTER (WHERE "g"."rn" = 2)
{{- if .Rating}},
       count(*) FILTER (WHERE "g"."bad")
{{- end}}
FROM (SELECT {{ident .Key}} AS "k", row_number() OVER (PARTITION BY {{ident .Key}}) AS "rn"
{{- if .Rating}},
             ("review_rating" < 0 OR "review_rating" > 5) AS "bad"
{{- end}}
      FROM {{ident .Table}}) "g"
