{{/* The columns of local Parquet files handed to EachParquetChunk's
     function, a chunk at a time (grpipe_rows is volatile: called for every
     row; it returns NULL), then each row's file and its row number in the
     file (0 first). A column with .EpochMicros set is read as its
     microseconds since 1970-01-01 (epoch_us: a BIGINT). */ -}}
SELECT count(grpipe_rows({{range $c := .Columns}}{{if $c.EpochMicros}}epoch_us({{ident $c.Name}}){{else}}{{ident $c.Name}}{{end}}, {{end}}"filename", "file_row_number"))
FROM read_parquet({{paths .Files}}, filename = true, file_row_number = true)
