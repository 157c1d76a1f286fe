SELECT count(*) FROM (SELECT {{ident .Key}} FROM {{ident .Table}} GROUP BY {{ident .Key}} HAVING count(*) > 1) d
