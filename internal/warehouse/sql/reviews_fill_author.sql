-- A review that arrived without its author (a UCSD review: the dump names
-- only the book) takes its book's first author once the book is stored.
UPDATE "goodreads_warehouse"."reviews"
SET "author_id" = "b"."authors"
FROM "goodreads_warehouse"."books" "b"
WHERE "goodreads_warehouse"."reviews"."author_id" IS NULL
  AND "b"."book_id" = "goodreads_warehouse"."reviews"."book_id"
  AND "b"."authors" IS NOT NULL
