DELETE FROM warehouse_{{.Name}} USING staging_{{.Name}} s
WHERE warehouse_{{.Name}}.{{.Key}} = s.{{.Key}} AND s.record_create_timestamp >= warehouse_{{.Name}}.record_create_timestamp
