SELECT count(*) FROM (SELECT {{.Key}} FROM {{.Table}} GROUP BY {{.Key}} HAVING count(*) > 1) d
