package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/fake"
)

// TestFakeDirtyLedger lands a generated batch with broken rows, runs the
// pipeline, and checks that the run's ledger and goodreads_quality.rejected_rows
// count exactly the broken rows the generator's manifest reports, kind by kind.
func TestFakeDirtyLedger(t *testing.T) {
	home := t.TempDir()
	const records = 20000
	r := grpipeCmd(t, nil, "--home", home, "fake", "--records", strconv.Itoa(records), "--dirty", "0.004", "--seed", "9", "--land", "--json")
	if r.code != 0 {
		t.Fatalf("fake: %d %s", r.code, r.stderr)
	}
	var ms []*fake.Manifest
	if err := json.Unmarshal([]byte(r.stdout), &ms); err != nil || len(ms) != 1 {
		t.Fatalf("manifest: %v\n%s", err, r.stdout)
	}
	m := ms[0]

	r = grpipeCmd(t, nil, "--home", home, "run", "--json")
	if r.code != 0 {
		t.Fatalf("run: %d %s", r.code, r.stderr)
	}
	var sum grpipe.RunSummary
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil {
		t.Fatal(err)
	}

	r = grpipeCmd(t, nil, "--home", home, "query", "--format", "csv",
		"SELECT entity, reason, count(*) AS n FROM goodreads_quality.rejected_rows GROUP BY entity, reason")
	if r.code != 0 {
		t.Fatalf("query: %d %s", r.code, r.stderr)
	}
	recs, err := csv.NewReader(bytes.NewReader([]byte(r.stdout))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]int64{}
	for _, rec := range recs[1:] {
		kind := fake.KindOf(rec[1])
		if kind == "" {
			t.Errorf("%s: reason %q is none of the generator's kinds", rec[0], rec[1])
		}
		n, _ := strconv.ParseInt(rec[2], 10, 64)
		if got[rec[0]] == nil {
			got[rec[0]] = map[string]int64{}
		}
		got[rec[0]][kind] += n
	}

	for _, e := range grpipe.Entities() {
		want := m.Dirty(e.Name)
		var total int64
		for kind, n := range want {
			total += n
			if got[e.Name][kind] != n {
				t.Errorf("%s %s: %d rejected rows, the manifest says %d", e.Name, kind, got[e.Name][kind], n)
			}
		}
		for kind, n := range got[e.Name] {
			if want[kind] == 0 {
				t.Errorf("%s %s: %d rejected rows the manifest does not have", e.Name, kind, n)
			}
		}
		if len(want) < 5 {
			t.Errorf("%s: only %d kinds of broken rows: %v", e.Name, len(want), want)
		}
		l := sum.Tables[e.Name]
		if l.Read != records || l.Rejected != total || !l.Balanced() {
			t.Errorf("%s ledger %+v: want read %d, rejected %d, balanced", e.Name, l, records, total)
		}
	}
}

// TestFakeOut checks the files and manifest written with --out, batch names,
// and that the same seed gives the same bytes.
func TestFakeOut(t *testing.T) {
	dir1, dir2 := t.TempDir(), t.TempDir()
	for _, d := range []string{dir1, dir2} {
		r := grpipeCmd(t, nil, "fake", "--records", "500", "--batches", "2", "--out", d)
		if r.code != 0 {
			t.Fatalf("fake: %d %s", r.code, r.stderr)
		}
	}
	for _, name := range []string{"reviews-1.csv", "user-1.csv", "author-2.csv", "book-2.csv", "manifest.json"} {
		a, err := os.ReadFile(filepath.Join(dir1, name))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(filepath.Join(dir2, name))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between two runs with the same seed", name)
		}
	}
	for _, args := range [][]string{
		{"fake", "--records", "10"},
		{"fake", "--out", t.TempDir()},
		{"fake", "--records", "10", "--size", "1MB", "--out", t.TempDir()},
		{"fake", "--size", "lots", "--out", t.TempDir()},
		{"fake", "--records", "10", "--dirty", "2", "--out", t.TempDir()},
	} {
		if r := grpipeCmd(t, nil, args...); r.code != exitUsage {
			t.Errorf("%v: exit %d, want %d (%s)", args, r.code, exitUsage, r.stderr)
		}
	}
}
