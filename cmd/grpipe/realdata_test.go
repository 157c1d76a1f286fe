package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	grpipe "github.com/grpipe/grpipe"
)

func TestLandExportNeedsUserID(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "goodreads_library_export.csv")
	os.WriteFile(p, []byte("Book Id,Title\n1,x\n"), 0o644)
	home := t.TempDir()
	r := grpipeCmd(t, map[string]string{"GRPIPE_HOME": home}, "land", p)
	if r.code != 2 {
		t.Fatalf("exit %d, want 2: %s", r.code, r.stderr)
	}
	for _, want := range []string{"goodreads_library_export.csv", "--export-user-id"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("message %q lacks %q", r.stderr, want)
		}
	}
	r = grpipeCmd(t, map[string]string{"GRPIPE_HOME": home}, "land", "--export-user-id", "12345", p)
	if r.code != 0 || !strings.Contains(r.stdout, "landed goodreads_library_export.user-12345.csv") {
		t.Fatalf("exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
}

// TestFakeUCSDRuns generates UCSD dumps, lands them by their published
// names and runs the pipeline on them: every line loads, the ledgers
// balance, every check passes.
func TestFakeUCSDRuns(t *testing.T) {
	out, home := t.TempDir(), t.TempDir()
	env := map[string]string{"GRPIPE_HOME": home}
	if r := grpipeCmd(t, env, "fake", "--format", "ucsd", "--records", "3000", "--out", out); r.code != 0 {
		t.Fatalf("fake: exit %d: %s", r.code, r.stderr)
	}
	paths, _ := filepath.Glob(filepath.Join(out, "*.json.gz"))
	if len(paths) != 3 {
		t.Fatalf("files %v", paths)
	}
	if r := grpipeCmd(t, env, append([]string{"land"}, paths...)...); r.code != 0 {
		t.Fatalf("land: exit %d: %s", r.code, r.stderr)
	}
	r := grpipeCmd(t, env, "run", "--json")
	if r.code != 0 {
		t.Fatalf("run: exit %d: %s", r.code, r.stderr)
	}
	var sum grpipe.RunSummary
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"reviews": 3000, "users": 3000, "books": 449, "authors": 158}
	for name, read := range want {
		l := sum.Tables[name]
		if l.Read != read || l.Rejected != 0 || !l.Balanced() {
			t.Errorf("%s ledger %+v, want %d read, none rejected", name, l, read)
		}
	}
	if l := sum.Tables["users"]; l.Staged != 88 {
		t.Errorf("users staged %d, want 88 distinct", l.Staged)
	}
	for _, c := range sum.Checks {
		if !c.Passed {
			t.Errorf("check %s on %s failed: %s", c.Name, c.Table, c.Detail)
		}
	}
	if r := grpipeCmd(t, env, "query", "--format", "csv", "SELECT count(*) FROM goodreads_warehouse.reviews WHERE author_id IS NULL"); r.code != 0 || strings.TrimSpace(r.stdout) != "count_star()\n0" {
		t.Errorf("reviews without an author: %q %s", r.stdout, r.stderr)
	}
}
