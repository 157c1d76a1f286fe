{{/* A staging table: scratch, recreated for every batch. */ -}}
{{template "create_table.sql" .}}
