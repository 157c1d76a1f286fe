DELETE FROM {{ident .Table}}
