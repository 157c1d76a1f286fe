package main

import (
	"context"
	"os"
	"strconv"
	"strings"
	"time"
)

// releaseAbove is the resident memory above which the process gives the
// pages DuckDB's allocator holds free back to the system (README,
// "Memory"). DuckDB's jemalloc keeps freed pages for about a second: on
// the 11.4 GB batch its dedup, under a 512MB memory_limit, held 150-320
// MB of them beside 430-510 MB in use, at the batch's peak (BENCHMARKS.md,
// "Round 7: peak RSS"). Below this level the pages stay, for DuckDB to
// reuse without page faults: at 700 MiB the batch peaked at 732-747 MiB
// but took 2.3 CPU-s more (the pages faulted in again), at 800 MiB at
// 807-850 MiB for no more CPU than without.
const releaseAbove = 800 << 20

// releaseEvery is how often the process's resident memory is read.
const releaseEvery = 100 * time.Millisecond

// watchResident reads the process's resident memory every `every` until
// ctx ends and calls release whenever it is above `above`. It returns at
// once when resident cannot be read (a system without /proc) or release
// reports that the allocator lets nothing go.
func watchResident(ctx context.Context, every time.Duration, above int64, resident func() (int64, bool), release func() (int64, bool)) {
	if _, ok := resident(); !ok {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, ok := resident()
		if !ok {
			return
		}
		if n <= above {
			continue
		}
		if _, ok := release(); !ok {
			return
		}
	}
}

// residentBytes reads the process's resident memory from /proc/self/statm
// (Linux).
func residentBytes() (int64, bool) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, false
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0, false
	}
	return pages * int64(os.Getpagesize()), true
}
