INSERT INTO {{ident .Warehouse}} SELECT * FROM {{ident .Staging}} s
WHERE NOT EXISTS (SELECT 1 FROM {{ident .Warehouse}} w WHERE w.{{ident .Key}} = s.{{ident .Key}})
