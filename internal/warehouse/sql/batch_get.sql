SELECT read_rows, rejected, superseded, staged, inserted, updated, stale
FROM goodreads_quality.loaded_batches
WHERE batch_id = $1 AND entity = $2
