-- The reviews of the window [$1, $2) by rating, a rating counted under its
-- whole part (0 to 5); reviews without a rating are left out.
SELECT CAST(floor("review_rating") AS INTEGER) AS "rating", count(*) AS "reviews"
FROM "goodreads_warehouse"."reviews"
WHERE "record_create_timestamp" >= $1 AND "record_create_timestamp" < $2 AND "review_rating" IS NOT NULL
GROUP BY CAST(floor("review_rating") AS INTEGER)
ORDER BY "rating"
