//go:build linux && cgo

package duckdb

/*
#include <stddef.h>
#include <stdint.h>

// DuckDB's Linux builds allocate through a jemalloc of their own, with its
// symbols prefixed duckdb_je_. Weak: a DuckDB linked without it (another
// build of the library) leaves it NULL, and nothing is released.
#pragma weak duckdb_je_mallctl
extern int duckdb_je_mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);

static int grpipe_je_present(void) { return &duckdb_je_mallctl != NULL; }

// grpipe_je_free returns the bytes of pages the allocator holds resident
// beyond its active ones (free pages not yet given back), -1 on error.
static int64_t grpipe_je_free(void) {
	uint64_t epoch = 1;
	size_t n = sizeof(epoch);
	if (duckdb_je_mallctl("epoch", &epoch, &n, &epoch, n) != 0) return -1;
	size_t resident = 0, active = 0;
	n = sizeof(size_t);
	if (duckdb_je_mallctl("stats.resident", &resident, &n, NULL, 0) != 0) return -1;
	n = sizeof(size_t);
	if (duckdb_je_mallctl("stats.active", &active, &n, NULL, 0) != 0) return -1;
	return resident > active ? (int64_t)(resident - active) : 0;
}

// grpipe_je_purge gives every arena's unused dirty pages back to the system
// (4096 is jemalloc's MALLCTL_ARENAS_ALL).
static int grpipe_je_purge(void) { return duckdb_je_mallctl("arena.4096.purge", NULL, NULL, NULL, 0); }
*/
import "C"

// releaseFreeMemory purges DuckDB's jemalloc arenas; see ReleaseFreeMemory.
func releaseFreeMemory() (int64, bool) {
	if C.grpipe_je_present() == 0 {
		return 0, false
	}
	held := int64(C.grpipe_je_free())
	if C.grpipe_je_purge() != 0 {
		return 0, false
	}
	return max(held, 0), true
}

// allocatorFree reports the bytes DuckDB's allocator holds resident in free
// pages (tests).
func allocatorFree() (int64, bool) {
	if C.grpipe_je_present() == 0 {
		return 0, false
	}
	n := int64(C.grpipe_je_free())
	return n, n >= 0
}
