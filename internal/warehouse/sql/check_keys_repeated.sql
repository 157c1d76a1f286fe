-- The key values stored more than once (NULL counts as one value, as GROUP
-- BY groups it): the exact count when check_keys.sql found a repeat but
-- counts it otherwise (check_keys.postgres.sql).
SELECT count(*) FROM (SELECT {{ident .Key}} FROM {{ident .Table}} GROUP BY {{ident .Key}} HAVING count(*) > 1) "g"
