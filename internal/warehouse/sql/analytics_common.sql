{{/* Shared parts of the analytics queries. $1 and $2 bound the window of
     reviews by record_create_timestamp: [$1, $2). */}}
{{define "by_count"}}
  SELECT {{.Key}}, review_count, ROW_NUMBER() OVER (ORDER BY review_count DESC, {{.Key}}) AS rank
  FROM (
    SELECT {{.Key}}, count(*) AS review_count
    FROM goodreads_warehouse.reviews
    WHERE record_create_timestamp >= $1 AND record_create_timestamp < $2 AND {{.Key}} IS NOT NULL
    GROUP BY {{.Key}}
  ) g
{{end}}
{{define "by_rating"}}
  SELECT {{.Key}}, average_review_rating, review_count,
         ROW_NUMBER() OVER (ORDER BY average_review_rating DESC, review_count DESC, {{.Key}}) AS rank
  FROM (
    SELECT {{.Key}}, avg(review_rating) AS average_review_rating, count(*) AS review_count
    FROM goodreads_warehouse.reviews
    WHERE record_create_timestamp >= $1 AND record_create_timestamp < $2 AND {{.Key}} IS NOT NULL
      AND review_rating IS NOT NULL
    GROUP BY {{.Key}}
  ) g
{{end}}
{{define "dim_columns"}}{{range .DimColumns}}, d.{{.}}{{end}}{{end}}
