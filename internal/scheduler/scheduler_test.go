package scheduler_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/app"
	"github.com/grpipe/grpipe/internal/config"
	"github.com/grpipe/grpipe/internal/objstore/s3test"
	"github.com/grpipe/grpipe/internal/orchestrator"
	"github.com/grpipe/grpipe/internal/postgres/pgtest"
	"github.com/grpipe/grpipe/internal/runstore"
	"github.com/grpipe/grpipe/internal/scheduler"
	"github.com/grpipe/grpipe/internal/testsupport"
)

type fixture struct {
	t     *testing.T
	cfg   config.Config
	app   *app.App
	home  *testsupport.Home
	clock *testsupport.Clock
}

var day = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// newFixture opens a home whose runs do not depend on the past, unless
// dependsOnPast.
func newFixture(t *testing.T, dependsOnPast bool) *fixture {
	return newFixtureOn(t, config.ExecutorLocal, dependsOnPast)
}

// newFixtureOn is newFixture with the tasks run by executor: local (in
// this process), or distributed: the metadata and the warehouse in
// PostgreSQL databases of their own, the zones on the S3 test server, and
// one worker (app.RunWorker, in this process, two slots) taking the tries
// from the River queue, as a `grpipe worker` on another machine would.
func newFixtureOn(t *testing.T, executor string, dependsOnPast bool) *fixture {
	t.Helper()
	distributed := executor == config.ExecutorDistributed
	var zones string
	if distributed {
		zones = s3test.Start(t, "grpipe").ZonesURL("grpipe", "sched") + "&max_backoff=100ms"
	}
	h := testsupport.NewHome(t, func(c *config.Config) {
		c.Orchestrator.RetryDelay = 10 * time.Millisecond
		c.Orchestrator.DependsOnPast = dependsOnPast
		if distributed {
			c.Executor = executor
			c.Metadata = pgtest.Database(t)
			testsupport.Set(t, c, "warehouse", pgtest.Database(t))
			c.Zones = zones
		}
	})
	if distributed {
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- app.RunWorker(ctx, h.App.Config, app.WorkerOptions{Name: "w1", Concurrency: 2}, slog.New(slog.DiscardHandler))
		}()
		t.Cleanup(func() {
			stop()
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("worker: %v", err)
			}
		})
	}
	return &fixture{t: t, cfg: h.App.Config, app: h.App, home: h, clock: testsupport.NewClock(day)}
}

// ranOn fails the test unless the ETL of run ran where executor runs
// tasks: on the worker w1 (distributed), in this process (local).
func (f *fixture) ranOn(executor, run string) {
	f.t.Helper()
	want := ""
	if executor == config.ExecutorDistributed {
		want = "w1"
	}
	tis, err := f.app.Store.TaskInstances(context.Background(), run)
	if err != nil {
		f.t.Fatal(err)
	}
	n := 0
	for _, ti := range tis {
		if ti.TaskID == grpipe.TaskETL {
			n++
			if ti.Worker != want {
				f.t.Errorf("%s: ETL try %d ran on worker %q, want %q (executor %s)", run, ti.TryNumber, ti.Worker, want, executor)
			}
		}
	}
	if n == 0 {
		f.t.Errorf("%s: no ETL try", run)
	}
}

// eachExecutor runs test on the local and on the distributed executor: the
// DAG's semantics (depends_on_past, max_active_runs, clear) are decided
// above the executor, and hold on both.
func eachExecutor(t *testing.T, test func(t *testing.T, executor string)) {
	for _, x := range []string{config.ExecutorLocal, config.ExecutorDistributed} {
		t.Run(x, func(t *testing.T) {
			if x == config.ExecutorDistributed && testing.Short() {
				t.Skip("PostgreSQL, an S3 server and a worker")
			}
			test(t, x)
		})
	}
}

