-- The reviews of the window [$1, $2) per day of their record_create_timestamp (UTC).
SELECT CAST("record_create_timestamp" AS DATE) AS "day", count(*) AS "reviews"
FROM "goodreads_warehouse"."reviews"
WHERE "record_create_timestamp" >= $1 AND "record_create_timestamp" < $2
GROUP BY CAST("record_create_timestamp" AS DATE)
ORDER BY "day"
