{{- $w := ident (print "warehouse_" .Name)}}{{$s := ident (print "staging_" .Name) -}}
DELETE FROM {{$w}} USING {{$s}} s
WHERE {{$w}}.{{ident .Key}} = s.{{ident .Key}} AND s.record_create_timestamp >= {{$w}}.record_create_timestamp
