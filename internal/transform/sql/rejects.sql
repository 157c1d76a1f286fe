{{/* The quarantine CSV files .Files gathered into one Parquet file .Out with
     the same columns, given by position (the header is skipped, whatever it
     names them). */ -}}
COPY (
  SELECT {{idents .Columns}}
  FROM read_csv({{paths .Files}}, header=true, auto_detect=false, delim=',', quote='"', escape='"', strict_mode=false, max_line_size={{int .MaxLine}}, buffer_size={{int .Buffer}},
    columns={{template "csv_columns" .FileColumns}})
) TO {{str .Out}} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE_BYTES {{str .RowGroupBytes}})
