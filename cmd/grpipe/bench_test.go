package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grpipe/grpipe/internal/bench"
)

// TestBenchCompare runs a small bench, records it as the baseline the way
// BENCHMARKS.md holds it, compares a second run with it (no regression), then
// with a baseline of other ledgers (a regression: exit 1), and checks the
// profiles of --profile.
func TestBenchCompare(t *testing.T) {
	dir := t.TempDir()
	data, prof := filepath.Join(dir, "data"), filepath.Join(dir, "prof")
	r := grpipeCmd(t, nil, "bench", "--records", "2000", "--data", data, "--json", "--profile", prof)
	if r.code != exitOK {
		t.Fatalf("bench: exit %d: %s", r.code, r.stderr)
	}
	for _, name := range []string{"cpu.pprof", "heap.pprof"} {
		if st, err := os.Stat(filepath.Join(prof, name)); err != nil || st.Size() == 0 {
			t.Fatalf("profile %s: %v", name, err)
		}
	}
	var res bench.Result
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatal(err)
	}
	res.PeakRSS *= 2 // room for the second run's memory
	write := func(res bench.Result) string {
		b, _ := json.Marshal(res)
		p := filepath.Join(dir, "BENCHMARKS.md")
		if err := os.WriteFile(p, []byte("# Benchmarks\n\n"+bench.BaselineFence+"\n"+string(b)+"\n```\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	r = grpipeCmd(t, nil, "bench", "--records", "2000", "--data", data, "--compare", write(res))
	if r.code != exitOK || !strings.Contains(r.stderr, "no regression") {
		t.Fatalf("compare with itself: exit %d:\n%s", r.code, r.stderr)
	}
	l := res.Tables["reviews"]
	l.Staged++
	res.Tables["reviews"] = l
	r = grpipeCmd(t, nil, "bench", "--records", "2000", "--data", data, "--compare", write(res))
	if r.code != exitFailed || !strings.Contains(r.stderr, "REGRESSED") || !strings.Contains(r.stderr, "✗ ledger reviews") {
		t.Fatalf("compare with other ledgers: exit %d:\n%s", r.code, r.stderr)
	}
}
