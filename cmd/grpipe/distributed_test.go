package main

import (
	"context"
	"database/sql"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/config"
	"github.com/grpipe/grpipe/internal/objstore"
	"github.com/grpipe/grpipe/internal/objstore/s3test"
	"github.com/grpipe/grpipe/internal/postgres/pgtest"
	"github.com/grpipe/grpipe/internal/runstore"
	"github.com/grpipe/grpipe/internal/testsupport"
)

// cluster is grpipe on several "machines" on loopback: separate processes
// with separate homes sharing the three settings of executor: distributed
// (PostgreSQL metadata, a PostgreSQL warehouse, zones on an S3 server).
type cluster struct {
	t      *testing.T
	shared map[string]string
	store  *runstore.Store
	s3     *s3test.Server
}

func newCluster(t *testing.T) *cluster {
	return newClusterOn(t, pgtest.Database(t), pgtest.Database(t))
}

// newClusterOn is newCluster with the metadata and the warehouse in the
// databases meta and wh.
func newClusterOn(t *testing.T, meta, wh string) *cluster {
	srv := s3test.Start(t, "grpipe")
	c := &cluster{t: t, s3: srv, shared: map[string]string{
		"GRPIPE_EXECUTOR":  "distributed",
		"GRPIPE_METADATA":  meta,
		"GRPIPE_WAREHOUSE": wh,
		"GRPIPE_ZONES":     srv.ZonesURL("grpipe", "dist") + "&max_backoff=100ms",
		"GRPIPE_TEST_POLL": "200ms",
	}}
	st, err := runstore.OpenMetadata(context.Background(), meta)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c.store = st
	return c
}

// home returns the environment of a new machine: the shared settings, its
// own home (with yaml, a grpipe.yaml) and extra.
func (c *cluster) home(yaml string, extra ...string) map[string]string {
	env := map[string]string{"GRPIPE_HOME": c.t.TempDir()}
	for k, v := range c.shared {
		env[k] = v
	}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	if yaml != "" {
		if err := os.WriteFile(filepath.Join(env["GRPIPE_HOME"], config.FileName), []byte(yaml), 0o644); err != nil {
			c.t.Fatal(err)
		}
	}
	return env
}

