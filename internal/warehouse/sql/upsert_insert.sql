-- Insert every staged row whose id is not (or no longer) stored.
INSERT INTO goodreads_warehouse.{{.Name}} ({{.ColumnList}})
SELECT {{.ColumnList}}
FROM goodreads_staging.{{.Name}} s
WHERE NOT EXISTS (
  SELECT 1 FROM goodreads_warehouse.{{.Name}} w WHERE w.{{.Key}} = s.{{.Key}}
)
{{- if .Keys}}
  AND NOT EXISTS ({{template "source_keys_collided.sql" .}})
{{- end}}
