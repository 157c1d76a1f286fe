package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/testsupport"
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

// landRealData lands generated UCSD dumps, a reviews dump with a broken
// line, and a library export into the home of env.
func landRealData(t *testing.T, env map[string]string, dumps string) {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(dumps, "*.json.gz"))
	extra := filepath.Join(t.TempDir(), "goodreads_reviews_dedup-extra.json")
	os.WriteFile(extra, []byte(`{"user_id": "0a1b2c3d4e5f60718293a4b5c6d7e8f9", "book_id": "1", "review_id": "f0e1d2c3b4a5968778695a4b3c2d1e0f", "rating": 4, "review_text": "ok", "date_added": "Sun Jul 30 07:44:10 -0700 2017", "date_updated": "Wed Aug 30 00:00:26 -0700 2017", "read_at": "", "started_at": "", "n_votes": 3, "n_comments": 0}`+"\n"+`{"user_id": "0a1b`+"\n"), 0o644)
	export := filepath.Join(t.TempDir(), "goodreads_library_export.csv")
	os.WriteFile(export, []byte("Book Id,Title,Author,My Rating,Date Added\n1,One,Mara Quill,4,2018/11/30\n2,Two,Ivo Penn,0,2019/01/02\n"), 0o644)
	args := append([]string{"land", "--export-user-id", "77"}, paths...)
	if r := grpipeCmd(t, env, append(args, extra, export)...); r.code != 0 {
		t.Fatalf("land: %s", r.stderr)
	}
}

// TestCrashThenRerunRealData kills a real grpipe process at each step of
// the ETL of a batch of UCSD dumps and an export (files that feed several
// entities), then runs again: the warehouse, the source keys and the
// quarantine must equal a clean run's, and nothing may be left in landing
// or working.
func TestCrashThenRerunRealData(t *testing.T) {
	dumps := t.TempDir()
	if r := grpipeCmd(t, nil, "fake", "--format", "ucsd", "--records", "1500", "--out", dumps); r.code != 0 {
		t.Fatalf("fake: %s", r.stderr)
	}
	snapshot := func(env map[string]string) map[string][][]string {
		s := testsupport.SnapshotHome(t, env["GRPIPE_HOME"])
		r := grpipeCmd(t, env, "query", "--format", "csv", "SELECT entity, source, source_key, id FROM goodreads_warehouse.source_keys ORDER BY 1, 2, 3")
		s["source_keys"] = [][]string{{r.stdout}}
		return s
	}
	clean := map[string]string{"GRPIPE_HOME": t.TempDir(), "GRPIPE_MAX_REJECT_RATIO": "0.6"}
	landRealData(t, clean, dumps)
	if r := grpipeCmd(t, clean, "run"); r.code != 0 {
		t.Fatalf("clean run: %s", r.stderr)
	}
	want := snapshot(clean)
	if rej := want[testsupport.Rejected]; len(rej) != 1 || rej[0][1] != "goodreads_reviews_dedup-extra.json" || rej[0][2] != "2" {
		t.Fatalf("clean run did not quarantine the broken line: %v", rej)
	}
	if n := strings.Count(want["source_keys"][0][0], "\n"); n != 1500+1+44+1+2+2+1 { // UCSD reviews and users (generated, extra), export reviews and authors, header
		t.Fatalf("clean run stored %d source keys lines:\n%.300s", n, want["source_keys"][0][0])
	}
	for _, point := range []string{"claim", "transform", "stage", "upsert", "cleanup"} {
		t.Run(point, func(t *testing.T) {
			home := t.TempDir()
			env := map[string]string{"GRPIPE_HOME": home, "GRPIPE_MAX_REJECT_RATIO": "0.6"}
			landRealData(t, env, dumps)
			killedAt(t, env["GRPIPE_HOME"], point, env)
			if r := grpipeCmd(t, env, "run"); r.code != 0 {
				t.Fatalf("rerun after a crash at %s: exit %d\n%s", point, r.code, r.stderr)
			}
			got := snapshot(env)
			for k := range want {
				if !reflect.DeepEqual(got[k], want[k]) {
					t.Errorf("after a crash at %s, %s differs from a clean run:\n got %.400v\nwant %.400v", point, k, got[k], want[k])
				}
			}
			for _, zone := range []string{"landing", "working"} {
				var left []string
				filepath.Walk(filepath.Join(home, "zones", zone), func(p string, info os.FileInfo, err error) error {
					if err == nil && !info.IsDir() {
						left = append(left, p)
					}
					return nil
				})
				if len(left) > 0 {
					t.Errorf("%s zone not empty after the rerun: %v", zone, left)
				}
			}
		})
	}
}
