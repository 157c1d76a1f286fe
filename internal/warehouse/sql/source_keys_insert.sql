-- Keep the key of every derived id of entity $1 not stored yet. A key always
-- gives the same id, so (entity, source, source_key) and (entity, id) both
-- stay unique: an id already stored (the same key landed again, or a
-- collision, quarantined) is skipped.
INSERT INTO "goodreads_warehouse"."source_keys" ("entity", "source", "source_key", "id")
SELECT "k"."entity", "k"."source", "k"."source_key", "k"."id"
FROM "goodreads_staging"."source_keys" "k"
WHERE "k"."entity" = CAST($1 AS VARCHAR) AND NOT EXISTS (
  SELECT 1 FROM "goodreads_warehouse"."source_keys" "w"
  WHERE "w"."entity" = "k"."entity" AND "w"."id" = "k"."id"
)
