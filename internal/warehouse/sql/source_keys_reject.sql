-- Record the rows of entity $2 whose derived id collides with a stored key as
-- rejected rows of run $1 (the values in the order of the rejected-row
-- columns: source_file, line, column_name, reason, raw).
INSERT INTO {{ident .Target}} ("run_id", "entity", {{idents .Columns}})
SELECT CAST($1 AS VARCHAR), CAST($2 AS VARCHAR), "k"."source_file", "k"."line", CAST($3 AS VARCHAR),
  CONCAT("k"."source", ' key ', "k"."source_key", ' maps to id ', CAST("k"."id" AS VARCHAR), ', already taken by key ', "w"."source_key", ' (a collision of the derived id)'),
  "k"."source_key"
FROM "goodreads_staging"."source_keys" "k"
JOIN "goodreads_warehouse"."source_keys" "w"
  ON "w"."entity" = "k"."entity" AND "w"."id" = "k"."id" AND "w"."source_key" <> "k"."source_key"
WHERE "k"."entity" = CAST($2 AS VARCHAR)
