-- Insert every staged row whose id is not (or no longer) stored. Into an
-- empty table (Fresh) every staged row goes: no probe of the table.
INSERT INTO {{ident .Target}} ({{idents .Columns}})
SELECT {{idents .Columns}}
FROM {{ident .Staging}} s
{{- if not .Fresh}}
WHERE NOT EXISTS (
  SELECT 1 FROM {{ident .Target}} w WHERE w.{{ident .Key}} = s.{{ident .Key}}
)
{{- if .Keys}}
  AND NOT EXISTS ({{template "source_keys_collided.sql" .}})
{{- end}}
{{- else if .Keys}}
WHERE NOT EXISTS ({{template "source_keys_collided.sql" .}})
{{- end}}
