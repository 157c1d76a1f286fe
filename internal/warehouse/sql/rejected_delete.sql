DELETE FROM {{ident .Target}} WHERE "run_id" = $1 AND "entity" = $2
