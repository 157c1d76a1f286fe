{{/* The first $1 rows of an analytics table, in rank order. */ -}}
SELECT * FROM {{ident .Table}} ORDER BY {{ident .Order}} LIMIT $1
