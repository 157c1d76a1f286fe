{{/* Whether the relation $1.$2 is a view, a table, or absent (no row). */ -}}
SELECT 'VIEW' FROM duckdb_views() WHERE "schema_name" = $1 AND "view_name" = $2
UNION ALL
SELECT 'TABLE' FROM duckdb_tables() WHERE "schema_name" = $1 AND "table_name" = $2
