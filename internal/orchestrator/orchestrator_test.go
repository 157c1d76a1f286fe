package orchestrator_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/app"
	"github.com/grpipe/grpipe/internal/config"
	"github.com/grpipe/grpipe/internal/testsupport"
)

// TestTransientFailureIsRetried breaks the ETL's scratch folder so that its
// first try fails after claiming the landed files, repairs it when the
// retry is announced, and checks the second try finishes the first try's
// batch: each try recorded with its own number, state and log, nothing lost
// and nothing loaded twice.
func TestTransientFailureIsRetried(t *testing.T) {
	dir := t.TempDir()
	cfg := testsupport.Config(t, dir, nil)
	work := filepath.Join(dir, "tmp", "work")
	if err := os.MkdirAll(filepath.Dir(work), 0o755); err != nil {
		t.Fatal(err)
	}
	// A file where the scratch folder should be: fetching a claimed file fails.
	if err := os.WriteFile(work, []byte("in the way"), 0o644); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var waits []time.Duration
	obs := &testsupport.Observer{OnRetry: func(string) { os.Remove(work) }}
	h := testsupport.OpenHome(t, cfg, app.WithObservers(obs), app.WithSleep(func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		waits = append(waits, d)
		mu.Unlock()
		return nil
	}))
	a := h.App
	h.LandSample()
	sum := h.Run()
	h.MustSucceed(sum)
	if retried := obs.Retries(); len(retried) != 1 || retried[0] != grpipe.TaskETL || len(waits) != 1 || waits[0] != 10*time.Second {
		t.Errorf("retries %v waits %v, want one ETL retry after the default 10s", retried, waits)
	}
	var etl grpipe.TaskSummary
	for _, ts := range sum.Tasks {
		if ts.TaskID == grpipe.TaskETL {
			etl = ts
		}
	}
	if etl.Tries != 2 || etl.Kind != "etl" {
		t.Errorf("ETL summary %+v, want 2 tries, kind etl", etl)
	}
	if len(sum.Recovered) != 1 || sum.Recovered[0] != sum.RunID {
		t.Errorf("recovered %v: the retry should finish the first try's batch %s", sum.Recovered, sum.RunID)
	}
	if got := h.Count("goodreads_warehouse.reviews"); got != 60 {
		t.Errorf("%d reviews, want 60", got)
	}
	if got := h.Count("goodreads_quality.loaded_batches"); got != 4 {
		t.Errorf("%d loaded batch entries, want 4 (nothing twice)", got)
	}
	ctx := context.Background()
	log1, n1, err := a.Store.TaskLog(ctx, sum.RunID, grpipe.TaskETL, 1)
	if err != nil || n1 != 1 || !strings.Contains(log1, "task failed") || !strings.Contains(log1, "claimed") {
		t.Errorf("try 1 log (%v): %q", err, log1)
	}
	log2, n2, err := a.Store.TaskLog(ctx, sum.RunID, grpipe.TaskETL, 0)
	if err != nil || n2 != 2 || !strings.Contains(log2, "resuming the batch of an interrupted run") || !strings.Contains(log2, "task succeeded") {
		t.Errorf("latest log, try %d (%v): %q", n2, err, log2)
	}
	tis, err := a.Store.TaskInstances(ctx, sum.RunID)
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	for _, ti := range tis {
		if ti.TaskID == grpipe.TaskETL {
			states = append(states, string(ti.State))
		}
	}
	if strings.Join(states, ",") != "failed,success" {
		t.Errorf("ETL instances %v", states)
	}
	// The stored summary (grpipe runs show --json) has the tries too.
	stored, err := a.Store.Summary(ctx, sum.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Tasks[1].Tries != 2 || stored.RunType != "manual" || stored.LogicalDate.IsZero() {
		t.Errorf("stored summary task %+v run_type %q", stored.Tasks[1], stored.RunType)
	}
}

