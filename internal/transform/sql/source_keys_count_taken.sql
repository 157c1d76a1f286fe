SELECT count(*) FROM "_sk_taken"
