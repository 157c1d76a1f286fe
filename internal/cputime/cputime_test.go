package cputime

import "testing"

// TestProcessGrows: work done by this process shows in its CPU time.
func TestProcessGrows(t *testing.T) {
	before := Process()
	if before <= 0 {
		t.Fatalf("CPU time %v at the start of a test, want more than 0", before)
	}
	x := uint64(1)
	for round := 0; Process() <= before; round++ {
		if round == 10_000 { // some seconds of work
			t.Fatalf("CPU time still %v after %d rounds of work", Process(), round)
		}
		for i := 0; i < 1_000_000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	if x == 0 {
		t.Log(x) // keeps the work
	}
}
