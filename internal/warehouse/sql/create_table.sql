CREATE TABLE IF NOT EXISTS {{ident .Table}} ({{template "column_defs" .}})
