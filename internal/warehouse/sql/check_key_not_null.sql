SELECT count(*) FROM {{ident .Table}} WHERE {{ident .Key}} IS NULL
