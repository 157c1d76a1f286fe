package pipeline_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/app"
	"github.com/grpipe/grpipe/internal/config"
	"github.com/grpipe/grpipe/internal/fake"
	"github.com/grpipe/grpipe/internal/landing"
	"github.com/grpipe/grpipe/internal/postgres/pgtest"
	"github.com/grpipe/grpipe/internal/testsupport"
)

// copyFault sets up a COPY fault cell: a PostgreSQL cluster, a 30,000-record
// batch and land to put it into a home's landing zone, the snapshot of a
// clean run on DuckDB (want), a configuration on the cluster's warehouse
// with the given ETL retries, and a connection that watches the server.
func copyFault(t *testing.T, retries int) (c *pgtest.Cluster, land func(*testsupport.Home), want conformanceResult, cfg config.Config, watcher *sql.DB) {
	t.Helper()
	c = pgtest.StartCluster(t)
	ctx := context.Background()
	paths, _, err := fake.WriteBatch(ctx, filepath.Join(t.TempDir(), "batch"), "", fake.Options{Records: 30000, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	land = func(h *testsupport.Home) {
		if _, err := landing.Land(ctx, h.App.Zones, paths, nil); err != nil {
			t.Fatal(err)
		}
	}
	ref := testsupport.NewHome(t, nil)
	land(ref)
	refRun := ref.Run()
	ref.MustSucceed(refRun)
	want = conformanceSnapshot(ref, []*grpipe.RunSummary{refRun})

	cfg = testsupport.Config(t, t.TempDir(), func(cf *config.Config) {
		cf.Orchestrator.Retries = retries
		testsupport.Set(t, cf, "warehouse", c.DSN("postgres"))
	})
	watcher, err = sql.Open("pgx", c.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { watcher.Close() })
	return c, land, want, cfg, watcher
}

// TestPostgresRestartDuringCopy is the fault matrix's cell for a PostgreSQL
// server restarted while a run streams a batch with COPY (into the empty
// tables of a fresh warehouse, inside the upsert's transaction): the run
// fails naming the server, nothing of the interrupted COPY stays, and
// the next run finishes the batch with the warehouse, ledger and checks of
// an uninterrupted run (on DuckDB).
func TestPostgresRestartDuringCopy(t *testing.T) {
	c, land, want, cfg, watcher := copyFault(t, 0)
	restarted := make(chan error, 1)
	started := false
	hook := app.WithCrash(func(point string) {
		if point != "transform" || started {
			return
		}
		started = true
		go whenSeen(watcher, `SELECT count(*) FROM pg_stat_activity
					WHERE application_name = 'grpipe' AND state = 'active' AND query ILIKE 'copy%'`, 60*time.Second, 5*time.Millisecond, c.Restart, "no COPY was seen running", restarted)
	})
	h := testsupport.OpenHome(t, cfg, hook)
	land(h)
	failed := h.Run()
	if err := <-restarted; err != nil {
		t.Fatalf("restart: %v", err)
	}
	h.App.Close()
	if failed.State != grpipe.StateFailed || !strings.Contains(failed.Error, c.Addr()) || strings.Contains(failed.Error, c.Password) {
		t.Fatalf("run through a restart during COPY: %s %q", failed.State, failed.Error)
	}
	t.Logf("run error: %s", failed.Error)

	h = testsupport.OpenHome(t, cfg)
	again := h.Run()
	h.MustSucceed(again)
	if len(again.Recovered) != 1 {
		t.Errorf("rerun recovered %v, want the failed run's batch", again.Recovered)
	}
	for name, l := range again.Tables {
		if !l.Balanced() {
			t.Errorf("ledger of %s does not balance: %+v", name, l)
		}
	}
	compareResults(t, "postgres after a restart during COPY", conformanceSnapshot(h, []*grpipe.RunSummary{again}), want)
}

// TestPostgresStoppedDuringCopy is the fault matrix's cell for a PostgreSQL
// server that stops (an immediate shutdown) while a run streams a batch into
// staging with COPY, and is back before the ETL task's retry: the retry
// finishes the batch in the same run, with the warehouse, ledgers
// (balanced) and checks of an uninterrupted run (on DuckDB).
func TestPostgresStoppedDuringCopy(t *testing.T) {
	c, land, want, cfg, watcher := copyFault(t, 1)
	stopped := make(chan error, 1)
	started := false
	hook := app.WithCrash(func(point string) {
		if point != "transform" || started {
			return
		}
		started = true
		// The COPY's connection is cut in the statement that finds it, so
		// the COPY cannot commit between being seen and the server going
		// down (under load, pg_ctl takes long enough for a short COPY to
		// finish); then the server is stopped until the retry.
		go whenSeen(watcher, `WITH "copy" AS MATERIALIZED (SELECT pid FROM pg_stat_activity
					WHERE application_name = 'grpipe' AND state = 'active' AND query ILIKE 'copy%')
					SELECT count(*) FROM "copy" WHERE pg_terminate_backend(pid)`, 60*time.Second, 5*time.Millisecond, c.Stop, "no COPY was seen running", stopped)
	})
	retried := 0
	sleep := app.WithSleep(func(ctx context.Context, _ time.Duration) error {
		retried++
		if err := <-stopped; err != nil {
			t.Errorf("stop: %v", err)
		}
		c.Start()
		return ctx.Err()
	})
	h := testsupport.OpenHome(t, cfg, hook, sleep)
	land(h)
	sum := h.Run()
	if retried != 1 {
		t.Fatalf("the ETL task was retried %d times, want once (the server stopped during COPY)", retried)
	}
	h.MustSucceed(sum)
	if len(sum.Recovered) != 1 || sum.Recovered[0] != sum.RunID {
		t.Errorf("recovered %v: the retry should finish the first try's batch %s", sum.Recovered, sum.RunID)
	}
	for name, l := range sum.Tables {
		if !l.Balanced() {
			t.Errorf("ledger of %s does not balance: %+v", name, l)
		}
	}
	compareResults(t, "postgres stopped during COPY, back before the retry", conformanceSnapshot(h, []*grpipe.RunSummary{sum}), want)
}
