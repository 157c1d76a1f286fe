-- Source keys stored more than once, or ids stored under more than one key.
SELECT (SELECT count(*) FROM (SELECT "entity", "source", "source_key" FROM "goodreads_warehouse"."source_keys"
          GROUP BY "entity", "source", "source_key" HAVING count(*) > 1) "a")
     + (SELECT count(*) FROM (SELECT "entity", "id" FROM "goodreads_warehouse"."source_keys"
          GROUP BY "entity", "id" HAVING count(*) > 1) "b")
