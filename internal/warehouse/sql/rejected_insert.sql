INSERT INTO {{ident .Target}} ("run_id", "entity", {{idents .Columns}})
SELECT CAST($1 AS VARCHAR), CAST($2 AS VARCHAR), {{idents .Columns}}
FROM {{ident .Staging}}
