SELECT count(*) FROM {{.Table}} WHERE {{.Key}} IS NULL
