//go:build !linux || !cgo

package duckdb

// releaseFreeMemory does nothing: DuckDB allocates through the system's
// allocator here (jemalloc is in its Linux builds only).
func releaseFreeMemory() (int64, bool) { return 0, false }

func allocatorFree() (int64, bool) { return 0, false }
