SELECT count(*) FROM goodreads_warehouse.reviews WHERE review_rating < 0 OR review_rating > 5
