{{/* An empty staging table: a batch without rows of the entity. */ -}}
CREATE TABLE {{ident .Table}} ({{template "column_defs" .}})
