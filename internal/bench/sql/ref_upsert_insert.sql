INSERT INTO warehouse_{{.Name}} SELECT * FROM staging_{{.Name}} s
WHERE NOT EXISTS (SELECT 1 FROM warehouse_{{.Name}} w WHERE w.{{.Key}} = s.{{.Key}})
