{{/* PostgreSQL: staging tables are scratch, recreated for every batch, so
     they skip the write-ahead log (UNLOGGED): COPY and the upsert's reads are
     faster, and a crash only empties them. */ -}}
CREATE UNLOGGED TABLE IF NOT EXISTS {{ident .Table}} ({{template "column_defs" .}})
