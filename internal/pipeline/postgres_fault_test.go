package pipeline_test

import (
	"context"
	"database/sql"
	"errors"
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
		go func() {
			deadline := time.Now().Add(30 * time.Second)
			for time.Now().Before(deadline) {
				var n int
				err := locker.QueryRow(`SELECT count(*) FROM pg_stat_activity
						WHERE application_name = 'grpipe' AND wait_event_type = 'Lock'`).Scan(&n)
				if err != nil {
					restarted <- err
					return
				}
				if n > 0 {
					c.Restart()
					restarted <- nil
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
			restarted <- errors.New("the upsert never waited on the lock")
		}()
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
