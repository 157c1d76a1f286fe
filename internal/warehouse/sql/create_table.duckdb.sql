{{/* DuckDB stores text columns with zstd: its own choice for them (FSST or
     a dictionary, after analysing every segment) spent about half the CPU
     of a fresh insert and made a file 2.2 times larger (6 M reviews:
     13.8-14.2 against 9.1-9.7 CPU-s, 640 against 289 MB; BENCHMARKS.md,
     issue 14, "Round 7: the upsert"). zstd strings need a file of storage
     version v1.2.0 or later (duckdb.OpenWarehouse creates them so); in an
     older file DuckDB stores such a column uncompressed. */ -}}
CREATE TABLE IF NOT EXISTS {{ident .Table}} (
{{- range $i, $c := .Columns}}{{if $i}},{{end}}
  {{ident $c.Name}} {{$c.Type}}{{if eq $c.Type "VARCHAR"}} USING COMPRESSION zstd{{end}}
{{- end}}
)
