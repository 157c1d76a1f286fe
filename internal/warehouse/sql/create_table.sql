CREATE TABLE IF NOT EXISTS {{.Table}} (
{{- range $i, $c := .Columns}}{{if $i}},{{end}}
  {{$c.Name}} {{$c.Type}}
{{- end}}
)
