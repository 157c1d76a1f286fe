package pipeline_test

import (
	"context"
	"database/sql"
	"reflect"
	"strings"
	"testing"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/app"
	"github.com/grpipe/grpipe/internal/config"
	"github.com/grpipe/grpipe/internal/postgres/pgtest"
	"github.com/grpipe/grpipe/internal/testsupport"
)

// TestPostgresRestartDuringUpsert restarts PostgreSQL while a run's upsert
// transaction is open: the run fails with a message naming the server, the
// warehouse is as before the run, and the next run finishes the batch and
// gives the same warehouse as an uninterrupted run.
func TestPostgresRestartDuringUpsert(t *testing.T) {
	c := pgtest.StartCluster(t)
	// No retries: the try that meets the restart must end the run, as a
	// retry would (rightly) finish the batch in the same run.
	cfg := testsupport.Config(t, t.TempDir(), func(cf *config.Config) {
		cf.MaxRejectRatio = 0.5
		cf.Orchestrator.Retries = 0
		testsupport.Set(t, cf, "warehouse", c.DSN("postgres"))
	})

	h := testsupport.OpenHome(t, cfg)
	landBatch1(h)
	first := h.Run()
	h.MustSucceed(first)
	before := conformanceSnapshot(h, nil)
	landBatch2(h)
	h.App.Close()

	// Hold a lock on the reviews table so that the upsert stops inside its
	// transaction; restart the server once it waits there.
	locker, err := sql.Open("pgx", c.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close()
	restarted := make(chan error, 1)
	var once bool
	hook := app.WithCrash(func(point string) {
		if point != "stage" || once {
			return
		}
		once = true
		ctx := context.Background()
		tx, err := locker.BeginTx(ctx, nil)
		if err == nil {
			_, err = tx.ExecContext(ctx, "LOCK TABLE goodreads_warehouse.reviews IN ACCESS EXCLUSIVE MODE")
		}
		if err != nil {
			restarted <- err
			return
		}
		go whenSeen(locker, `SELECT count(*) FROM pg_stat_activity
						WHERE application_name = 'grpipe' AND wait_event_type = 'Lock'`, 30*time.Second, 10*time.Millisecond, c.Restart, "the upsert never waited on the lock", restarted)
	})
	h = testsupport.OpenHome(t, cfg, hook)
	failed := h.Run()
	if err := <-restarted; err != nil {
		t.Fatalf("restart: %v", err)
	}
	h.App.Close()
	if failed.State != grpipe.StateFailed {
		t.Fatalf("run survived a restart in its upsert: %s", failed.State)
	}
	if !strings.Contains(failed.Error, c.Addr()) || strings.Contains(failed.Error, c.Password) {
		t.Fatalf("run error %q: want the server's address and no password", failed.Error)
	}
	t.Logf("run error: %s", failed.Error)

	h = testsupport.OpenHome(t, cfg)
	if got := conformanceSnapshot(h, nil); !reflect.DeepEqual(got.tables, before.tables) {
		t.Fatalf("the warehouse changed in the failed run")
	}
	third := h.Run()
	h.MustSucceed(third)
	if len(third.Recovered) != 1 {
		t.Errorf("rerun recovered %v, want the failed run's batch", third.Recovered)
	}
	got := conformanceSnapshot(h, []*grpipe.RunSummary{first, third})

	ref := testsupport.NewHome(t, func(c *config.Config) { c.MaxRejectRatio = 0.5 })
	want := conformanceSnapshot(ref, conformanceBatches(ref))
	compareResults(t, "postgres after a restart", got, want)
}

// TestPostgresDownAtStart: a run against a server that is down fails with
// a message naming the setting and the address, and changes nothing; once
// the server is up, the next run succeeds.
func TestPostgresDownAtStart(t *testing.T) {
	c := pgtest.StartCluster(t)
	c.Stop()
	cfg := testsupport.Config(t, t.TempDir(), func(cfg *config.Config) { testsupport.Set(t, cfg, "warehouse", c.DSN("postgres")) })
	_, err := app.Open(context.Background(), cfg, nil)
	if err == nil {
		t.Fatal("opened a warehouse whose server is down")
	}
	msg := err.Error()
	for _, want := range []string{"warehouse", "GRPIPE_WAREHOUSE", c.Addr(), "cannot connect"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, c.Password) {
		t.Errorf("message %q shows the password", msg)
	}
	c.Start()
	h := testsupport.OpenHome(t, cfg)
	h.LandSample()
	h.MustSucceed(h.Run())
	if n := h.Count("goodreads_warehouse.reviews"); n != 60 {
		t.Fatalf("%d reviews, want 60", n)
	}
}

// TestPostgresStoppedDuringUpsert is the fault matrix's cell for a
// PostgreSQL server that stops (an immediate shutdown, as a crash) while a
// run's upsert transaction is open, in two forms:
//   - still down when the ETL task is retried: the run fails naming the
//     server (never the password), the warehouse is as before the run, and
//     once the server is back the next run finishes the batch;
//   - back before the retry: the retry finishes the batch in the same run.
//
// Either way the warehouse ends equal to that of uninterrupted runs, with
// the same ledgers (balanced) and checks.
func TestPostgresStoppedDuringUpsert(t *testing.T) {
	ref := testsupport.NewHome(t, func(c *config.Config) { c.MaxRejectRatio = 0.5 })
	want := conformanceSnapshot(ref, conformanceBatches(ref))

	for _, back := range []bool{false, true} {
		name := map[bool]string{false: "down past the retry", true: "back before the retry"}[back]
		t.Run(name, func(t *testing.T) {
			c := pgtest.StartCluster(t)
			cfg := testsupport.Config(t, t.TempDir(), func(cf *config.Config) {
				cf.MaxRejectRatio = 0.5
				cf.Orchestrator.Retries = 1
				testsupport.Set(t, cf, "warehouse", c.DSN("postgres"))
			})
			h := testsupport.OpenHome(t, cfg)
			landBatch1(h)
			first := h.Run()
			h.MustSucceed(first)
			before := conformanceSnapshot(h, nil)
			landBatch2(h)
			h.App.Close()

			stopped := make(chan error, 1)
			hook := stopDuringUpsert(t, c, stopped)
			// The wait before the retry: the server comes back in it, or
			// stays down.
			retried := 0
			sleep := app.WithSleep(func(ctx context.Context, _ time.Duration) error {
				retried++
				if err := <-stopped; err != nil {
					t.Errorf("stop: %v", err)
				}
				if back {
					c.Start()
				}
				return ctx.Err()
			})
			h = testsupport.OpenHome(t, cfg, hook, sleep)
			second := h.Run()
			h.App.Close()
			if retried != 1 {
				t.Fatalf("the ETL task was retried %d times, want once", retried)
			}
			if !back {
				if second.State != grpipe.StateFailed {
					t.Fatalf("run survived a server stopped in its upsert: %s", second.State)
				}
				if !strings.Contains(second.Error, c.Addr()) || strings.Contains(second.Error, c.Password) {
					t.Fatalf("run error %q: want the server's address and no password", second.Error)
				}
				t.Logf("run error: %s", second.Error)
				c.Start()
				h = testsupport.OpenHome(t, cfg)
				if got := conformanceSnapshot(h, nil); !reflect.DeepEqual(got.tables, before.tables) {
					t.Fatalf("the warehouse changed in the failed run")
				}
				second = h.Run()
				h.MustSucceed(second)
				if len(second.Recovered) != 1 {
					t.Errorf("rerun recovered %v, want the failed run's batch", second.Recovered)
				}
			} else {
				h.MustSucceed(second)
				h = testsupport.OpenHome(t, cfg)
			}
			for name, l := range second.Tables {
				if !l.Balanced() {
					t.Errorf("ledger of %s does not balance: %+v", name, l)
				}
			}
			compareResults(t, "postgres stopped in the upsert, "+name, conformanceSnapshot(h, []*grpipe.RunSummary{first, second}), want)
		})
	}
}

// stopDuringUpsert returns a hook that, when the ETL first reaches its
// stage step, locks the reviews table so that the upsert waits inside its
// transaction, and stops the server of c once it waits there; the outcome
// goes to stopped.
func stopDuringUpsert(t *testing.T, c *pgtest.Cluster, stopped chan<- error) app.Option {
	locker, err := sql.Open("pgx", c.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { locker.Close() })
	var once bool
	return app.WithCrash(func(point string) {
		if point != "stage" || once {
			return
		}
		once = true
		ctx := context.Background()
		tx, err := locker.BeginTx(ctx, nil)
		if err == nil {
			_, err = tx.ExecContext(ctx, "LOCK TABLE goodreads_warehouse.reviews IN ACCESS EXCLUSIVE MODE")
		}
		if err != nil {
			stopped <- err
			return
		}
		go whenSeen(locker, `SELECT count(*) FROM pg_stat_activity
						WHERE application_name = 'grpipe' AND wait_event_type = 'Lock'`, 30*time.Second, 10*time.Millisecond, c.Stop, "the upsert never waited on the lock", stopped)
	})
}