func (f *fixture) scheduler(opts scheduler.Options) *scheduler.Scheduler {
	f.t.Helper()
	opts.SchedulerLock = app.SchedulerLockPath(f.cfg)
	opts.Clock = f.clock
	s, err := scheduler.New(opts, f.app.Store, f.app.Orchestrator, slog.New(slog.DiscardHandler))
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

func (f *fixture) tick(s *scheduler.Scheduler) {
	f.t.Helper()
	if err := s.Tick(context.Background(), nil); err != nil {
		f.t.Fatal(err)
	}
}

// runs returns the runs oldest first.
func (f *fixture) runs() []grpipe.Run {
	f.t.Helper()
	rs, err := f.app.Store.ListRuns(context.Background(), 1000)
	if err != nil {
		f.t.Fatal(err)
	}
	for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
		rs[i], rs[j] = rs[j], rs[i]
	}
	return rs
}

func (f *fixture) landSample() {
	f.t.Helper()
	f.home.LandSample()
}

func at(hm string) time.Time {
	t, _ := time.Parse("15:04", hm)
	return day.Add(time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute)
}

// TestCatchupCreatesMissedIntervalsOldestFirst: the missed intervals run
// oldest first, one at a time (max_active_runs=1); on both executors.
func TestCatchupCreatesMissedIntervalsOldestFirst(t *testing.T) {
	eachExecutor(t, testCatchupOldestFirst)
}

func testCatchupOldestFirst(t *testing.T, executor string) {
	f := newFixtureOn(t, executor, false)
	f.landSample()
	s := f.scheduler(scheduler.Options{Schedule: "*/10 * * * *", Catchup: true, StartDate: at("00:00")})
	f.clock.Set(at("00:35"))
	f.tick(s)
	runs := f.runs()
	want := [][3]string{{"00:00", "00:00", "00:10"}, {"00:10", "00:10", "00:20"}, {"00:20", "00:20", "00:30"}}
	if len(runs) != len(want) {
		t.Fatalf("%d runs, want %d: %+v", len(runs), len(want), runs)
	}
	for i, r := range runs {
		if !r.LogicalDate.Equal(at(want[i][0])) || !r.DataIntervalStart.Equal(at(want[i][1])) || !r.DataIntervalEnd.Equal(at(want[i][2])) {
			t.Errorf("run %d: logical %s interval [%s, %s), want %v", i, r.LogicalDate, r.DataIntervalStart, r.DataIntervalEnd, want[i])
		}
		if r.RunType != "scheduled" || r.State != grpipe.StateSuccess || r.RunID != "scheduled__"+at(want[i][0]).Format("2006-01-02T15:04:05.000000Z") {
			t.Errorf("run %d: %s %s %s", i, r.RunID, r.RunType, r.State)
		}
		if i > 0 && r.StartedAt.Before(runs[i-1].EndedAt) {
			t.Errorf("run %d started before run %d ended: not one at a time, oldest first", i, i-1)
		}
	}
	// The sample was loaded once, by the first run.
	sum, err := f.app.Store.Summary(context.Background(), runs[0].RunID)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Tables["reviews"].Read != 500 || !sum.DataIntervalStart.Equal(at("00:00")) {
		t.Errorf("first run read %d reviews, interval start %s", sum.Tables["reviews"].Read, sum.DataIntervalStart)
	}
	f.ranOn(executor, runs[0].RunID)

	// Time passes: the next tick creates just the interval that ended.
	f.clock.Set(at("00:41"))
	f.tick(s)
	if runs := f.runs(); len(runs) != 4 || !runs[3].LogicalDate.Equal(at("00:30")) {
		t.Fatalf("after 00:41: %d runs, last %+v", len(runs), runs[len(runs)-1])
	}
	f.tick(s)
	if n := len(f.runs()); n != 4 {
		t.Errorf("a second tick in the same interval made %d runs", n)
	}
}

