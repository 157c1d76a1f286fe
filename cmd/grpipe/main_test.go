package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"runtime/pprof"
	"strings"
	"syscall"
	"testing"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/app"
	"github.com/grpipe/grpipe/internal/runstore"
	"github.com/grpipe/grpipe/internal/sample"
	"github.com/grpipe/grpipe/internal/testsupport"
)

// TestMain lets the test binary act as grpipe itself in a subprocess (for
// the crash and shutdown tests): GRPIPE_TEST_ARGS holds the arguments as
// JSON, and the test-only hooks come from GRPIPE_TEST_CRASHPOINT,
// GRPIPE_TEST_SLOWPOINT and GRPIPE_TEST_POLL, which only this test binary
// reads.
func TestMain(m *testing.M) {
	if args := os.Getenv("GRPIPE_TEST_ARGS"); args != "" {
		var a []string
		if err := json.Unmarshal([]byte(args), &a); err != nil {
			panic(err)
		}
		h, err := testHooks(os.Getenv)
		if err != nil {
			panic(err)
		}
		// GRPIPE_TEST_CPUPROFILE=FILE writes a Go CPU profile of the process
		// (TestFiguresDistributed profiles workers and schedulers with it).
		if prof := os.Getenv("GRPIPE_TEST_CPUPROFILE"); prof != "" {
			f, err := os.Create(prof)
			if err != nil {
				panic(err)
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				panic(err)
			}
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, a, os.Stdout, os.Stderr, os.Getenv, h)
		stop()
		pprof.StopCPUProfile()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// testHooks returns the hooks the environment asks for:
// GRPIPE_TEST_CRASHPOINT=upsert kills the process with SIGKILL at that ETL
// point (claim, transform, stage, upsert, cleanup);
// GRPIPE_TEST_SLOWPOINT=transform=1500ms makes the ETL sleep there (a task
// still running when SIGTERM arrives); GRPIPE_TEST_POLL=200ms is the
// scheduler's poll and heartbeat period.
func testHooks(getenv func(string) string) (hooks, error) {
	var h hooks
	if p := getenv("GRPIPE_TEST_POLL"); p != "" {
		d, err := time.ParseDuration(p)
		if err != nil {
			return h, err
		}
		h.poll = d
	}
	crash := getenv("GRPIPE_TEST_CRASHPOINT")
	if task, ok := strings.CutPrefix(crash, "after:"); ok {
		// A task boundary: killed once the try of task has ended and been recorded.
		h.options = append(h.options, app.WithObservers(killAfter{task}))
		crash = ""
	}
	slow, d, _ := strings.Cut(getenv("GRPIPE_TEST_SLOWPOINT"), "=")
	wait, err := time.ParseDuration(d)
	if slow != "" && err != nil {
		return h, fmt.Errorf("GRPIPE_TEST_SLOWPOINT: %w", err)
	}
	if crash == "" && slow == "" {
		return h, nil
	}
	h.options = append(h.options, app.WithCrash(func(at string) {
		if at == slow {
			time.Sleep(wait)
		}
		if at == crash {
			killSelf()
		}
	}))
	return h, nil
}

// result is one in-process invocation of grpipe.
type result struct {
	code           int
	stdout, stderr string
}

func grpipeCmd(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	getenv := func(k string) string { return env[k] }
	code := run(context.Background(), args, &out, &errOut, getenv, hooks{})
	return result{code, out.String(), errOut.String()}
}

func sampleDir(t *testing.T) []string {
	t.Helper()
	paths, err := sample.WriteTo(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return paths
}

func TestDemo(t *testing.T) {
	home := t.TempDir()
	r := grpipeCmd(t, nil, "--home", home, "demo")
	if r.code != 0 {
		t.Fatalf("demo exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{
		"goodreads_warehouse.reviews                         60",
		"goodreads_warehouse.users                           56",
		"goodreads_analytics.best_books",
		"goodreads_analytics.popular_authors_review_count (top 5)",
		"John Steinbeck",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestLandRunQuery(t *testing.T) {
	home := t.TempDir()
	env := map[string]string{"GRPIPE_HOME": home}
	if r := grpipeCmd(t, env, append([]string{"land"}, sampleDir(t)...)...); r.code != 0 {
		t.Fatalf("land exit %d: %s", r.code, r.stderr)
	}
	r := grpipeCmd(t, env, "run", "--json")
	if r.code != 0 {
		t.Fatalf("run exit %d: %s", r.code, r.stderr)
	}
	var sum map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil {
		t.Fatalf("run --json printed no JSON: %v\n%s", err, r.stdout)
	}
	for _, key := range []string{"run_id", "dag_id", "state", "started_at", "ended_at", "tasks", "tables", "checks"} {
		if _, ok := sum[key]; !ok {
			t.Errorf("summary lacks %q", key)
		}
	}
	if sum["dag_id"] != grpipe.DAGID || sum["state"] != "success" {
		t.Errorf("summary dag_id %v state %v", sum["dag_id"], sum["state"])
	}
	tables := sum["tables"].(map[string]any)
	reviews := tables["reviews"].(map[string]any)
	for _, k := range []string{"read", "rejected", "superseded", "staged", "inserted", "updated"} {
		if _, ok := reviews[k]; !ok {
			t.Errorf("tables.reviews lacks %q", k)
		}
	}
	task := sum["tasks"].([]any)[1].(map[string]any)
	if task["task_id"] != "GoodReadsETLJob" || task["state"] != "success" {
		t.Errorf("second task %v", task)
	}
	if strings.Contains(r.stdout, "level=INFO") {
		t.Errorf("logs on stdout")
	}

	t.Run("query csv", func(t *testing.T) {
		r := grpipeCmd(t, env, "query", "--format", "csv", "SELECT count(*) AS n FROM goodreads_warehouse.reviews")
		if r.code != 0 || r.stdout != "n\n60\n" {
			t.Fatalf("exit %d stdout %q stderr %s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("query json", func(t *testing.T) {
		r := grpipeCmd(t, env, "query", "--format", "json", "SELECT author_id, name FROM goodreads_warehouse.authors WHERE author_id = 585")
		if r.code != 0 || strings.TrimSpace(r.stdout) != `[{"author_id":585,"name":"John Steinbeck"}]` {
			t.Fatalf("exit %d stdout %q stderr %s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("query table", func(t *testing.T) {
		r := grpipeCmd(t, env, "query", "SELECT 1 AS one")
		if r.code != 0 || !strings.Contains(r.stdout, "one") || !strings.Contains(r.stdout, "(1 rows)") {
			t.Fatalf("exit %d stdout %q", r.code, r.stdout)
		}
	})
	t.Run("query refuses writes", func(t *testing.T) {
		whFile := filepath.Join(env["GRPIPE_HOME"], "warehouse.duckdb")
		before, _ := os.Stat(whFile)
		for q, want := range map[string]string{
			"DELETE FROM goodreads_warehouse.reviews":                         "read-only",
			"CREATE TABLE x (a INT)":                                          "read-only",
			"DROP TABLE goodreads_warehouse.users":                            "read-only",
			"COPY (SELECT 1 AS a) TO '" + whFile + "' (FORMAT csv)":           "read-only",
			"SELECT 1; DELETE FROM goodreads_warehouse.reviews":               "one statement",
			"SELECT * FROM read_csv('/etc/passwd')":                           "disabled",
			"WITH x AS (SELECT 1) SELECT * FROM read_text('/etc/hostname')":   "disabled",
			"EXPLAIN ANALYZE DELETE FROM goodreads_warehouse.reviews":         "read-only",
			"SELECT 1 FROM (SELECT 2) t; ATTACH '/tmp/grpipe-attack.db' AS x": "one statement",
		} {
			r := grpipeCmd(t, env, "query", q)
			if r.code == 0 || !strings.Contains(r.stderr, want) {
				t.Errorf("%s: exit %d, stderr %q, want a refusal mentioning %q", q, r.code, r.stderr, want)
			}
		}
		if after, _ := os.Stat(whFile); before == nil || after == nil || after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) {
			t.Errorf("the warehouse file changed under refused queries")
		}
		if r := grpipeCmd(t, env, "query", "--format", "csv", "SELECT count(*) FROM goodreads_warehouse.reviews"); r.stdout != "count_star()\n60\n" {
			t.Errorf("warehouse changed by a refused write: %q", r.stdout)
		}
	})
	t.Run("query bad sql", func(t *testing.T) {
		r := grpipeCmd(t, env, "query", "SELECT FROM WHERE nonsense")
		if r.code == 0 || !strings.Contains(r.stderr, "syntax error") {
			t.Errorf("exit %d, stderr %q", r.code, r.stderr)
		}
	})
}

func TestLandRefusesName(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "reviews_2020.csv")
	os.WriteFile(p, []byte("review_id\n1\n"), 0o644)
	r := grpipeCmd(t, map[string]string{"GRPIPE_HOME": t.TempDir()}, "land", p)
	if r.code != 2 {
		t.Fatalf("exit %d, want 2", r.code)
	}
	for _, want := range []string{"reviews_2020.csv", "reviews.csv, user.csv, author.csv, book.csv", "reviews-<anything>.csv"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("message %q lacks %q", r.stderr, want)
		}
	}
}

func TestBadConfig(t *testing.T) {
	cases := []struct {
		name, yaml, want string
		env              map[string]string
	}{
		{"unknown setting", "zonez: file:///tmp\n", "zonez", nil},
		{"bad ratio", "max_reject_ratio: 2\n", "max_reject_ratio", nil},
		{"bad warehouse", "warehouse: mysql://x\n", "warehouse", nil},
		{"bad window", "analytics:\n  window_start: february\n", "analytics.window_start", nil},
		{"bad env ratio", "", "GRPIPE_MAX_REJECT_RATIO", map[string]string{"GRPIPE_MAX_REJECT_RATIO": "lots"}},
		{"relative file zones", "zones: file://data/zones\n", "absolute path after three slashes", nil},
		{"s3 zones without bucket", "zones: s3:///prefix\n", "names no bucket", nil},
		{"inverted analytics window", "analytics:\n  window_start: 2020-03-01\n  window_end: 2020-02-01\n", "is not before analytics.window_end", nil},
		{"unparsable DSN", "", "GRPIPE_WAREHOUSE", map[string]string{"GRPIPE_WAREHOUSE": "postgres://bob:pa%ss@127.0.0.1:1/db"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			home := t.TempDir()
			if tc.yaml != "" {
				os.WriteFile(filepath.Join(home, "grpipe.yaml"), []byte(tc.yaml), 0o644)
			}
			env := map[string]string{"GRPIPE_HOME": home}
			for k, v := range tc.env {
				env[k] = v
			}
			r := grpipeCmd(t, env, "run")
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q: want 2 and a message naming %q", r.code, r.stderr, tc.want)
			}
			if strings.Contains(r.stderr, "pa%ss") {
				t.Fatalf("the message shows the password: %s", r.stderr)
			}
		})
	}
	t.Run("flag overrides env overrides file", func(t *testing.T) {
		home := t.TempDir()
		os.WriteFile(filepath.Join(home, "grpipe.yaml"), []byte("max_reject_ratio: 7\n"), 0o644)
		env := map[string]string{"GRPIPE_HOME": home, "GRPIPE_MAX_REJECT_RATIO": "5"}
		// Landing is empty, so the run fails its row-count checks (exit 1), but the settings are valid.
		if r := grpipeCmd(t, env, "run", "--max-reject-ratio", "0.5"); r.code != 1 {
			t.Fatalf("flag did not override: exit %d %s", r.code, r.stderr)
		}
		if r := grpipeCmd(t, env, "run"); r.code != 2 || !strings.Contains(r.stderr, "max_reject_ratio 5") {
			t.Fatalf("env did not override the file: exit %d %s", r.code, r.stderr)
		}
	})
}

// landDirty lands the sample files, with one broken review row.
func landDirty(t *testing.T, env map[string]string) {
	t.Helper()
	paths := sampleDir(t)
	f, err := os.OpenFile(paths[0], os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("not,a,review\n")
	f.Close()
	if r := grpipeCmd(t, env, append([]string{"land"}, paths...)...); r.code != 0 {
		t.Fatalf("land: %s", r.stderr)
	}
}

// TestCrashThenRerun kills a real grpipe process with SIGKILL at each step
// of the ETL, then runs again: the warehouse must equal a clean run's, and
// no input file may be lost or loaded twice.
func TestCrashThenRerun(t *testing.T) {
	crashThenRerun(t, func(home string) map[string]string { return map[string]string{"GRPIPE_HOME": home} },
		func(t *testing.T, env map[string]string, zone string) []string {
			var left []string
			filepath.Walk(filepath.Join(env["GRPIPE_HOME"], "zones", zone), func(p string, info os.FileInfo, err error) error {
				if err == nil && !info.IsDir() {
					left = append(left, p)
				}
				return nil
			})
			return left
		})
}

// crashThenRerun is the crash test over the zones that homeEnv configures
// (GRPIPE_HOME and settings for a fresh home); left lists a zone's objects.
func crashThenRerun(t *testing.T, homeEnv func(home string) map[string]string, left func(t *testing.T, env map[string]string, zone string) []string) {
	cleanEnv := homeEnv(t.TempDir())
	landDirty(t, cleanEnv)
	if r := grpipeCmd(t, cleanEnv, "run"); r.code != 0 {
		t.Fatalf("clean run: %s", r.stderr)
	}
	want := testsupport.SnapshotHome(t, cleanEnv["GRPIPE_HOME"])
	if rej := want[testsupport.Rejected]; len(rej) != 1 || rej[0][5] != "not,a,review" {
		t.Fatalf("clean run did not quarantine the broken row: %v", rej)
	}

	for _, point := range []string{"claim", "transform", "stage", "upsert", "cleanup"} {
		t.Run(point, func(t *testing.T) {
			home := t.TempDir()
			env := homeEnv(home)
			landDirty(t, env)
			killedAt(t, env["GRPIPE_HOME"], point, env)

			r := grpipeCmd(t, env, "run", "--json")
			if r.code != 0 {
				t.Fatalf("rerun after crash at %s: exit %d\n%s", point, r.code, r.stderr)
			}
			var sum grpipe.RunSummary
			if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil {
				t.Fatal(err)
			}
			if point != "cleanup" && len(sum.Recovered) != 1 {
				t.Errorf("rerun recovered %v, want the crashed run's batch", sum.Recovered)
			}
			if got := testsupport.SnapshotHome(t, home); !reflect.DeepEqual(got, want) {
				for k := range want {
					if !reflect.DeepEqual(got[k], want[k]) {
						t.Errorf("after a crash at %s, %s differs from a clean run:\n got %.400v\nwant %.400v", point, k, got[k], want[k])
					}
				}
			}
			// Nothing left behind: landing and working are empty.
			for _, zone := range []string{"landing", "working"} {
				if left := left(t, env, zone); len(left) > 0 {
					t.Errorf("%s zone not empty after the rerun: %v", zone, left)
				}
			}
			// The crashed run is recorded as failed, not left running.
			store, err := runstore.Open(context.Background(), filepath.Join(home, "grpipe.db"))
			if err != nil {
				t.Fatal(err)
			}
			running, _ := store.RunIDs(context.Background(), 10, grpipe.StateRunning)
			failed, _ := store.RunIDs(context.Background(), 10, grpipe.StateFailed)
			store.Close()
			if len(running) != 0 || len(failed) != 1 {
				t.Errorf("runs left running %v, failed %v: want the crashed run failed", running, failed)
			}
			list := grpipeCmd(t, env, "query", "--format", "csv",
				"SELECT count(*) FROM goodreads_quality.loaded_batches")
			recs, _ := csv.NewReader(strings.NewReader(list.stdout)).ReadAll()
			if len(recs) != 2 || recs[1][0] != "4" {
				t.Errorf("loaded_batches %v, want 4 entries: one per entity, none twice", recs)
			}
		})
	}
}

// killAfter kills the process with SIGKILL when a try of its task ends
// (GRPIPE_TEST_CRASHPOINT=after:<task_id>): a crash at a task boundary.
type killAfter struct{ task string }

func (k killAfter) RunEnded(context.Context, *grpipe.RunSummary) {}
func (k killAfter) TaskRetry(context.Context, grpipe.Run, string, int, error) {
}
func (k killAfter) TaskEnded(_ context.Context, _ grpipe.Run, t grpipe.TaskSummary) {
	if t.TaskID == k.task {
		killSelf()
	}
}

// killSelf ends the process at once, as kill -9 would (SIGKILL on unix,
// TerminateProcess on Windows).
func killSelf() {
	if p, err := os.FindProcess(os.Getpid()); err == nil {
		_ = p.Kill()
	}
	select {} // the kill ends the process
}
