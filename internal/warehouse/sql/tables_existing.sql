-- Every table and view, schema-qualified (the explorer shows those of its list that exist).
SELECT "table_schema", "table_name" FROM "information_schema"."tables"
