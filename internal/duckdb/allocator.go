package duckdb

// ReleaseFreeMemory gives back to the system the pages DuckDB's allocator
// holds free, returning how many bytes those were and whether the
// allocator allows it (DuckDB's Linux builds, whose jemalloc keeps freed
// pages for a second before it returns them).
//
// DuckDB's memory_limit bounds the memory it uses, not the pages its
// allocator keeps: on the 11.4 GB batch the reviews' dedup under a 512MB
// limit had 430-510 MB allocated and 550-760 MB resident, the rest freed
// pages waiting for jemalloc's one-second decay (BENCHMARKS.md, "Round 7:
// peak RSS"). Releasing them costs page faults when DuckDB takes memory
// again, so it is for a process near its memory budget, not for every
// statement. It is safe at any time, from any goroutine, while queries
// run.
func ReleaseFreeMemory() (int64, bool) { return releaseFreeMemory() }
