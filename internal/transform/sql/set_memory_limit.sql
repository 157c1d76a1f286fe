{{/* Sets the engine's memory_limit to . (a DuckDB amount: 512MB, 953.6 MiB). */ -}}
SET GLOBAL memory_limit = {{str .}}
