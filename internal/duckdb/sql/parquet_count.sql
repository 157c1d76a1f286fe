SELECT count(*) FROM read_parquet({{paths .Files}})
