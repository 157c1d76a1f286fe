-- The totals tables no longer hold the stored reviews{{if .Subject}} (of subject $1){{end}}.
DELETE FROM {{ident .Table}}{{if .Subject}} WHERE "subject" = CAST($1 AS VARCHAR){{end}}
