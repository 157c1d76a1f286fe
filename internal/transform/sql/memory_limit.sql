{{/* The engine's memory_limit, as DuckDB reports it (e.g. 953.6 MiB). */ -}}
SELECT current_setting('memory_limit')
