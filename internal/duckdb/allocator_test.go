package duckdb

import (
	"context"
	"runtime"
	"testing"
)

// TestReleaseFreeMemory: after a query that allocates and frees a few
// hundred MB, the pages DuckDB's allocator kept are given back, and it
// holds (next to) none free afterwards. Only DuckDB's Linux builds
// allocate through jemalloc; elsewhere there is nothing to release.
func TestReleaseFreeMemory(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int64
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT range % 3000000 AS k, max(range) FROM range(6000000) GROUP BY k)`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 3000000 {
		t.Fatalf("groups = %d, want 3000000", n)
	}
	before, _ := allocatorFree()
	released, ok := ReleaseFreeMemory()
	if want := runtime.GOOS == "linux"; ok != want {
		t.Fatalf("ReleaseFreeMemory ok = %v on %s, want %v", ok, runtime.GOOS, want)
	}
	if !ok {
		return
	}
	t.Logf("free before the purge %d MiB, released %d MiB", before>>20, released>>20)
	free, ok := allocatorFree()
	if !ok {
		t.Fatal("allocator statistics unavailable after a purge")
	}
	// What a purge leaves: jemalloc's partly used slabs, a few MB at most.
	if free > 16<<20 {
		t.Fatalf("the allocator still holds %d free bytes after the purge", free)
	}
}
