DELETE FROM goodreads_quality.rejected_rows WHERE run_id = $1 AND entity = $2
