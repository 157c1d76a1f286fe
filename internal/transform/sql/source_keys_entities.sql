SELECT DISTINCT "entity" FROM "_sk_first" ORDER BY "entity"
