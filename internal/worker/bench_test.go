package worker_test

import (
	"context"
	"testing"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/dag"
	"github.com/grpipe/grpipe/internal/postgres/pgtest"
	"github.com/grpipe/grpipe/internal/queue"
	"github.com/grpipe/grpipe/internal/runstore"
	"github.com/grpipe/grpipe/internal/worker"
	"github.com/jackc/pgx/v5/pgxpool"
)

// BenchmarkTryRoundTrip measures what distribution costs one try of a task
// that does nothing: record it queued, put it on the River queue, a worker
// takes it (LISTEN/NOTIFY), claims it, runs it, records its end, and the
// waiting side reads the end (polling every 5ms) — the metadata writes and
// the queue's latency per task instance.
func BenchmarkTryRoundTrip(b *testing.B) {
	ctx := context.Background()
	dsn := pgtest.Database(b)
	st, err := runstore.OpenMetadata(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	if err := queue.Migrate(ctx, pool, ""); err != nil {
		b.Fatal(err)
	}
	q, err := queue.Open(pool, "", nil)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := st.EnqueueRun(ctx, grpipe.Run{RunID: "manual__bench", RunType: grpipe.RunManual, LogicalDate: t0, QueuedAt: t0}); err != nil {
		b.Fatal(err)
	}
	noop := &dag.Local{Work: map[string]dag.Func{}}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- worker.Run(wctx, st, pool, noop, worker.Options{Name: "bench"}) }()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := runstore.TryKey{RunID: "manual__bench", TaskID: "Stop_execution", MapIndex: -1, Try: i + 1}
		(env{st, pool, q}).enqueue(b, k, 0)
		for {
			rec, err := st.TryRecord(ctx, k)
			if err != nil {
				b.Fatal(err)
			}
			if rec.State == grpipe.StateSuccess {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	b.StopTimer()
	stop()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}
