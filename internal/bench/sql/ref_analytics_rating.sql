-- Top 10 books by average review rating, with their titles.
CREATE OR REPLACE TABLE "popular_books_average_rating" AS
SELECT r."book_id", avg(r."review_rating") AS "average_review_rating", count(*) AS "review_count", any_value(b."title") AS "title"
FROM "warehouse_reviews" r LEFT JOIN "warehouse_books" b ON b."book_id" = r."book_id"
WHERE r."review_rating" IS NOT NULL
GROUP BY r."book_id" ORDER BY "average_review_rating" DESC, "review_count" DESC, r."book_id" LIMIT 10
