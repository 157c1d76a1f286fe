{{/* Every row of a key that lost its id to a key that came first, in the order read. */ -}}
SELECT k."entity", k."source", k."source_key", w."winner", k."source_file", k."id", k."line", k."_ord"
FROM {{template "source_keys" .}} k JOIN "_sk_taken" w ON w."entity" = k."entity" AND w."id" = k."id" AND w."winner" <> k."source_key"
ORDER BY k."_ord"
