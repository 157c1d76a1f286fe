-- check_keys.sql on PostgreSQL: the row count, the NULL keys and the
-- ratings outside [0, 5] from one scan, and for the repeats the non-NULL
-- keys less their distinct values: 0 exactly when no value is stored twice
-- (then the count of repeated values is 0 too; else check_keys_repeated.sql
-- counts them). count(DISTINCT) sorts the bare key values, about half the
-- time of numbering every row in a sort of the rows (0.31 against 0.62 s
-- for a million reviews: BENCHMARKS.md, "Round 9: PostgreSQL's checks and
-- analytics").
SELECT count(*),
       count(*) - count({{ident .Key}}),
       count({{ident .Key}}) - count(DISTINCT {{ident .Key}})
{{- if .Rating}},
       count(*) FILTER (WHERE "review_rating" < 0 OR "review_rating" > 5)
{{- end}}
FROM {{ident .Table}}
