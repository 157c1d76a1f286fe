{{/* Fragments every backend's statements may use. */}}
{{- define "column_defs"}}
{{- range $i, $c := .Columns}}{{if $i}},{{end}}
  {{ident $c.Name}} {{$c.Type}}
{{- end}}
{{end}}