func TestNoCatchupRunsOnlyTheLatestInterval(t *testing.T) {
	f := newFixture(t, false)
	s := f.scheduler(scheduler.Options{Schedule: "*/10 * * * *", StartDate: at("00:00")})
	f.clock.Set(at("00:35"))
	start, end, ok, err := s.NextInterval(context.Background(), f.clock.Now())
	if err != nil || !ok || !start.Equal(at("00:20")) || !end.Equal(at("00:30")) {
		t.Fatalf("next interval [%s, %s) ok %v err %v, want [00:20, 00:30)", start, end, ok, err)
	}
	// An @every schedule, no start date and no history: the latest interval that ended.
	s2 := f.scheduler(scheduler.Options{Schedule: "@every 30s"})
	start, end, ok, _ = s2.NextInterval(context.Background(), at("00:35"))
	if !ok || end.After(at("00:35")) || end.Sub(start) != 30*time.Second {
		t.Errorf("@every 30s: [%s, %s) ok %v", start, end, ok)
	}
}

func TestEndDateStopsCatchup(t *testing.T) {
	f := newFixture(t, false)
	f.landSample()
	s := f.scheduler(scheduler.Options{Schedule: "*/10 * * * *", Catchup: true, StartDate: at("00:00"), EndDate: at("00:10")})
	f.clock.Set(at("01:00"))
	f.tick(s)
	runs := f.runs()
	if len(runs) != 2 || !runs[1].LogicalDate.Equal(at("00:10")) {
		t.Fatalf("runs %+v, want logical dates 00:00 and 00:10", runs)
	}
}

func TestBadSchedule(t *testing.T) {
	_, err := orchestrator.ParseSchedule("every ten minutes")
	if err == nil || !strings.Contains(err.Error(), `schedule "every ten minutes"`) {
		t.Errorf("error %v", err)
	}
}

func TestPausedAndTriggered(t *testing.T) {
	f := newFixture(t, false)
	f.landSample()
	ctx := context.Background()
	s := f.scheduler(scheduler.Options{Schedule: "*/10 * * * *", StartDate: at("00:00")})
	if err := f.app.Store.SetPaused(ctx, true, day); err != nil {
		t.Fatal(err)
	}
	if _, err := f.app.Store.EnqueueRun(ctx, grpipe.Run{RunID: "manual__x", RunType: grpipe.RunManual, LogicalDate: at("00:05"), QueuedAt: at("00:05")}); err != nil {
		t.Fatal(err)
	}
	f.clock.Set(at("00:35"))
	f.tick(s)
	if runs := f.runs(); len(runs) != 1 || runs[0].State != grpipe.StateQueued {
		t.Fatalf("paused: runs %+v, want the triggered run still queued", runs)
	}
	if err := f.app.Store.SetPaused(ctx, false, day); err != nil {
		t.Fatal(err)
	}
	f.tick(s)
	runs := f.runs()
	if len(runs) != 2 || runs[0].RunID != "manual__x" || runs[0].State != grpipe.StateSuccess || runs[1].RunType != "scheduled" || runs[1].State != grpipe.StateSuccess {
		t.Fatalf("unpaused: runs %+v, want the triggered run then the scheduled one, both done", runs)
	}
}

// TestDependsOnPastUntilCleared: a run whose ETL failed holds the next
// interval's ETL back (depends_on_past), the runs after it wait
// (max_active_runs=1), and clearing the failed task lets both finish; on
// both executors.
func TestDependsOnPastUntilCleared(t *testing.T) {
	eachExecutor(t, testDependsOnPastUntilCleared)
}

