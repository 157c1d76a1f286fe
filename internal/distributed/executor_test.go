package distributed_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/dag"
	"github.com/grpipe/grpipe/internal/dag/executortest"
	"github.com/grpipe/grpipe/internal/distributed"
	"github.com/grpipe/grpipe/internal/postgres/pgtest"
	"github.com/grpipe/grpipe/internal/queue"
	"github.com/grpipe/grpipe/internal/runstore"
	"github.com/grpipe/grpipe/internal/worker"
)

// recorded records each try in the run store before it hands it to the
// distributed executor, as the orchestrator does (a worker claims only a
// recorded try).
type recorded struct {
	store *runstore.Store
	x     *distributed.Executor
}

func (r recorded) Run(ctx context.Context, t dag.Try) dag.Result {
	if err := r.store.TaskStarted(context.WithoutCancel(ctx), t.Run.RunID, t.TaskID, t.Kind, t.Number, time.Now().UTC()); err != nil {
		now := time.Now().UTC()
		return dag.Result{Started: now, Ended: now, Err: err}
	}
	return r.x.Run(ctx, t)
}

// The executor conformance suite that dag.Local passes, on the distributed
// executor: each try goes through the River queue in a PostgreSQL metadata
// database to a worker (internal/worker, in this process, running the
// suite's work) and back through the run store.
func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("a PostgreSQL database and a worker per case")
	}
	executortest.Run(t, func(t *testing.T, work map[string]dag.Func) dag.Executor {
		ctx := context.Background()
		dsn := pgtest.Database(t)
		st, err := runstore.OpenMetadata(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		pool, err := pgxpool.New(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		if err := queue.Migrate(ctx, pool, ""); err != nil {
			t.Fatal(err)
		}
		q, err := queue.Open(pool, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		run := grpipe.Run{RunID: "manual__2026-01-01T00:00:00.000000Z", RunType: grpipe.RunManual, LogicalDate: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
		if _, err := st.EnqueueRun(ctx, run); err != nil {
			t.Fatal(err)
		}
		wctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			done <- worker.Run(wctx, st, pool, &dag.Local{Work: work}, worker.Options{Name: "conformance", Concurrency: 3,
				Beat: 100 * time.Millisecond, Poll: 50 * time.Millisecond})
		}()
		x := distributed.New(st, q, distributed.Options{Poll: 20 * time.Millisecond})
		t.Cleanup(func() {
			x.Close()
			stop()
			// A worker stopped before it registered ends with the cancellation.
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("worker: %v", err)
			}
		})
		return recorded{st, x}
	})
}
