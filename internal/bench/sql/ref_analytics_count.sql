-- Top 10 authors by number of reviews, with their names.
CREATE OR REPLACE TABLE "popular_authors_review_count" AS
SELECT r."author_id", count(*) AS "review_count", any_value(a."name") AS "name"
FROM "warehouse_reviews" r LEFT JOIN "warehouse_authors" a ON a."author_id" = r."author_id"
GROUP BY r."author_id" ORDER BY "review_count" DESC, r."author_id" LIMIT 10
