{{/* Per (entity, id) with more than one key, the key that came first. */ -}}
CREATE OR REPLACE TEMP TABLE "_sk_taken" AS SELECT "entity", "id", arg_min("source_key", "_ord") AS "winner"
  FROM "_sk_first" GROUP BY "entity", "id" HAVING count(*) > 1
