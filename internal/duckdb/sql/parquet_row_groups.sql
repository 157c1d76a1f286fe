{{/* The row groups of one local Parquet file (.Files holds it), in order:
     each one's number of rows. */ -}}
SELECT "row_group_id", any_value("row_group_num_rows")
FROM parquet_metadata({{paths .Files}})
GROUP BY "row_group_id"
ORDER BY "row_group_id"
