-- 1 when the target table holds no row (the upsert then only inserts), else 0.
SELECT 1 - count(*) FROM (SELECT 1 FROM {{ident .Target}} LIMIT 1) t
