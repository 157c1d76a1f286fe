package main

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// TestWatchResident: the allocator's free pages are released at each
// reading above the level, never at or below it; the watch ends with its
// context, and at once when the allocator lets nothing go.
func TestWatchResident(t *testing.T) {
	readings := []int64{100, 701, 700, 900, 50, 800}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	i := 0
	resident := func() (int64, bool) {
		if i == 0 { // the first call checks that it can be read
			i++
			return 0, true
		}
		n := readings[i-1]
		if i++; i > len(readings) {
			cancel()
		}
		return n, true
	}
	var released []int64
	release := func() (int64, bool) {
		released = append(released, readings[i-2])
		return 1, true
	}
	done := make(chan struct{})
	go func() { watchResident(ctx, time.Millisecond, 700, resident, release); close(done) }()
	<-done
	if want := []int64{701, 900, 800}; len(released) != len(want) || released[0] != want[0] || released[1] != want[1] || released[2] != want[2] {
		t.Fatalf("released at %v, want at %v", released, want)
	}

	// An allocator that releases nothing ends the watch at the first try.
	calls := 0
	watchResident(context.Background(), time.Millisecond, 0, func() (int64, bool) { return 1, true }, func() (int64, bool) { calls++; return 0, false })
	if calls != 1 {
		t.Fatalf("release called %d times by a watch whose allocator lets nothing go, want 1", calls)
	}
	// No resident memory to read: no watch.
	watchResident(context.Background(), time.Millisecond, 0, func() (int64, bool) { return 0, false }, func() (int64, bool) { t.Fatal("released"); return 0, false })
}

func TestResidentBytes(t *testing.T) {
	n, ok := residentBytes()
	if runtime.GOOS != "linux" {
		return
	}
	if !ok || n < 1<<20 {
		t.Fatalf("residentBytes = %d, %v on Linux", n, ok)
	}
}
