-- An analytics table in rank order ({{.Table}} and the columns quoted by the caller).
SELECT {{range $i, $c := .Columns}}{{if $i}}, {{end}}{{$c}}{{end}}
FROM {{.Table}}
ORDER BY {{.Order}}
