{{/* The rows [$1, $2) of one local Parquet file (.Files holds it), as
     EachParquetRow reads them: a column with .EpochMicros set is read as
     its microseconds since 1970-01-01 (epoch_us: a BIGINT instead of a
     timestamp the driver would turn into a time.Time). DuckDB reads only
     the row groups the range touches. */ -}}
SELECT {{range $i, $c := .Columns}}{{if $i}}, {{end}}{{if $c.EpochMicros}}epoch_us({{ident $c.Name}}) AS {{ident $c.Name}}{{else}}{{ident $c.Name}}{{end}}{{end}}
FROM read_parquet({{paths .Files}}, file_row_number = true)
WHERE "file_row_number" >= $1 AND "file_row_number" < $2
