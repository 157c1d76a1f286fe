package main

import (
	"strings"
	"testing"
)

// Defect 17: the staging views of the embedded warehouse (views over the
// batch's Parquet in the processed zone) are readable through grpipe query,
// while every other file stays out of reach.
func TestQueryReadsStaging(t *testing.T) {
	home := t.TempDir()
	env := map[string]string{"GRPIPE_HOME": home}
	landSample(t, home)
	if r := grpipeCmd(t, env, "run"); r.code != 0 {
		t.Fatalf("run: %s", r.stderr)
	}
	r := grpipeCmd(t, env, "query", "--format", "csv", "SELECT count(*) FROM goodreads_staging.reviews")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "count_star()\n60" {
		t.Fatalf("staging through grpipe query: exit %d %q %s", r.code, r.stdout, r.stderr)
	}
	for _, q := range []string{"SELECT count(*) FROM read_csv('/etc/passwd')",
		"SELECT count(*) FROM read_parquet('" + home + "/zones/processed/../../grpipe.db')",
		"SELECT count(*) FROM read_text('" + home + "/grpipe.yaml')"} {
		if r := grpipeCmd(t, env, "query", q); r.code == 0 {
			t.Errorf("%s: read a file outside the processed zone:\n%s", q, r.stdout)
		}
	}
}