func testDependsOnPastUntilCleared(t *testing.T, executor string) {
	f := newFixtureOn(t, executor, true)
	ctx := context.Background()
	f.landSample()
	// An empty file is refused whole: the ETL task of the first run fails.
	if _, err := f.app.Zones.Put(ctx, "landing/book-empty.csv", strings.NewReader("")); err != nil {
		t.Fatal(err)
	}
	s := f.scheduler(scheduler.Options{Schedule: "*/10 * * * *", StartDate: at("00:00"), Catchup: true})
	f.clock.Set(at("00:15"))
	f.tick(s)
	runs := f.runs()
	if len(runs) != 1 || runs[0].State != grpipe.StateFailed {
		t.Fatalf("runs %+v, want one failed run", runs)
	}
	first := runs[0].RunID

	f.clock.Set(at("00:25"))
	f.tick(s)
	runs = f.runs()
	if len(runs) != 2 || runs[1].State != grpipe.StateQueued || !strings.Contains(runs[1].Error, "depends_on_past") {
		t.Fatalf("second run %+v, want queued waiting on depends_on_past", runs[len(runs)-1])
	}
	second := runs[1].RunID
	sum, _ := f.app.Store.Summary(ctx, second)
	states := map[string]grpipe.State{}
	for _, ts := range sum.Tasks {
		states[ts.TaskID] = ts.State
	}
	if states[grpipe.TaskBegin] != grpipe.StateSuccess || states[grpipe.TaskETL] != grpipe.StateQueued || states[grpipe.TaskStop] != grpipe.StateQueued {
		t.Errorf("second run's tasks %v: Begin ran, ETL and after wait", states)
	}
	tis, _ := f.app.Store.TaskInstances(ctx, second)
	for _, ti := range tis {
		if ti.TaskID == grpipe.TaskETL {
			t.Errorf("the blocked ETL task started: %+v", ti)
		}
	}
	// Waiting holds back later intervals (max_active_runs=1).
	f.clock.Set(at("00:45"))
	f.tick(s)
	if n := len(f.runs()); n != 2 {
		t.Errorf("%d runs while one waits, want 2", n)
	}

	// Clear the failed task (and what follows): the first run re-runs it
	// (the refused file stays held), then the second run proceeds.
	if _, err := f.app.Orchestrator.Clear(ctx, first, grpipe.TaskETL, true); err != nil {
		t.Fatal(err)
	}
	f.tick(s)
	runs = f.runs()
	if runs[0].State != grpipe.StateSuccess || runs[1].State != grpipe.StateSuccess {
		t.Fatalf("after clear: %+v", runs)
	}
	tis, _ = f.app.Store.TaskInstances(ctx, first)
	var etl []string
	for _, ti := range tis {
		if ti.TaskID == grpipe.TaskETL {
			etl = append(etl, string(ti.State))
		}
		if ti.TaskID == grpipe.TaskBegin && ti.TryNumber != 1 {
			t.Errorf("Begin_execution, not cleared, ran again: %+v", ti)
		}
	}
	if strings.Join(etl, ",") != "failed,success" {
		t.Errorf("first run's ETL tries %v, want failed then success", etl)
	}
	f.ranOn(executor, first)
	f.ranOn(executor, second)
	if n := len(runs); n != 4 {
		t.Errorf("%d runs after the queue drained, want 4 (00:00, 00:10, 00:20, 00:30)", n)
	}
}

