CREATE TABLE IF NOT EXISTS {{ident (print "warehouse_" .Name)}} AS SELECT * FROM {{ident (print "staging_" .Name)}} LIMIT 0
