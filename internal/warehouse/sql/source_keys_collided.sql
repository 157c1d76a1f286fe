{{- /* Used inside upsert_delete and upsert_insert: the staged row s of
     entity $1 has a derived id whose key collides with a stored key. */ -}}
SELECT 1 FROM "goodreads_staging"."source_keys" "k"
  JOIN "goodreads_warehouse"."source_keys" "w"
    ON "w"."entity" = "k"."entity" AND "w"."id" = "k"."id" AND "w"."source_key" <> "k"."source_key"
  WHERE "k"."entity" = CAST($1 AS VARCHAR) AND "k"."id" = s.{{ident .Key}}
