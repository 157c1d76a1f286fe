-- Insert every staged row whose id is not (or no longer) stored.
INSERT INTO {{ident .Target}} ({{idents .Columns}})
SELECT {{idents .Columns}}
FROM {{ident .Staging}} s
WHERE NOT EXISTS (
  SELECT 1 FROM {{ident .Target}} w WHERE w.{{ident .Key}} = s.{{ident .Key}}
)
{{- if .Keys}}
  AND NOT EXISTS ({{template "source_keys_collided.sql" .}})
{{- end}}
