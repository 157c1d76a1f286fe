-- Remove the stored rows that a staged row replaces: same id, and the staged
-- version is as new or newer. An older staged row never replaces a newer one.
DELETE FROM goodreads_warehouse.{{.Name}}
USING goodreads_staging.{{.Name}} s
WHERE goodreads_warehouse.{{.Name}}.{{.Key}} = s.{{.Key}}
  AND s.record_create_timestamp >= goodreads_warehouse.{{.Name}}.record_create_timestamp
{{- if .Keys}}
  AND NOT EXISTS ({{template "source_keys_collided.sql" .}})
{{- end}}
