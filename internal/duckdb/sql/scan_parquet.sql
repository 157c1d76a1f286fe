SELECT {{idents .Columns}} FROM read_parquet({{paths .Files}})
