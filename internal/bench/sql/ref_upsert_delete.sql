DELETE FROM {{ident .Warehouse}} USING {{ident .Staging}} s
WHERE {{ident .Warehouse}}.{{ident .Key}} = s.{{ident .Key}} AND s."record_create_timestamp" >= {{ident .Warehouse}}."record_create_timestamp"
