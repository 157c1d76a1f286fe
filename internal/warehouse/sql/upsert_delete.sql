-- Remove the stored rows that a staged row replaces: same id, and the staged
-- version is as new or newer. An older staged row never replaces a newer one.
DELETE FROM {{ident .Target}}
USING {{ident .Staging}} s
WHERE {{ident .Target}}.{{ident .Key}} = s.{{ident .Key}}
  AND s.{{ident .Timestamp}} >= {{ident .Target}}.{{ident .Timestamp}}
{{- if .Keys}}
  AND NOT EXISTS ({{template "source_keys_collided.sql" .}})
{{- end}}