// TestClearDownstreamReruns clears a task of a finished run with what
// follows it and executes the run again: only those tasks run, as new tries.
func TestClearDownstreamReruns(t *testing.T) {
	h := testsupport.NewHome(t, nil)
	h.LandSample()
	sum := h.Run()
	h.MustSucceed(sum)
	ctx := context.Background()
	ids, err := h.App.Orchestrator.Clear(ctx, sum.RunID, grpipe.TaskBookTables, true)
	if err != nil {
		t.Fatal(err)
	}
	if want := append([]string{grpipe.TaskBookTables}, grpipe.Downstream(grpipe.TaskBookTables)...); !slices.Equal(ids, want) {
		t.Errorf("cleared %v, want %v", ids, want)
	}
	if rec, _ := h.App.Store.Run(ctx, sum.RunID); rec.State != grpipe.StateQueued {
		t.Fatalf("cleared run is %s, want queued", rec.State)
	}
	again, err := h.App.Orchestrator.Resume(ctx, sum.RunID)
	if err != nil {
		t.Fatal(err)
	}
	h.MustSucceed(again)
	cleared := map[string]bool{}
	for _, id := range ids {
		cleared[id] = true
	}
	for _, ts := range again.Tasks {
		want := 1
		if cleared[ts.TaskID] {
			want = 2
		}
		if ts.Tries != want {
			t.Errorf("%s: %d tries, want %d", ts.TaskID, ts.Tries, want)
		}
	}
	if again.Tables["reviews"].Read != 500 || len(again.Checks) != len(sum.Checks) {
		t.Errorf("re-executed run lost its ledger or doubled its checks: read %d, %d checks (was %d)",
			again.Tables["reviews"].Read, len(again.Checks), len(sum.Checks))
	}
	if _, err := h.App.Orchestrator.Resume(ctx, sum.RunID); err == nil || !strings.Contains(err.Error(), "not queued") {
		t.Errorf("executing a finished run: %v", err)
	}
}

// TestDataIntervalReachesTheAnalytics queues a run whose data interval holds
// no review: with analytics.window_from_data_interval the ranking tables are
// built empty over that interval (and their checks fail); without it they
// count every review.
func TestDataIntervalReachesTheAnalytics(t *testing.T) {
	for _, fromInterval := range []bool{true, false} {
		t.Run(fmt.Sprint("window_from_data_interval=", fromInterval), func(t *testing.T) {
			h := testsupport.NewHome(t, func(c *config.Config) { c.Analytics.WindowFromDataInterval = fromInterval })
			h.LandSample()
			ctx := context.Background()
			start := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
			id := "scheduled__2001-01-01T00:00:00.000000Z"
			run, created, err := h.App.Orchestrator.Enqueue(ctx, grpipe.RunScheduled, start, start.Add(24*time.Hour))
			if err != nil || !created || run.RunID != id {
				t.Fatalf("Enqueue: %+v %v %v", run, created, err)
			}
			sum, err := h.App.Orchestrator.Resume(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			n := h.Count("goodreads_analytics.popular_books_review_count")
			if fromInterval && (n != 0 || sum.State != grpipe.StateFailed) {
				t.Errorf("over an empty interval: %d ranked books, run %s", n, sum.State)
			}
			if !fromInterval && (n != 10 || sum.State != grpipe.StateSuccess) {
				t.Errorf("over all time: %d ranked books, run %s: %s", n, sum.State, sum.Error)
			}
			if !sum.DataIntervalStart.Equal(start) || sum.RunType != "scheduled" {
				t.Errorf("summary interval %s type %s", sum.DataIntervalStart, sum.RunType)
			}
		})
	}
}

// Defects 1 and 9, at the service every entry point calls (CLI, web,
// scheduler): a manual run id that could leave its folder, or that takes
// a prefix the scheduler reserves, is refused with ErrBadInput and queues
// nothing; a valid one is queued.
func TestTriggerRefusesUnsafeRunIDs(t *testing.T) {
	h := testsupport.NewHome(t, nil)
	ctx := context.Background()
	svc := h.App.Orchestrator
	for _, id := range []string{".", "..", "../landing", "a/b", `a\b`, ".hidden", "x_try2", strings.Repeat("r", grpipe.MaxRunIDLen+1),
		"scheduled__2026-03-01T00:10:00.000000Z", "backfill__2026-03-01T00:00:00.000000Z"} {
		if _, err := svc.Trigger(ctx, id); !errors.Is(err, grpipe.ErrBadInput) {
			t.Errorf("Trigger(%q): %v, want ErrBadInput", id, err)
		}
	}
	if runs, err := svc.Runs(ctx, 100); err != nil || len(runs) != 0 {
		t.Fatalf("queued runs %v (%v), want none", runs, err)
	}
	run, err := svc.Trigger(ctx, "manual__mine")
	if err != nil || run.RunID != "manual__mine" || run.RunType != grpipe.RunManual {
		t.Fatalf("Trigger(manual__mine): %+v %v", run, err)
	}
}
