-- Staged source keys of entity $1 whose id the warehouse already holds under
-- another key: collisions of derived ids, quarantined instead of loaded.
SELECT count(*) FROM "goodreads_staging"."source_keys" "k"
WHERE "k"."entity" = CAST($1 AS VARCHAR) AND EXISTS (
  SELECT 1 FROM "goodreads_warehouse"."source_keys" "w"
  WHERE "w"."entity" = "k"."entity" AND "w"."id" = "k"."id" AND "w"."source_key" <> "k"."source_key"
)
