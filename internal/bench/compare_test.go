package bench

import (
	"os"
	"path/filepath"
	"testing"

	grpipe "github.com/grpipe/grpipe"
)

func TestCompare(t *testing.T) {
	base := &Result{Records: 1000, InputBytes: 5000, RunSeconds: 10, PeakRSS: 800 << 20,
		Tables:    map[string]grpipe.Ledger{"reviews": {Read: 1000, Superseded: 10, Staged: 990}},
		Reference: &Reference{Seconds: 30, Ratio: 0.33, CPUSeconds: 60, CPURatio: 0.3}}
	same := *base
	tests := []struct {
		name    string
		now     func() *Result
		regress bool
	}{
		{"same", func() *Result { r := same; return &r }, false},
		{"slower wall time only", func() *Result { r := same; r.RunSeconds = 30; return &r }, false},
		{"ratio within tolerance", func() *Result { r := same; r.Reference = &Reference{Seconds: 30, Ratio: 0.37}; return &r }, false},
		{"ratio worse", func() *Result { r := same; r.Reference = &Reference{Seconds: 30, Ratio: 0.40}; return &r }, true},
		{"CPU ratio worse", func() *Result {
			r := same
			r.Reference = &Reference{Seconds: 30, Ratio: 0.33, CPUSeconds: 60, CPURatio: 0.36}
			return &r
		}, true},
		{"no reference", func() *Result { r := same; r.Reference = nil; return &r }, true},
		{"more memory", func() *Result { r := same; r.PeakRSS = 900 << 20; return &r }, true},
		{"ledger differs", func() *Result {
			r := same
			r.Tables = map[string]grpipe.Ledger{"reviews": {Read: 1000, Superseded: 11, Staged: 989}}
			return &r
		}, true},
		{"other batch", func() *Result { r := same; r.Records = 2000; return &r }, true},
		{"CPU ratio judged when both have it", func() *Result {
			r := same
			r.Reference = &Reference{Seconds: 10, Ratio: 1.0, CPUSeconds: 30, CPURatio: 0.30}
			return &r
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, bad := Compare(base, tt.now()); bad != tt.regress {
				t.Fatalf("regressed = %v, want %v", bad, tt.regress)
			}
		})
	}
}

func TestReadBaseline(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "BENCHMARKS.md")
	doc := "# Benchmarks\n\n" + BaselineFence + "\n{\"records\": 1, \"run_seconds\": 9}\n```\n\ntext\n\n" +
		BaselineFence + "\n{\"records\": 1000000, \"run_seconds\": 5.5, \"reference\": {\"ratio\": 0.3}}\n```\n"
	if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := ReadBaseline(p)
	if err != nil {
		t.Fatal(err)
	}
	if r.Records != 1000000 || r.RunSeconds != 5.5 || r.Reference == nil || r.Reference.Ratio != 0.3 {
		t.Fatalf("baseline %+v: want the last block", r)
	}
	if err := os.WriteFile(p, []byte("# nothing\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadBaseline(p); err == nil {
		t.Fatal("a file without a baseline block was accepted")
	}
}

// TestRepositoryBaseline: BENCHMARKS.md holds a baseline the guard can use:
// 1 M records, every table's ledger, a reference ratio.
func TestRepositoryBaseline(t *testing.T) {
	r, err := ReadBaseline(filepath.Join("..", "..", "BENCHMARKS.md"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Records != 1_000_000 || len(r.Tables) != 4 || r.Reference == nil || r.Reference.Ratio <= 0 || r.PeakRSS <= 0 {
		t.Fatalf("baseline %+v: want 1 M records, four ledgers, a reference ratio and a peak RSS", r)
	}
	for name, l := range r.Tables {
		if !l.Balanced() || l.Read != r.Records {
			t.Errorf("baseline ledger of %s does not balance: %+v", name, l)
		}
	}
}
