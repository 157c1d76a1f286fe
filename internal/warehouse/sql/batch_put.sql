INSERT INTO {{ident .Table}}
  ("batch_id", "entity", "read_rows", "rejected", "superseded", "staged", "inserted", "updated", "stale", "loaded_at")
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
