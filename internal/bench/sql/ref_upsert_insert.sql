{{- $w := ident (print "warehouse_" .Name)}}{{$s := ident (print "staging_" .Name) -}}
INSERT INTO {{$w}} SELECT * FROM {{$s}} s
WHERE NOT EXISTS (SELECT 1 FROM {{$w}} w WHERE w.{{ident .Key}} = s.{{ident .Key}})
