package main

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"
)

// TestJSONFieldNames: the JSON of run --json, runs show --json and runs
// list --json keeps every field name it had before the one run model
// (fields are only ever added; the added ones are listed here).
func TestJSONFieldNames(t *testing.T) {
	home := t.TempDir()
	env := map[string]string{"GRPIPE_HOME": home}
	landSample(t, home)
	keys := func(t *testing.T, out string, list bool) []string {
		t.Helper()
		var m map[string]any
		if list {
			var ms []map[string]any
			if err := json.Unmarshal([]byte(out), &ms); err != nil || len(ms) != 1 {
				t.Fatalf("%v: %s", err, out)
			}
			m = ms[0]
		} else if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return slices.Sorted(maps.Keys(m))
	}
	// Added since, on purpose: queued_at (the one run model), recovered
	// (always listed since the recovery report), mapped_instances (the
	// distributed executor's detail).
	added := []string{"queued_at", "recovered", "mapped_instances"}
	check := func(t *testing.T, got, before []string) {
		t.Helper()
		for _, k := range before {
			if !slices.Contains(got, k) {
				t.Errorf("field %q is gone: %v", k, got)
			}
		}
		for _, k := range got {
			if !slices.Contains(before, k) && !slices.Contains(added, k) {
				t.Errorf("field %q is new: %v", k, got)
			}
		}
	}
	summary := []string{"checks", "dag_id", "ended_at", "files", "logical_date", "run_id", "run_type", "stages", "started_at", "state", "tables", "tasks"}
	r := grpipeCmd(t, env, "run", "--json")
	if r.code != 0 {
		t.Fatalf("run: %s", r.stderr)
	}
	check(t, keys(t, r.stdout, false), summary)
	var sum struct {
		RunID string `json:"run_id"`
	}
	json.Unmarshal([]byte(r.stdout), &sum)
	check(t, keys(t, grpipeCmd(t, env, "runs", "show", sum.RunID, "--json").stdout, false), append(summary, "task_tries"))
	check(t, keys(t, grpipeCmd(t, env, "runs", "list", "--json").stdout, true),
		[]string{"dag_id", "ended_at", "logical_date", "queued_at", "run_id", "run_type", "started_at", "state"})
}

// TestQueryFormatRefused: an unknown --format is refused with the same
// message and exit code as always, before anything is opened.
func TestQueryFormatRefused(t *testing.T) {
	r := grpipeCmd(t, map[string]string{"GRPIPE_HOME": t.TempDir()}, "query", "--format", "xml", "SELECT 1")
	if r.code != 2 || r.stderr != "grpipe query: --format \"xml\": use table, csv or json\n" {
		t.Fatalf("code %d, stderr %q", r.code, r.stderr)
	}
}
