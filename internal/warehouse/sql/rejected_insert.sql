INSERT INTO goodreads_quality.rejected_rows (run_id, entity, source_file, line, column_name, reason, raw)
SELECT CAST($1 AS VARCHAR), CAST($2 AS VARCHAR), source_file, line, column_name, reason, raw
FROM goodreads_staging.rejected_rows
