-- Before review_totals_insert.sql, in its transaction: PostgreSQL groups the
-- reviews by sorting them rather than in a hash table. With a hundred
-- thousand ids or more the hash table's groups (an average's state each) fall
-- out of the cache: sorting took 0.49-0.73 s against 0.84-0.99 s for a million
-- reviews (BENCHMARKS.md, "Round 8: PostgreSQL against DuckDB").
SET LOCAL enable_hashagg = off
