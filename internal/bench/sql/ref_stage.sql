CREATE OR REPLACE TABLE {{ident (print "staging_" .Name)}} AS SELECT * FROM read_parquet({{str .Parquet}})
