SELECT count(*) FROM {{ident .Table}}
