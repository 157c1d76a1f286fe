INSERT INTO {{ident .Table}} ({{idents .Columns}})
SELECT {{idents .Columns}} FROM read_parquet({{paths .Files}})
