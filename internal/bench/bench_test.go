package bench

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/grpipe/grpipe/internal/fake"
)

// TestRun runs a small benchmark with the reference and checks that every
// stage was measured, the ledger balances, and a kept batch is reused.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	opts := Options{Fake: fake.Options{Records: 3000, Seed: 5}, Dir: filepath.Join(dir, "scratch"), DataDir: data, KeepData: true, Reference: true}
	res, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Generated || res.State != "success" || res.InputRows != 12000 || res.InputBytes <= 0 {
		t.Fatalf("result: %+v", res)
	}
	want := []string{"claim", "transform", "stage", "upsert", "quality", "analytics"}
	if len(res.Stages) != len(want) {
		t.Fatalf("stages: %+v", res.Stages)
	}
	for i, s := range res.Stages {
		if s.Stage != want[i] || s.Seconds < 0 || s.PeakRSS <= 0 {
			t.Errorf("stage %d: %+v, want %s with a time and a peak RSS", i, s, want[i])
		}
	}
	for name, l := range res.Tables {
		if !l.Balanced() || l.Read != 3000 {
			t.Errorf("%s: ledger %+v", name, l)
		}
	}
	if res.RunSeconds <= 0 || res.PeakRSS <= 0 || res.SeedBatchRunSeconds <= res.RunSeconds {
		t.Errorf("run: %.2fs, peak %d, extrapolated %.0fs", res.RunSeconds, res.PeakRSS, res.SeedBatchRunSeconds)
	}
	if res.Reference == nil || res.Reference.Seconds <= 0 || res.Reference.Ratio <= 0 || len(res.Reference.Steps) != 4 {
		t.Fatalf("reference: %+v", res.Reference)
	}
	// The reference keeps every row tied on the latest timestamp, so at
	// least the rows the pipeline staged, and at most the rows read.
	var staged int64
	for _, l := range res.Tables {
		staged += l.Staged
	}
	if got := res.Reference.Steps[0].Rows; got < staged || got > int64(res.InputRows) {
		t.Errorf("reference transform: %d rows, want between %d staged by the run and %d read", got, staged, res.InputRows)
	}
	if _, err := os.Stat(filepath.Join(dir, "scratch", "home")); !os.IsNotExist(err) {
		t.Errorf("the run's home was not removed: %v", err)
	}

	// The kept batch is reused, not generated again.
	opts.Reference = false
	res, err = Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Generated || res.State != "success" {
		t.Fatalf("second run: generated %v, state %s", res.Generated, res.State)
	}
	if _, err := os.Stat(filepath.Join(data, "reviews.csv")); err != nil {
		t.Fatalf("kept batch: %v", err)
	}
}

// TestRunProfile checks that --profile writes non-empty CPU and heap profiles.
func TestRunProfile(t *testing.T) {
	dir := t.TempDir()
	prof := filepath.Join(dir, "prof")
	opts := Options{Fake: fake.Options{Records: 2000, Seed: 3}, Dir: filepath.Join(dir, "scratch"), ProfileDir: prof}
	if _, err := Run(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"cpu.pprof", "heap.pprof"} {
		st, err := os.Stat(filepath.Join(prof, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() == 0 {
			t.Errorf("%s is empty", name)
		}
	}
}