func TestResumesARunLeftRunning(t *testing.T) {
	f := newFixture(t, false)
	ctx := context.Background()
	// A run a dead process left running, in the middle of its ETL task.
	if err := f.app.Warehouse.Setup(ctx); err != nil { // what its Begin_execution did
		t.Fatal(err)
	}
	id := "scheduled__2026-03-01T00:00:00.000000Z"
	if err := f.app.Store.StartRun(ctx, grpipe.Run{RunID: id, RunType: grpipe.RunScheduled, LogicalDate: at("00:00"),
		DataIntervalStart: at("00:00"), DataIntervalEnd: at("00:10"), StartedAt: at("00:10")}); err != nil {
		t.Fatal(err)
	}
	begin := grpipe.TaskSummary{TaskID: grpipe.TaskBegin, State: grpipe.StateSuccess, StartedAt: at("00:10"), EndedAt: at("00:10")}
	if err := f.app.Store.TaskEnded(ctx, id, begin, 1, "done"); err != nil {
		t.Fatal(err)
	}
	if err := f.app.Store.TaskStarted(ctx, id, grpipe.TaskETL, "etl", 1, at("00:10")); err != nil {
		t.Fatal(err)
	}
	f.landSample()
	s := f.scheduler(scheduler.Options{Schedule: "*/10 * * * *", StartDate: at("00:00"), Catchup: true})
	f.clock.Set(at("00:15"))
	f.tick(s)
	runs := f.runs()
	if len(runs) != 1 || runs[0].State != grpipe.StateSuccess {
		t.Fatalf("runs %+v, want the interrupted run resumed to success", runs)
	}
	tis, _ := f.app.Store.TaskInstances(ctx, id)
	var etl []runstore.TaskInstance
	for _, ti := range tis {
		if ti.TaskID == grpipe.TaskETL {
			etl = append(etl, ti)
		}
	}
	if len(etl) != 2 || etl[0].State != grpipe.StateFailed || !strings.Contains(etl[0].Error, "process running it stopped") || etl[1].State != grpipe.StateSuccess || etl[1].TryNumber != 2 {
		t.Errorf("ETL tries %+v", etl)
	}
	if log, n, err := f.app.Store.TaskLog(ctx, id, grpipe.TaskETL, 0); err != nil || n != 2 || !strings.Contains(log, "claimed") {
		t.Errorf("latest ETL log (try %d, %v): %q", n, err, log)
	}
}

func TestRunLoopOnFakeClockAndStop(t *testing.T) {
	f := newFixture(t, false)
	s := f.scheduler(scheduler.Options{Schedule: "*/10 * * * *", StartDate: at("00:00"), Catchup: true, Poll: time.Minute, HeartbeatEvery: time.Minute})
	f.landSample()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	waitRuns := func(n int) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			ok, _ := f.app.Store.ListRuns(context.Background(), 100, grpipe.StateSuccess)
			if len(ok) >= n {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("fewer than %d successful runs", n)
	}
	f.clock.Set(at("00:10"))
	waitRuns(1)
	for _, hm := range []string{"00:11", "00:12", "00:13", "00:14", "00:15", "00:16", "00:17", "00:18", "00:19", "00:20"} {
		time.Sleep(30 * time.Millisecond)
		f.clock.Set(at(hm))
	}
	waitRuns(2)
	if hb, err := f.app.Store.LastHeartbeat(context.Background()); err != nil || hb.State != "running" || hb.PID != os.Getpid() {
		t.Errorf("heartbeat %+v %v", hb, err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("scheduler did not stop")
	}
	if hb, _ := f.app.Store.LastHeartbeat(context.Background()); hb.State != "stopped" {
		t.Errorf("heartbeat after stop: %+v", hb)
	}
	if _, err := os.Stat(filepath.Join(f.cfg.Home, "scheduler.lock")); err != nil {
		t.Errorf("scheduler lock file: %v", err)
	}
}

// Defect 9: an interval whose run id was taken by a run of another kind (a
// manual run named scheduled__<time>, as the API once accepted) is neither
// skipped silently nor forever: it runs under the next free id, and the
// intervals after it run as usual.
func TestIntervalWhoseIDIsTaken(t *testing.T) {
	f := newFixture(t, false)
	f.landSample()
	ctx := context.Background()
	squat := grpipe.NewRunID(grpipe.RunScheduled, at("00:10"))
	if _, err := f.app.Store.EnqueueRun(ctx, grpipe.Run{RunID: squat, RunType: grpipe.RunManual, LogicalDate: at("00:05"), QueuedAt: at("00:05")}); err != nil {
		t.Fatal(err)
	}
	if err := f.app.Store.FailInterrupted(ctx, squat, "a manual run named like a scheduled one", at("00:06")); err != nil {
		t.Fatal(err)
	}
	s := f.scheduler(scheduler.Options{Schedule: "*/10 * * * *", Catchup: true, StartDate: at("00:00")})
	f.clock.Set(at("00:35"))
	f.tick(s)
	got := map[string]string{}
	for _, r := range f.runs() {
		if r.RunType == grpipe.RunScheduled {
			got[r.DataIntervalStart.Format("15:04")] = r.RunID + " " + string(r.State)
		}
	}
	want := map[string]string{
		"00:00": grpipe.NewRunID(grpipe.RunScheduled, at("00:00")) + " success",
		"00:10": squat + ".2 success",
		"00:20": grpipe.NewRunID(grpipe.RunScheduled, at("00:20")) + " success",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("interval %s: %q, want %q (all: %v)", k, got[k], w, got)
		}
	}
}

