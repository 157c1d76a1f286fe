SELECT "read_rows", "rejected", "superseded", "staged", "inserted", "updated", "stale"
FROM {{ident .Table}}
WHERE "batch_id" = $1 AND "entity" = $2
