-- The reviews of the window [$1, $2) per day of their record_create_timestamp
-- (UTC) and rating (its whole part, 0 to 5; NULL for a review without one):
-- one scan of the reviews gives both of the dashboard's distributions.
SELECT CAST("record_create_timestamp" AS DATE) AS "day",
       CAST(floor("review_rating") AS INTEGER) AS "rating",
       count(*) AS "reviews"
FROM "goodreads_warehouse"."reviews"
WHERE "record_create_timestamp" >= $1 AND "record_create_timestamp" < $2
GROUP BY CAST("record_create_timestamp" AS DATE), CAST(floor("review_rating") AS INTEGER)
