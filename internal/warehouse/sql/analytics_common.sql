{{/* Shared parts of the analytics queries. $1 and $2 bound the window of
     reviews by record_create_timestamp: [$1, $2) (not bound when the
     totals are read from .Totals); the parameter .Top is how many a
     ranking keeps. */}}
{{define "totals"}}
  {{- /* Per id of the subject (.Key) in the window: its number of reviews,
         of rated reviews, and their average rating (avg skips NULL).
         With .Totals, read from the subject's totals table that
         BuildReviewTotals wrote for this window (one scan of the reviews
         for the subject's three tables); else aggregated here. */}}
  {{- if .Totals}}
  SELECT {{ident .Key}}, "review_count", "rated_count", "average_review_rating" FROM {{ident .Totals}}
  {{- else}}
  SELECT {{ident .Key}}, count(*) AS "review_count", count("review_rating") AS "rated_count", avg("review_rating") AS "average_review_rating"
  FROM {{ident .Reviews}}
  WHERE "record_create_timestamp" >= $1 AND "record_create_timestamp" < $2 AND {{ident .Key}} IS NOT NULL
  GROUP BY {{ident .Key}}
  {{- end}}
{{end}}
{{define "by_count"}}
  {{- /* The first .Top ids by number of reviews, ranked: the top-N is
         taken before the ranking, so no engine sorts every id to number
         them (the key breaks ties: the order is total, and a rank within
         the top N is the rank among all ids). */}}
  SELECT {{ident .Key}}, "review_count", ROW_NUMBER() OVER (ORDER BY "review_count" DESC, {{ident .Key}}) AS "rank"
  FROM (SELECT * FROM ({{template "totals" .}}) g ORDER BY "review_count" DESC, {{ident .Key}} LIMIT {{param .Top}}) g
{{end}}
{{define "by_rating"}}
  {{- /* The ids with a rated review, ranked by the average of their rated
         reviews; review_count is the number of those. */}}
  SELECT {{ident .Key}}, "average_review_rating", "rated_count" AS "review_count",
         ROW_NUMBER() OVER (ORDER BY "average_review_rating" DESC, "rated_count" DESC, {{ident .Key}}) AS "rank"
  FROM (SELECT * FROM ({{template "totals" .}}) g WHERE "rated_count" > 0
        ORDER BY "average_review_rating" DESC, "rated_count" DESC, {{ident .Key}} LIMIT {{param .Top}}) g
{{end}}
{{define "by_both"}}
  {{- /* The ids in both top lists (the best_* tables): the first .Top by
         number of reviews (count_rank) that are also among the first .Top
         rated ids by average rating (rating_rank), ranked as by_count and
         by_rating rank them; the totals are read once (the CTE). */}}
  WITH g AS ({{template "totals" .}}),
  c AS (SELECT {{ident .Key}}, "review_count", "average_review_rating",
               ROW_NUMBER() OVER (ORDER BY "review_count" DESC, {{ident .Key}}) AS "count_rank"
        FROM (SELECT * FROM g ORDER BY "review_count" DESC, {{ident .Key}} LIMIT {{param .Top}}) gc),
  r AS (SELECT {{ident .Key}},
               ROW_NUMBER() OVER (ORDER BY "average_review_rating" DESC, "rated_count" DESC, {{ident .Key}}) AS "rating_rank"
        FROM (SELECT * FROM g WHERE "rated_count" > 0
              ORDER BY "average_review_rating" DESC, "rated_count" DESC, {{ident .Key}} LIMIT {{param .Top}}) gr)
  SELECT c.{{ident .Key}}, c."review_count", c."average_review_rating", c."count_rank", r."rating_rank"
  FROM c JOIN r ON r.{{ident .Key}} = c.{{ident .Key}}
{{end}}
{{define "dim_columns"}}{{range .DimColumns}}, d.{{ident .}}{{end}}{{end}}
