{{/* Fragments the transform's statements share. */ -}}

{{/* The read_csv options of the files the validation pass writes (clean
     rows, their keys, source keys): tab-separated, no quoting, every value
     as written; .MaxLine bounds a line and .Buffer is the reader's buffer. */ -}}
{{define "tsv_options"}}delim='\t', quote='', escape='', header=false, auto_detect=false, nullstr=''{{with .MaxLine}}, max_line_size={{int .}}{{end}}{{with $.Buffer}}, buffer_size={{int .}}{{end}}{{end}}

{{/* A read_csv column list: a struct literal of name: type, in order. */ -}}
{{define "csv_columns"}}{ {{- range $i, $c := .}}{{if $i}}, {{end}}{{str $c.Name}}: {{str $c.Type}}{{end}} }{{end}}

{{/* The source keys files .Files as rows, each with the name of the file
     it came from (its ordinal's high bits: an index in .Names). */ -}}
{{define "source_keys"}}(SELECT *, list_extract({{paths .Names}}, ("_ord" >> 40)::INTEGER + 1) AS "source_file" FROM read_csv({{paths .Files}}, {{template "tsv_options" .}}, columns={{template "csv_columns" .FileColumns}})){{end}}
