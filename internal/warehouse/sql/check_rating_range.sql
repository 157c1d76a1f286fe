SELECT count(*) FROM {{ident .Table}} WHERE "review_rating" < 0 OR "review_rating" > 5
