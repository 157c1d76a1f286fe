DELETE FROM goodreads_analytics.{{.Table}}