// TestClockJumpsBackDuringARun is the fault matrix's clock cell: the
// system clock jumps back an hour while a scheduled run transforms. The run
// finishes; no interval runs twice while the clock is behind; once it has
// caught up, the intervals after it run, each once.
func TestClockJumpsBackDuringARun(t *testing.T) {
	var f *fixture
	jumped := false
	h := testsupport.NewHome(t, func(c *config.Config) {
		c.Orchestrator.RetryDelay = 10 * time.Millisecond
		c.Orchestrator.DependsOnPast = true
	}, app.WithCrash(func(point string) {
		if point == "transform" && !jumped {
			jumped = true
			f.clock.Set(f.clock.Now().Add(-time.Hour))
		}
	}))
	f = &fixture{t: t, cfg: h.App.Config, app: h.App, home: h, clock: testsupport.NewClock(day)}
	f.landSample()
	s := f.scheduler(scheduler.Options{Schedule: "*/10 * * * *", Catchup: true, StartDate: at("00:00")})
	f.clock.Set(at("00:35"))
	f.tick(s)
	if !jumped {
		t.Fatal("the clock never jumped")
	}
	runs := f.runs()
	if len(runs) != 1 || runs[0].State != grpipe.StateSuccess || !runs[0].DataIntervalStart.Equal(at("00:00")) {
		t.Fatalf("while the clock is an hour behind: %+v", runs)
	}
	for range 3 {
		f.tick(s) // still behind: nothing is due, nothing runs twice
	}
	if n := len(f.runs()); n != 1 {
		t.Fatalf("%d runs while the clock was behind, want 1", n)
	}
	f.clock.Set(at("00:35")) // caught up
	f.tick(s)
	seen := map[string]int{}
	for _, r := range f.runs() {
		if r.State != grpipe.StateSuccess {
			t.Errorf("run %s: %s %s", r.RunID, r.State, r.Error)
		}
		seen[r.DataIntervalStart.Format("15:04")]++
	}
	if len(seen) != 3 || seen["00:00"] != 1 || seen["00:10"] != 1 || seen["00:20"] != 1 {
		t.Fatalf("intervals run: %v, want 00:00, 00:10 and 00:20 once each", seen)
	}
	if got := f.home.Query("SELECT count(*) FROM goodreads_warehouse.reviews"); got[0][0] != "60" {
		t.Fatalf("reviews in the warehouse: %v", got)
	}
	// Each run's ledgers balance, and the warehouse's tables and rejected
	// rows equal a clean run's on the same files (the analytics tables are
	// cut by each run's data interval, so they are not compared here).
	for _, r := range f.runs() {
		sum, err := f.app.Store.Summary(context.Background(), r.RunID)
		if err != nil {
			t.Fatal(err)
		}
		for name, l := range sum.Tables {
			if !l.Balanced() {
				t.Errorf("run %s: ledger of %s does not balance: %+v", r.RunID, name, l)
			}
		}
	}
	ref := testsupport.NewHome(t, nil)
	ref.LandSample()
	ref.MustSucceed(ref.Run())
	got, want := f.home.Snapshot(), ref.Snapshot()
	keys := []string{testsupport.Rejected}
	for _, e := range grpipe.Entities() {
		keys = append(keys, e.Name)
	}
	for _, k := range keys {
		if !reflect.DeepEqual(got[k], want[k]) {
			t.Errorf("%s differs from a clean run's:\n got %.300v\nwant %.300v", k, got[k], want[k])
		}
	}
}