// waitRun waits until run id ends and returns it.
func (c *cluster) waitRun(id string, within time.Duration, procs ...*proc) grpipe.Run {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for {
		r, err := c.store.Run(context.Background(), id)
		if err == nil && (r.State == grpipe.StateSuccess || r.State == grpipe.StateFailed) {
			return r
		}
		if time.Now().After(deadline) {
			var logs strings.Builder
			for i, p := range procs {
				fmt.Fprintf(&logs, "--- process %d:\n%s\n", i, p.stderr.String())
			}
			c.t.Fatalf("run %s not ended within %s: %+v %v\n%s", id, within, r, err, logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (c *cluster) try(runID, task string, n int) runstore.Try {
	c.t.Helper()
	rec, err := c.store.TryRecord(context.Background(), runstore.TryKey{RunID: runID, TaskID: task, MapIndex: -1, Try: n})
	if err != nil {
		c.t.Fatal(err)
	}
	return rec
}

// waitFanOut waits until the ETL of run has mapped its first instance.
func (c *cluster) waitFanOut(run string) {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		mapped, err := c.store.MappedInstances(context.Background(), run)
		if err == nil && len(mapped) > 0 {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatal("the ETL never fanned out")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startFanOut lands the sample split in 40 KB parts, starts two worker
// processes (two slots each) and a scheduler (retry delay 1 s, 4 retries),
// triggers a run and waits until its transform has fanned out. The
// processes' output is logged if the test fails.
func (c *cluster) startFanOut() (sample []string, run string, procs []*proc) {
	t := c.t
	t.Helper()
	sample = sampleDir(t)
	if r := grpipeCmd(t, c.home(""), append([]string{"land", "--split", "40KB"}, sample...)...); r.code != 0 {
		t.Fatalf("land: %s", r.stderr)
	}
	for _, name := range []string{"w1", "w2"} {
		procs = append(procs, startGrpipe(t, c.home(""), "worker", "--name", name, "--concurrency", "2"))
	}
	procs = append(procs, startGrpipe(t, c.home("orchestrator:\n  retry_delay: 1s\n  retries: 4\n"), "scheduler", "--schedule", "@every 24h", "--start-date", "2100-01-01"))
	t.Cleanup(func() {
		if t.Failed() {
			for i, p := range procs {
				t.Logf("--- process %d:\n%s", i, p.stderr.String())
			}
		}
	})
	run = c.trigger(c.home(""))
	c.waitFanOut(run)
	return sample, run, procs
}

// sameAsLocal fails the test unless the cluster's warehouse equals that of
// a local single-process run on the files sample, landed with --split 40KB.
func (c *cluster) sameAsLocal(sample []string) {
	t := c.t
	t.Helper()
	distEnv := c.home("")
	cfg, err := config.Load(distEnv["GRPIPE_HOME"], envGetter(distEnv), nil)
	if err != nil {
		t.Fatal(err)
	}
	localEnv := map[string]string{"GRPIPE_HOME": t.TempDir(), "GRPIPE_WAREHOUSE": pgtest.Database(t)}
	if r := grpipeCmd(t, localEnv, append([]string{"land", "--split", "40KB"}, sample...)...); r.code != 0 {
		t.Fatalf("land: %s", r.stderr)
	}
	if r := grpipeCmd(t, localEnv, "run"); r.code != 0 {
		t.Fatalf("local run: %s", r.stderr)
	}
	lcfg, err := config.Load(localEnv["GRPIPE_HOME"], envGetter(localEnv), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(testsupport.SnapshotConfig(t, cfg), testsupport.SnapshotConfig(t, lcfg)) {
		t.Fatal("the warehouse differs from a local run's")
	}
}

// trigger queues a manual run and returns its id.
func (c *cluster) trigger(env map[string]string) string {
	c.t.Helper()
	r := grpipeCmd(c.t, env, "dags", "trigger")
	if r.code != 0 {
		c.t.Fatalf("trigger: %s", r.stderr)
	}
	f := strings.Fields(r.stdout)
	if len(f) < 3 || !strings.HasPrefix(f[2], "manual__") {
		c.t.Fatalf("trigger printed %q", r.stdout)
	}
	return f[2]
}

// TestDistributed is the end-to-end test of executor: distributed with real
// processes: two schedulers and three workers, each with its own home; the
// worker running the ETL is killed with SIGKILL in the middle of it; the
// try is found lost and retried on another worker; the run succeeds with
// its tasks spread over the workers, and the warehouse equals a local
// single-process run's on the same files. Then the leading scheduler is
// killed: the standby takes over and the next run succeeds, no run doubled;
// last, a worker stopped with SIGTERM exits 0.
func TestDistributed(t *testing.T) {
	if testing.Short() {
		t.Skip("starts seven processes")
	}
	c := newCluster(t)
	landEnv := c.home("")
	sample := sampleDir(t)
	r := grpipeCmd(t, landEnv, append([]string{"land", "--split", "40KB"}, sample...)...)
	if r.code != 0 {
		t.Fatalf("land: %s", r.stderr)
	}
	if n := strings.Count(r.stdout, "landed "); n < 12 {
		t.Fatalf("the batch was cut into %d parts, want at least 12:\n%s", n, r.stdout)
	}

	var procs []*proc
	workers := map[string]*proc{}
	for _, name := range []string{"w1", "w2", "w3"} {
		// Every worker's ETL pauses after the transform: long enough to kill it there.
		p := startGrpipe(t, c.home("", "GRPIPE_TEST_SLOWPOINT", "transform=4s"), "worker", "--name", name, "--concurrency", "2")
		workers[name] = p
		procs = append(procs, p)
	}
	schedYAML := "orchestrator:\n  retry_delay: 1s\n"
	var scheds []*proc
	for range 2 {
		p := startGrpipe(t, c.home(schedYAML), "scheduler", "--schedule", "@every 24h", "--start-date", "2100-01-01")
		scheds = append(scheds, p)
		procs = append(procs, p)
	}

	run1 := c.trigger(c.home(""))
	// Kill the worker running the ETL once it is in the middle of it.
	var victim string
	deadline := time.Now().Add(60 * time.Second)
	for victim == "" {
		if rec, err := c.store.TryRecord(context.Background(), runstore.TryKey{RunID: run1, TaskID: grpipe.TaskETL, MapIndex: -1, Try: 1}); err == nil &&
			rec.State == grpipe.StateRunning && rec.Worker != "" && strings.Contains(rec.Log+workers[rec.Worker].stderr.String(), "transform") {
			victim = rec.Worker
		}
		if time.Now().After(deadline) {
			t.Fatalf("the ETL never ran on a worker:\n%s\n%s", scheds[0].stderr.String(), scheds[1].stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second) // well into the transform's pause
	killed := time.Now()
	workers[victim].signal(t, syscall.SIGKILL)

	got := c.waitRun(run1, 3*time.Minute, procs...)
	if got.State != grpipe.StateSuccess {
		t.Fatalf("run %s ended %s: %s", run1, got.State, got.Error)
	}
	lost := c.try(run1, grpipe.TaskETL, 1)
	retry := c.try(run1, grpipe.TaskETL, 2)
	if lost.State != grpipe.StateFailed || lost.Worker != victim || !strings.Contains(lost.Error, "no heartbeat") {
		t.Fatalf("the killed worker's try: %+v", lost)
	}
	if retry.State != grpipe.StateSuccess || retry.Worker == victim || retry.Worker == "" {
		t.Fatalf("the retry: %+v", retry)
	}
	if bound := retry.StartedAt.Sub(killed); bound > 30*time.Second {
		t.Fatalf("the retry started %s after the kill: the bound is 15s (heartbeat timeout) + 2s (check) + 1s (retry delay)", bound)
	}
	t.Logf("ETL retried on %s %s after %s was killed", retry.Worker, retry.StartedAt.Sub(killed).Round(time.Millisecond), victim)
	ran := map[string]bool{}
	tis, err := c.store.LatestTaskInstances(context.Background(), run1)
	if err != nil {
		t.Fatal(err)
	}
	for _, ti := range tis {
		if ti.TaskID == grpipe.TaskStop {
			continue
		}
		if w := c.try(run1, ti.TaskID, ti.TryNumber).Worker; w != "" {
			ran[w] = true
		} else {
			t.Errorf("task %s ran on no worker", ti.TaskID)
		}
	}
	if len(ran) < 2 {
		t.Fatalf("the tasks ran on %v: want at least two workers", ran)
	}
	if r := grpipeCmd(t, c.home(""), "runs", "show", run1, "--json"); r.code != 0 || !strings.Contains(r.stdout, `"worker": "`+retry.Worker+`"`) ||
		!strings.Contains(r.stdout, `"mapped_instances": [`) || !strings.Contains(r.stdout, `"map_index": 11`) {
		t.Fatalf("runs show --json does not name the workers (exit %d): %s %s", r.code, r.stdout, r.stderr)
	}
	// The transform fanned out: one mapped instance per landed part, on several workers.
	mapped, err := c.store.MappedInstances(context.Background(), run1)
	if err != nil {
		t.Fatal(err)
	}
	partWorkers := map[string]int{}
	for _, mi := range mapped {
		if mi.TaskID == grpipe.TaskETL && mi.State == grpipe.StateSuccess {
			partWorkers[mi.Worker]++
		}
	}
	if n := strings.Count(r.stdout, "landed "); len(mapped) < n || len(partWorkers) < 2 {
		t.Fatalf("mapped instances %d for %d parts, on workers %v: want every part, on at least two workers", len(mapped), n, partWorkers)
	}
	t.Logf("parts transformed per worker: %v", partWorkers)
	sum, err := c.store.Summary(context.Background(), run1)
	if err != nil || sum.Tables["reviews"].Read == 0 {
		t.Fatalf("run summary %+v %v", sum, err)
	}

	// The warehouse equals a local single-process run's on the same files.
	distEnv := c.home("")
	cfg, err := config.Load(distEnv["GRPIPE_HOME"], envGetter(distEnv), nil)
	if err != nil {
		t.Fatal(err)
	}
	distWH := testsupport.SnapshotConfig(t, cfg)
	localHome := t.TempDir()
	localEnv := map[string]string{"GRPIPE_HOME": localHome, "GRPIPE_WAREHOUSE": pgtest.Database(t)}
	if r := grpipeCmd(t, localEnv, append([]string{"land", "--split", "40KB"}, sample...)...); r.code != 0 {
		t.Fatalf("land: %s", r.stderr)
	}
	if r := grpipeCmd(t, localEnv, "run"); r.code != 0 {
		t.Fatalf("local run: %s", r.stderr)
	}
	lcfg, err := config.Load(localHome, envGetter(localEnv), nil)
	if err != nil {
		t.Fatal(err)
	}
	if localWH := testsupport.SnapshotConfig(t, lcfg); !reflect.DeepEqual(distWH, localWH) {
		t.Fatalf("the warehouse differs from a local run's")
	}

	// The leading scheduler dies: the standby takes over the next run.
	leader := -1
	for i, p := range scheds {
		if strings.Contains(p.stderr.String(), "leading: this process schedules") {
			leader = i
		}
	}
	if leader < 0 {
		t.Fatal("no scheduler says it leads")
	}
	scheds[leader].signal(t, syscall.SIGKILL)
	if r := grpipeCmd(t, landEnv, append([]string{"land"}, sampleDir(t)...)...); r.code != 0 {
		t.Fatalf("land: %s", r.stderr)
	}
	run2 := c.trigger(c.home(""))
	if got := c.waitRun(run2, 2*time.Minute, procs...); got.State != grpipe.StateSuccess {
		t.Fatalf("run %s after the takeover ended %s: %s", run2, got.State, got.Error)
	}
	if !strings.Contains(scheds[1-leader].stderr.String(), "leading: this process schedules") {
		t.Fatalf("the standby never led")
	}
	runs, err := c.store.ListRuns(context.Background(), 100)
	if err != nil || len(runs) != 2 {
		t.Fatalf("runs %+v %v: want exactly the two triggered", runs, err)
	}

	// SIGTERM: a worker stops within its grace period and exits 0.
	for name, p := range workers {
		if name == victim {
			continue
		}
		p.signal(t, syscall.SIGTERM)
		if code, sig := p.wait(t, 45*time.Second); code != 0 {
			t.Fatalf("worker %s exit %d (signal %v):\n%s", name, code, sig, p.stderr.String())
		}
		break
	}
}

func envGetter(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

func landSampleEnv(t *testing.T, env map[string]string) {
	t.Helper()
	if r := grpipeCmd(t, env, append([]string{"land"}, sampleDir(t)...)...); r.code != 0 {
		t.Fatalf("land: %s", r.stderr)
	}
}

// TestLandSplit: a batch landed with --split (parts of about 300 KB, the
// header repeated, quoted line breaks kept) loads the same warehouse as the
// whole files; the rejected rows are the same rows with the same reasons
// (their file names and line numbers are the parts').
func TestLandSplit(t *testing.T) {
	out := t.TempDir()
	if r := grpipeCmd(t, map[string]string{"GRPIPE_HOME": t.TempDir()}, "fake", "--records", "3000", "--dirty", "0.003", "--out", out); r.code != 0 {
		t.Fatalf("fake: %s", r.stderr)
	}
	var files []string
	for _, n := range []string{"reviews.csv", "user.csv", "author.csv", "book.csv"} {
		files = append(files, filepath.Join(out, n))
	}
	whole, parts := t.TempDir(), t.TempDir()
	if r := grpipeCmd(t, map[string]string{"GRPIPE_HOME": whole}, append([]string{"land"}, files...)...); r.code != 0 {
		t.Fatalf("land: %s", r.stderr)
	}
	r := grpipeCmd(t, map[string]string{"GRPIPE_HOME": parts}, append([]string{"land", "--split", "300KB"}, files...)...)
	if r.code != 0 {
		t.Fatalf("land --split: %s", r.stderr)
	}
	if n := strings.Count(r.stdout, "landed reviews-"); n < 3 || !strings.Contains(r.stdout, "landed reviews-0001.csv") {
		t.Fatalf("reviews cut into %d parts:\n%s", n, r.stdout)
	}
	for _, home := range []string{whole, parts} {
		// The reject ratio is judged per landed file, so per part: lift it here.
		if r := grpipeCmd(t, map[string]string{"GRPIPE_HOME": home, "GRPIPE_MAX_REJECT_RATIO": "1"}, "run"); r.code != 0 {
			t.Fatalf("run: %s", r.stderr)
		}
	}
	a, b := testsupport.SnapshotHome(t, whole), testsupport.SnapshotHome(t, parts)
	rejected := func(rows [][]string) []string {
		var out []string
		for _, r := range rows {
			out = append(out, r[0]+"|"+r[3]+"|"+r[4]+"|"+r[5]) // entity, column, reason, raw
		}
		slices.Sort(out)
		return out
	}
	if ra, rb := rejected(a[testsupport.Rejected]), rejected(b[testsupport.Rejected]); len(ra) == 0 || !reflect.DeepEqual(ra, rb) {
		t.Fatalf("rejected rows differ: %d whole, %d split", len(ra), len(rb))
	}
	delete(a, testsupport.Rejected)
	delete(b, testsupport.Rejected)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("the warehouse differs between whole and split files")
	}
}

// TestPostgresMetadataLocal: the run metadata in PostgreSQL with the local
// executor: a run is recorded there, and the run lock is the database's (a
// second process's run is refused while one holds it).
func TestPostgresMetadataLocal(t *testing.T) {
	meta := pgtest.Database(t)
	env := map[string]string{"GRPIPE_HOME": t.TempDir(), "GRPIPE_METADATA": meta}
	landSampleEnv(t, env)
	if r := grpipeCmd(t, env, "run"); r.code != 0 {
		t.Fatalf("run: %s", r.stderr)
	}
	if _, err := os.Stat(filepath.Join(env["GRPIPE_HOME"], "grpipe.db")); !os.IsNotExist(err) {
		t.Fatalf("a SQLite run store was created in the home: %v", err)
	}
	st, err := runstore.OpenMetadata(context.Background(), meta)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runs, err := st.ListRuns(context.Background(), 10)
	if err != nil || len(runs) != 1 || runs[0].State != grpipe.StateSuccess {
		t.Fatalf("runs in PostgreSQL: %+v %v", runs, err)
	}
	release, err := st.TryAdvisoryLock(context.Background(), runstore.RunLockKey)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if r := grpipeCmd(t, env, "run"); r.code == 0 || !strings.Contains(r.stderr, "holds the lock in the metadata database") {
		t.Fatalf("a run while another process holds the run lock: exit %d: %s", r.code, r.stderr)
	}
}

// TestFiguresDistributed measures (it asserts no time) a run of the DAG on
// a fake batch of GRPIPE_FIGURES records landed with --split 64MB: once
// with the local executor, then distributed with 1, 2 and 3 workers, all on
// the same kind of zones (the S3 test server) and warehouse (PostgreSQL).
// Run: GRPIPE_FIGURES=1000000 go test -run TestFiguresDistributed -v -timeout 60m ./cmd/grpipe
func TestFiguresDistributed(t *testing.T) {
	records := os.Getenv("GRPIPE_FIGURES")
	if records == "" {
		t.Skip("set GRPIPE_FIGURES to a record count to measure")
	}
	// GRPIPE_FIGURES_DATA names a directory that holds the batch already (a
	// `grpipe fake --records N --out DIR` made once for several rounds); it
	// is written there when it does not hold one.
	data := os.Getenv("GRPIPE_FIGURES_DATA")
	if data == "" {
		data = t.TempDir()
	}
	if _, err := os.Stat(filepath.Join(data, "reviews.csv")); err != nil {
		if r := grpipeCmd(t, map[string]string{"GRPIPE_HOME": t.TempDir()}, "fake", "--records", records, "--out", data); r.code != 0 {
			t.Fatalf("fake: %s", r.stderr)
		}
	}
	var files []string
	for _, n := range []string{"reviews.csv", "user.csv", "author.csv", "book.csv"} {
		files = append(files, filepath.Join(data, n))
	}
	measure := func(name string, workers int) {
		t.Run(name, func(t *testing.T) { measureRun(t, files, name, workers) })
	}
	measure("local", 0)
	for _, n := range []int{1, 2, 3} {
		measure(fmt.Sprintf("distributed %d workers", n), n)
	}
}

// measureRun lands files split in a fresh cluster and times one run on it.
// GRPIPE_FIGURES_SPLIT sets the size of the parts (default 64MB).
// With GRPIPE_FIGURES_PROFILE=DIR, every grpipe process of the run (the
// local run, or the scheduler and the workers) writes a Go CPU profile there
// (<case>-<process>.pprof).
func measureRun(t *testing.T, files []string, name string, workers int) {
	c := newCluster(t)
	env := c.home("")
	if workers == 0 {
		env["GRPIPE_EXECUTOR"] = "local"
	}
	split := "64MB"
	if v := os.Getenv("GRPIPE_FIGURES_SPLIT"); v != "" {
		split = v
	}
	r := grpipeCmd(t, env, append([]string{"land", "--split", split}, files...)...)
	if r.code != 0 {
		t.Fatalf("land: %s", r.stderr)
	}
	parts := strings.Count(r.stdout, "landed ")
	profDir := os.Getenv("GRPIPE_FIGURES_PROFILE")
	profiled := func(env map[string]string, proc string) map[string]string {
		if profDir != "" {
			env["GRPIPE_TEST_CPUPROFILE"] = filepath.Join(profDir, strings.ReplaceAll(name, " ", "_")+"-"+proc+".pprof")
		}
		return env
	}
	var procs []*proc
	for i := range workers {
		w := fmt.Sprintf("w%d", i+1)
		// As many slots as the local executor runs tasks at once (parallelism 0: 4).
		procs = append(procs, startGrpipe(t, profiled(c.home(""), w), "worker", "--name", w, "--concurrency", "4"))
	}
	t0 := time.Now()
	var id string
	if workers == 0 {
		if r := grpipeCmd(t, profiled(env, "run"), "run"); r.code != 0 {
			t.Fatalf("local run: %s", r.stderr)
		}
	} else {
		procs = append(procs, startGrpipe(t, profiled(c.home(""), "scheduler"), "scheduler", "--schedule", "@every 24h", "--start-date", "2100-01-01"))
		id = c.trigger(c.home(""))
		if got := c.waitRun(id, 30*time.Minute, procs...); got.State != grpipe.StateSuccess {
			for i, p := range procs {
				lines := strings.Split(p.stderr.String(), "\n")
				t.Logf("--- process %d, its last lines:\n%s", i, strings.Join(lines[max(0, len(lines)-40):], "\n"))
			}
			t.Fatalf("%s: run ended %s: %s", name, got.State, got.Error)
		}
	}
	took := time.Since(t0)
	load, _ := os.ReadFile("/proc/loadavg")
	t.Logf("FIGURE %s: %d parts, run %.1f s (load %s)", name, parts, took.Seconds(), strings.Join(strings.Fields(string(load))[:3], " "))
	for _, p := range procs {
		p.signal(t, syscall.SIGTERM)
		p.wait(t, time.Minute)
	}
	c.logBreakdown(t0)
}

// logBreakdown logs where the time of the cluster's one run went: each
// task's try (start after t0, duration, worker), the ETL's stages, and its
// mapped instances (how many, their summed and their longest duration).
func (c *cluster) logBreakdown(t0 time.Time) {
	t := c.t
	ctx := context.Background()
	runs, err := c.store.ListRuns(ctx, 1)
	if err != nil || len(runs) != 1 {
		t.Fatalf("the run: %v %v", runs, err)
	}
	run := runs[0]
	tis, err := c.store.TaskInstances(ctx, run.RunID)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "run %s: started %.2f s after the trigger, ended %.2f s after it\n", run.RunID, run.StartedAt.Sub(t0).Seconds(), run.EndedAt.Sub(t0).Seconds())
	for _, ti := range tis {
		fmt.Fprintf(&b, "  %-34s try %d  %7.2f -> %7.2f s  (%6.2f s)  %s %s\n", ti.TaskID, ti.TryNumber,
			ti.StartedAt.Sub(t0).Seconds(), ti.EndedAt.Sub(t0).Seconds(), ti.DurationSeconds, ti.State, ti.Worker)
		if ti.Error != "" {
			fmt.Fprintf(&b, "      error: %.400s\n", ti.Error)
		}
		if ti.TaskID == grpipe.TaskETL {
			if log, _, err := c.store.TaskLog(ctx, run.RunID, ti.TaskID, ti.TryNumber); err == nil {
				fmt.Fprintf(&b, "      log:\n%s\n", log)
			}
		}
	}
	if sum, err := c.store.Summary(ctx, run.RunID); err == nil {
		for _, st := range sum.Stages {
			fmt.Fprintf(&b, "  ETL stage %-12s %7.2f s  %d bytes  %d rows\n", st.Stage, st.Seconds, st.Bytes, st.Rows)
		}
	}
	mapped, err := c.store.MappedInstances(ctx, run.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if len(mapped) > 0 {
		var total, longest float64
		first, last := mapped[0].StartedAt, mapped[0].EndedAt
		workers := map[string]int{}
		for _, m := range mapped {
			d := m.EndedAt.Sub(m.StartedAt).Seconds()
			total += d
			longest = max(longest, d)
			if m.StartedAt.Before(first) {
				first = m.StartedAt
			}
			if m.EndedAt.After(last) {
				last = m.EndedAt
			}
			workers[m.Worker]++
		}
		fmt.Fprintf(&b, "  %d mapped instances %.2f -> %.2f s: summed %.1f s, longest %.2f s, by worker %v\n",
			len(mapped), first.Sub(t0).Seconds(), last.Sub(t0).Seconds(), total, longest, workers)
	}
	t.Logf("BREAKDOWN\n%s", b.String())
}

// TestFakeParts: fake --parts N writes each file as N parts, each with the
// header, holding together every record of the whole file.
func TestFakeParts(t *testing.T) {
	out := t.TempDir()
	if r := grpipeCmd(t, map[string]string{"GRPIPE_HOME": t.TempDir()}, "fake", "--records", "3000", "--parts", "3", "--out", out); r.code != 0 {
		t.Fatalf("fake: %s", r.stderr)
	}
	for _, prefix := range []string{"reviews", "user", "author", "book"} {
		rows := 0
		for i := 1; i <= 3; i++ {
			f, err := os.Open(filepath.Join(out, fmt.Sprintf("%s-%04d.csv", prefix, i)))
			if err != nil {
				t.Fatal(err)
			}
			recs, err := csv.NewReader(f).ReadAll()
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) < 2 || !slices.Contains(recs[0], "record_create_timestamp") {
				t.Fatalf("%s part %d: header %q, %d records", prefix, i, recs[0], len(recs))
			}
			rows += len(recs) - 1
		}
		if rows != 3000 {
			t.Fatalf("%s: %d records in the parts, want 3000", prefix, rows)
		}
		if _, err := os.Stat(filepath.Join(out, prefix+"-0004.csv")); !os.IsNotExist(err) {
			t.Fatalf("%s: a fourth part: %v", prefix, err)
		}
	}
}

// TestDistributedS3Outage: the S3 server answers 503 to everything for 3 s
// in the middle of the ETL's fan-out: the tries that needed it fail
// cleanly (after the S3 client's own retries), the ETL is retried, and the
// run ends with the warehouse a local run of the same files gives — no
// half-written part was read.
func TestDistributedS3Outage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes")
	}
	c := newCluster(t)
	sample, run, procs := c.startFanOut()
	// An outage of 3 s (not of a number of requests: how many requests the
	// workers make meanwhile depends on the machine's load).
	c.s3.FailNext(100_000, 503)
	time.Sleep(3 * time.Second)
	c.s3.ClearFaults()
	got := c.waitRun(run, 3*time.Minute, procs...)
	if got.State != grpipe.StateSuccess {
		t.Fatalf("run ended %s: %s", got.State, got.Error)
	}
	first := c.try(run, grpipe.TaskETL, 1)
	if first.State != grpipe.StateFailed {
		t.Fatalf("the ETL's first try, during the outage: %+v", first)
	}
	t.Logf("the first ETL try failed: %.200s", first.Error)

	c.sameAsLocal(sample)
}

// TestDistributedS3CutTransfers: while the ETL's mapped instances run on
// two worker processes, every upload to S3 (one case) or every download
// from it (the other) is cut midway for 3 s (an upload after half of its
// bytes reached the server, a download after half of the object was
// sent), with two tries per request: the instances that meet it fail
// cleanly, their ETL try fails and is retried, the run succeeds, every
// Parquet object in the processed zone is whole (its closing magic bytes
// are there: no part cut short was published), and the warehouse equals a
// local run's on the same files.
func TestDistributedS3CutTransfers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes per case")
	}
	for _, tc := range []struct {
		name, kind string
		cut        func(*s3test.Server, int)
	}{
		{"uploads", s3test.FaultCutUpload, (*s3test.Server).CutNextUpload},
		{"downloads", s3test.FaultCutDownload, (*s3test.Server).CutNextDownload},
	} {
		t.Run(tc.name, func(t *testing.T) { testS3CutTransfers(t, tc.kind, tc.cut) })
	}
}

func testS3CutTransfers(t *testing.T, kind string, cut func(*s3test.Server, int)) {
	c := newCluster(t)
	c.shared["GRPIPE_ZONES"] += "&max_attempts=2"
	sample, run, procs := c.startFanOut()
	cut(c.s3, 100_000)
	time.Sleep(3 * time.Second)
	c.s3.ClearFaults()
	n := c.s3.Injected(kind)
	if n == 0 {
		t.Fatalf("no transfer met a %s fault during the fan-out", kind)
	}
	t.Logf("%d transfers met a %s fault", n, kind)
	got := c.waitRun(run, 3*time.Minute, procs...)
	if got.State != grpipe.StateSuccess {
		t.Fatalf("run ended %s: %s", got.State, got.Error)
	}
	ctx := context.Background()
	first := c.try(run, grpipe.TaskETL, 1)
	if first.State != grpipe.StateFailed {
		t.Fatalf("the ETL's first try, while transfers were cut: %+v", first)
	}
	t.Logf("the first ETL try failed: %.300s", first.Error)
	mapped, err := c.store.MappedInstances(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	failed := 0
	for _, m := range mapped {
		switch m.State {
		case grpipe.StateFailed:
			if m.Error == "" {
				t.Errorf("%s failed without an error", m.TryKey)
			}
			failed++
		case grpipe.StateRunning, grpipe.StateQueued:
			t.Errorf("%s left %s", m.TryKey, m.State)
		}
	}
	if failed == 0 {
		t.Error("no mapped instance failed while transfers were cut")
	}

	zones, err := objstore.Open(ctx, c.shared["GRPIPE_ZONES"])
	if err != nil {
		t.Fatal(err)
	}
	defer zones.Close()
	objs, err := zones.List(ctx, string(grpipe.Processed)+"/")
	if err != nil {
		t.Fatal(err)
	}
	parquet := 0
	for _, o := range objs {
		if !strings.HasSuffix(o.Key, ".parquet") {
			continue
		}
		b, err := zones.ReadAll(ctx, o.Key)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) < 8 || string(b[:4]) != "PAR1" || string(b[len(b)-4:]) != "PAR1" {
			t.Errorf("%s: %d bytes, not a whole Parquet file", o.Key, len(b))
		}
		parquet++
	}
	if parquet == 0 {
		t.Fatalf("no Parquet in the processed zone: %+v", objs)
	}
	t.Logf("%d Parquet objects in the processed zone, all whole", parquet)
	c.sameAsLocal(sample)
	for _, p := range procs {
		p.signal(t, syscall.SIGTERM)
		if code, _ := p.wait(t, time.Minute); code != 0 {
			t.Errorf("exit %d after SIGTERM:\n%s", code, p.stderr.String())
		}
	}
}

// TestDistributedPostgresRestart: the PostgreSQL server that holds the
// metadata (runs, tries, River's queue) and the warehouse is restarted
// (pg_ctl stop -m immediate, then start: every connection cut) while the
// ETL's mapped instances run on two worker processes: every try ends
// (none is left running), the ETL is retried if a try failed, the run
// succeeds once (no run doubled) and the warehouse equals a local run's on
// the same files; the workers and the scheduler outlive the restart.
func TestDistributedPostgresRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL server and three processes")
	}
	pg := pgtest.StartCluster(t)
	admin, err := sql.Open("pgx", pg.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	for _, db := range []string{"meta", "wh"} {
		// The test cluster runs with synchronous_commit off (fast, but a
		// crash loses the last commits, which no production server does):
		// these databases commit durably, as a real one would.
		if _, err := admin.Exec(`CREATE DATABASE "` + db + `"`); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Exec(`ALTER DATABASE "` + db + `" SET synchronous_commit = on`); err != nil {
			t.Fatal(err)
		}
	}
	admin.Close()
	c := newClusterOn(t, pg.DSN("meta"), pg.DSN("wh"))
	sample, run, procs := c.startFanOut()
	pg.Restart()
	t.Log("PostgreSQL restarted during the fan-out")
	got := c.waitRun(run, 3*time.Minute, procs...)
	if got.State != grpipe.StateSuccess {
		var logs strings.Builder
		for i, p := range procs {
			fmt.Fprintf(&logs, "--- process %d:\n%s\n", i, p.stderr.String())
		}
		t.Fatalf("run ended %s: %s\n%s", got.State, got.Error, logs.String())
	}
	ctx := context.Background()
	runs, err := c.store.ListRuns(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].RunID != run {
		t.Fatalf("runs after the restart: %+v, want only %s", runs, run)
	}
	tis, err := c.store.TaskInstances(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	for _, ti := range tis {
		if ti.State == grpipe.StateRunning || ti.State == grpipe.StateQueued {
			t.Errorf("%s try %d left %s", ti.TaskID, ti.TryNumber, ti.State)
		}
		if ti.State == grpipe.StateFailed || ti.State == grpipe.StateUpForRetry {
			t.Logf("%s try %d failed cleanly: %.200s", ti.TaskID, ti.TryNumber, ti.Error)
		}
	}
	mapped, err := c.store.MappedInstances(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mapped {
		if m.State == grpipe.StateRunning || m.State == grpipe.StateQueued {
			t.Errorf("%s left %s", m.TryKey, m.State)
		}
	}
	for i, p := range procs {
		select {
		case <-p.done:
			t.Errorf("process %d exited during the restart: %v\n%s", i, p.err, p.stderr.String())
		default:
		}
	}

	c.sameAsLocal(sample)
	for _, p := range procs {
		p.signal(t, syscall.SIGTERM)
		if code, _ := p.wait(t, time.Minute); code != 0 {
			t.Errorf("exit %d after SIGTERM:\n%s", code, p.stderr.String())
		}
	}
}
