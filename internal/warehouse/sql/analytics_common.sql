{{/* Shared parts of the analytics queries. $1 and $2 bound the window of
     reviews by record_create_timestamp: [$1, $2); $3 is how many a ranking
     keeps. */}}
{{define "by_count"}}
  SELECT {{ident .Key}}, "review_count", ROW_NUMBER() OVER (ORDER BY "review_count" DESC, {{ident .Key}}) AS "rank"
  FROM (
    SELECT {{ident .Key}}, count(*) AS "review_count"
    FROM {{ident .Reviews}}
    WHERE "record_create_timestamp" >= $1 AND "record_create_timestamp" < $2 AND {{ident .Key}} IS NOT NULL
    GROUP BY {{ident .Key}}
  ) g
{{end}}
{{define "by_rating"}}
  SELECT {{ident .Key}}, "average_review_rating", "review_count",
         ROW_NUMBER() OVER (ORDER BY "average_review_rating" DESC, "review_count" DESC, {{ident .Key}}) AS "rank"
  FROM (
    SELECT {{ident .Key}}, avg("review_rating") AS "average_review_rating", count(*) AS "review_count"
    FROM {{ident .Reviews}}
    WHERE "record_create_timestamp" >= $1 AND "record_create_timestamp" < $2 AND {{ident .Key}} IS NOT NULL
      AND "review_rating" IS NOT NULL
    GROUP BY {{ident .Key}}
  ) g
{{end}}
{{define "by_both"}}
  {{- /* Both rankings from one scan of the reviews (the best_* tables): the
         count ranks every id; the average ranks the ids with a rated review
         (rating_rank is NULL for the others), over their rated reviews (avg
         skips NULL), as by_count and by_rating do. */}}
  SELECT {{ident .Key}}, "review_count", "average_review_rating",
         ROW_NUMBER() OVER (ORDER BY "review_count" DESC, {{ident .Key}}) AS "count_rank",
         CASE WHEN "rated_count" > 0 THEN
           ROW_NUMBER() OVER (PARTITION BY "rated_count" > 0 ORDER BY "average_review_rating" DESC, "rated_count" DESC, {{ident .Key}})
         END AS "rating_rank"
  FROM (
    SELECT {{ident .Key}}, count(*) AS "review_count", avg("review_rating") AS "average_review_rating", count("review_rating") AS "rated_count"
    FROM {{ident .Reviews}}
    WHERE "record_create_timestamp" >= $1 AND "record_create_timestamp" < $2 AND {{ident .Key}} IS NOT NULL
    GROUP BY {{ident .Key}}
  ) g
{{end}}
{{define "dim_columns"}}{{range .DimColumns}}, d.{{ident .}}{{end}}{{end}}
