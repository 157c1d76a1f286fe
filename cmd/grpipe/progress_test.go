package main

import (
	"regexp"
	"strings"
	"testing"
)

// TestRunProgress runs the sample with its output on a stream that is not
// a terminal: stderr gets one line per ETL step and one per task, the log
// around them, and no live line; with --quiet none of those lines.
func TestRunProgress(t *testing.T) {
	env := map[string]string{"GRPIPE_HOME": t.TempDir(), "GRPIPE_LOG_LEVEL": "warn"}
	landDirty(t, env)
	r := grpipeCmd(t, env, "run")
	if r.code != 0 {
		t.Fatalf("run: %s", r.stderr)
	}
	for _, re := range []string{
		`(?m)^claim +\d+\.\d\d kB +\d+(\.\d+)?(ms|s)$`,
		`(?m)^transform +\d+\.\d\d kB +2,001 rows +\d`,
		`(?m)^stage reviews +60 rows +\d`,
		`(?m)^upsert reviews +60 rows +\d`,
		`(?m)^upsert books +\d+ rows +\d`,
		`(?m)^task GoodReadsETLJob: success in \d`,
		`(?m)^task Stop_execution: success`,
	} {
		if !regexp.MustCompile(re).MatchString(r.stderr) {
			t.Errorf("stderr lacks a line like %s:\n%s", re, r.stderr)
		}
	}
	if n := strings.Count(r.stderr, "\ntask "); n != 14 {
		t.Errorf("%d task lines after the first, want 14 (15 tasks)", n)
	}
	if strings.ContainsAny(r.stderr, "\r\033") {
		t.Errorf("a live line went to a stream that is not a terminal")
	}
	if !strings.Contains(r.stdout, "reviews") {
		t.Errorf("the summary is not on stdout: %s", r.stdout)
	}

	landDirty(t, env)
	r = grpipeCmd(t, env, "run", "--quiet")
	if r.code != 0 {
		t.Fatalf("run --quiet: %s", r.stderr)
	}
	if strings.Contains(r.stderr, "transform ") || strings.Contains(r.stderr, "task ") {
		t.Errorf("run --quiet printed progress:\n%s", r.stderr)
	}

	// runs list: a table, a header and a line per run, newest first.
	r = grpipeCmd(t, env, "runs", "list")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 3 || !regexp.MustCompile(`^run_id +run_type +state +logical_date +started_at +duration +error$`).MatchString(lines[0]) {
		t.Fatalf("runs list:\n%s", r.stdout)
	}
	for _, l := range lines[1:] {
		if !regexp.MustCompile(`^manual__\S+ +manual +success +20\d\d-\S+Z +20\d\d-\S+Z +\d+(\.\d+)?m?s`).MatchString(l) {
			t.Errorf("runs list line %q", l)
		}
	}
}
