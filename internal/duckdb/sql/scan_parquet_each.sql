{{/* The columns of local Parquet files, as EachParquetRow reads them: a
     column with .Micros set is read as its microseconds since 1970-01-01
     (epoch_us: a BIGINT instead of a timestamp the driver would turn into
     a time.Time). */ -}}
SELECT {{range $i, $c := .Columns}}{{if $i}}, {{end}}{{if $c.EpochMicros}}epoch_us({{ident $c.Name}}) AS {{ident $c.Name}}{{else}}{{ident $c.Name}}{{end}}{{end}}
FROM read_parquet({{paths .Files}})
