CREATE TABLE IF NOT EXISTS {{ident .Warehouse}} AS SELECT * FROM {{ident .Staging}} LIMIT 0
