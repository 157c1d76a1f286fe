SELECT * FROM goodreads_analytics.{{.Table}} ORDER BY {{.Order}} LIMIT {{.Limit}}
