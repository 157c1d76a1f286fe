package runstore_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/runstore"
)

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func open(t *testing.T) *runstore.Store {
	t.Helper()
	st, err := runstore.Open(context.Background(), filepath.Join(t.TempDir(), "grpipe.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestUpgradeFromFirstSchema opens a home written by a grpipe that knew only
// migration 0001: its runs are kept, the new tables are added, and the
// ledger and checks that run_ledger and run_checks repeated are read from
// the run's summary once those tables are gone.
func TestUpgradeFromFirstSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "grpipe.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	first, err := os.ReadFile("migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`, string(first),
		`INSERT INTO schema_migrations VALUES (1, '2026-01-01T00:00:00Z')`,
		`INSERT INTO dag_runs (run_id, dag_id, run_type, state, logical_date, started_at, ended_at, summary) VALUES ('manual__old', 'goodreads_pipeline', 'manual', 'success', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', '2026-01-01T00:01:00Z',
			'{"run_id":"manual__old","dag_id":"goodreads_pipeline","state":"success","started_at":"2026-01-01T00:00:00Z","ended_at":"2026-01-01T00:01:00Z","tasks":[],"tables":{"reviews":{"read":5,"rejected":1,"superseded":0,"staged":4,"inserted":4,"updated":0,"stale":0}},"checks":[{"name":"row_count","table":"goodreads_warehouse.reviews","passed":true,"detail":"4 rows"}]}')`,
		`INSERT INTO run_ledger VALUES ('manual__old', 'reviews', 5, 1, 0, 4, 4, 0, 0)`,
		`INSERT INTO run_checks VALUES ('manual__old', 0, 'row_count', 'goodreads_warehouse.reviews', 1, '4 rows')`,
		`INSERT INTO task_instances (run_id, task_id, try_number, state, log) VALUES ('manual__old', 'GoodReadsETLJob', 1, 'success', 'old log')`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	st, err := runstore.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	var v int
	if err := st.DB().QueryRow(`SELECT max(version) FROM schema_migrations`).Scan(&v); err != nil || v < 2 {
		t.Errorf("schema version %d %v", v, err)
	}
	tis, err := st.TaskInstances(ctx, "manual__old")
	if err != nil || len(tis) != 1 || tis[0].Kind != "" || tis[0].State != grpipe.StateSuccess {
		t.Errorf("old task instances %+v %v", tis, err)
	}
	if log, _, err := st.TaskLog(ctx, "manual__old", "GoodReadsETLJob", 1); err != nil || log != "old log" {
		t.Errorf("old log %q %v", log, err)
	}
	if p, err := st.Paused(ctx); err != nil || p {
		t.Errorf("paused %v %v", p, err)
	}
	sum, err := st.Summary(ctx, "manual__old")
	if err != nil || sum.Tables["reviews"].Staged != 4 || sum.Tables["reviews"].Rejected != 1 || len(sum.Checks) != 1 || sum.Checks[0].Detail != "4 rows" ||
		sum.RunType != grpipe.RunManual || sum.State != grpipe.StateSuccess {
		t.Errorf("old run's summary %+v %v", sum, err)
	}
	for _, table := range []string{"run_ledger", "run_checks"} {
		var n int
		if err := st.DB().QueryRow(`SELECT count(*) FROM sqlite_master WHERE name = ?`, table).Scan(&n); err != nil || n != 0 {
			t.Errorf("%s still exists (%d) %v", table, n, err)
		}
	}
}

func TestRunsTasksAndClear(t *testing.T) {
	eachStore(t, func(t *testing.T, st *runstore.Store) {
		ctx := context.Background()
		id := "scheduled__2026-03-01T00:00:00.000000Z"
		created, err := st.EnqueueRun(ctx, grpipe.Run{RunID: id, RunType: grpipe.RunScheduled, LogicalDate: t0, DataIntervalStart: t0, DataIntervalEnd: t0.Add(10 * time.Minute), StartedAt: t0})
		if err != nil || !created {
			t.Fatal(created, err)
		}
		if again, _ := st.EnqueueRun(ctx, grpipe.Run{RunID: id, RunType: grpipe.RunScheduled, LogicalDate: t0}); again {
			t.Errorf("the same interval was queued twice")
		}
		if q, _ := st.QueuedRuns(ctx); len(q) != 1 || q[0].RunID != id || !q[0].DataIntervalEnd.Equal(t0.Add(10*time.Minute)) {
			t.Errorf("queued %+v", q)
		}
		if err := st.MarkRunning(ctx, id, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		for try, state := range []grpipe.State{grpipe.StateFailed, grpipe.StateFailed, grpipe.StateFailed} {
			if err := st.TaskStarted(ctx, id, "GoodReadsETLJob", "etl", try+1, t0.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			ts := grpipe.TaskSummary{TaskID: "GoodReadsETLJob", Kind: "etl", State: state, StartedAt: t0.Add(time.Minute), EndedAt: t0.Add(2 * time.Minute), Error: "down"}
			if err := st.TaskEnded(ctx, id, ts, try+1, "log of try"); err != nil {
				t.Fatal(err)
			}
		}
		up := grpipe.TaskSummary{TaskID: "Stop_execution", State: grpipe.StateUpstreamFailed}
		if err := st.TaskEnded(ctx, id, up, 1, ""); err != nil {
			t.Fatal(err)
		}
		sum := &grpipe.RunSummary{Run: grpipe.Run{RunID: id, State: grpipe.StateFailed, EndedAt: t0.Add(3 * time.Minute), Error: "GoodReadsETLJob: down"},
			Tables: map[string]grpipe.Ledger{"reviews": {Read: 5, Rejected: 1, Staged: 4, Inserted: 4}},
			Checks: []grpipe.CheckResult{{Name: "row_count", Table: "goodreads_warehouse.reviews", Passed: true, Detail: "4 rows"}}}
		if err := st.FinishRun(ctx, sum); err != nil {
			t.Fatal(err)
		}
		stored, err := st.Summary(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if l := stored.Tables; l["reviews"].Rejected != 1 || l["reviews"].Inserted != 4 {
			t.Errorf("ledger %+v", l)
		}
		if cs := stored.Checks; len(cs) != 1 || !cs[0].Passed || cs[0].Detail != "4 rows" {
			t.Errorf("checks %+v", cs)
		}
		if runs, err := st.ListRuns(ctx, 10); err != nil || len(runs) != 1 || runs[0].State != grpipe.StateFailed {
			t.Errorf("runs %+v %v", runs, err)
		}
		latest, _ := st.LatestTaskInstances(ctx, id)
		if len(latest) != 2 || latest[1].TaskID != "GoodReadsETLJob" || latest[1].TryNumber != 3 || latest[1].DurationSeconds != 60 {
			t.Errorf("latest %+v", latest)
		}

		if err := st.ClearTasks(ctx, id, []string{"GoodReadsETLJob", "Stop_execution"}, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		rec, _ := st.Run(ctx, id)
		if rec.State != grpipe.StateQueued || !rec.EndedAt.IsZero() || rec.Error != "" {
			t.Errorf("cleared run %+v", rec)
		}
		tis, _ := st.TaskInstances(ctx, id)
		got := map[string][]int{}
		for _, ti := range tis {
			if ti.State == grpipe.StateQueued {
				got[ti.TaskID] = append(got[ti.TaskID], ti.TryNumber)
			}
		}
		// The ETL's next try is 4; Stop_execution never ran, so its queued try is 1.
		if len(got["GoodReadsETLJob"]) != 1 || got["GoodReadsETLJob"][0] != 4 || len(got["Stop_execution"]) != 1 || got["Stop_execution"][0] != 1 {
			t.Errorf("queued tries %v", got)
		}
		if log, n, _ := st.TaskLog(ctx, id, "GoodReadsETLJob", 2); n != 2 || log != "log of try" {
			t.Errorf("earlier try's log lost: %d %q", n, log)
		}
		if err := st.ClearTasks(ctx, "manual__nope", []string{"GoodReadsETLJob"}, t0); !errors.Is(err, grpipe.ErrNotFound) {
			t.Errorf("clear of an unknown run: %v", err)
		}
		if _, _, err := st.TaskLog(ctx, id, "GoodReadsETLJob", 9); !errors.Is(err, grpipe.ErrNotFound) {
			t.Errorf("unknown try: %v", err)
		}
	})
}

func TestPreviousRunPausedHeartbeat(t *testing.T) {
	eachStore(t, func(t *testing.T, st *runstore.Store) {
		ctx := context.Background()
		for i, id := range []string{"scheduled__a", "manual__b", "scheduled__c"} {
			if _, err := st.EnqueueRun(ctx, grpipe.Run{RunID: id, RunType: grpipe.RunScheduled, LogicalDate: t0.Add(time.Duration(i) * time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}
		if p, ok, err := st.PreviousRun(ctx, "scheduled__c"); err != nil || !ok || p.RunID != "manual__b" {
			t.Errorf("previous of c: %+v %v %v", p, ok, err)
		}
		if _, ok, _ := st.PreviousRun(ctx, "scheduled__a"); ok {
			t.Errorf("the first run has a previous one")
		}
		if err := st.SetPaused(ctx, true, t0); err != nil {
			t.Fatal(err)
		}
		if p, _ := st.Paused(ctx); !p {
			t.Errorf("not paused")
		}
		if _, err := st.LastHeartbeat(ctx); !errors.Is(err, grpipe.ErrNotFound) {
			t.Errorf("heartbeat before any scheduler: %v", err)
		}
		if err := st.Beat(ctx, runstore.Heartbeat{PID: 42, Schedule: "@every 1s", State: "running", StartedAt: t0, BeatAt: t0.Add(5 * time.Second)}); err != nil {
			t.Fatal(err)
		}
		if hb, err := st.LastHeartbeat(ctx); err != nil || hb.PID != 42 || !hb.BeatAt.Equal(t0.Add(5*time.Second)) || hb.Hostname == "" {
			t.Errorf("heartbeat %+v %v", hb, err)
		}
	})
}
