package queue

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/grpipe/grpipe/internal/postgres/pgtest"
)

func testPool(t *testing.T) (*pgxpool.Pool, string) {
	t.Helper()
	dsn := pgtest.Database(t)
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := Migrate(context.Background(), pool, ""); err != nil {
		t.Fatal(err)
	}
	return pool, dsn
}

func waitFor(t *testing.T, what string, within time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func jobStates(t *testing.T, pool *pgxpool.Pool) map[string]int {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT state::text, count(*) FROM river_job GROUP BY state`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kv struct {
		s string
		n int
	}, err error) {
		err = r.Scan(&kv.s, &kv.n)
		return kv, err
	})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int{}
	for _, kv := range out {
		m[kv.s] = kv.n
	}
	return m
}

func TestMigrateTwice(t *testing.T) {
	pool, _ := testPool(t)
	if err := Migrate(context.Background(), pool, ""); err != nil {
		t.Fatalf("second migration: %v", err)
	}
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("river_job: %d rows, %v", n, err)
	}
}

// A try is enqueued once however often it is enqueued, and a handler error
// never makes River run it again.
func TestEnqueueOnceRunOnce(t *testing.T) {
	pool, _ := testPool(t)
	ctx := context.Background()
	q, err := Open(pool, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	a := TaskArgs{RunID: "manual__x", TaskID: "GoodReadsETLJob", MapIndex: 3, Try: 1}
	failing := TaskArgs{RunID: "manual__x", TaskID: "Load_best_books", MapIndex: -1, Try: 2}
	for i, want := range []bool{true, false, false} {
		again := a
		again.Payload = []byte(fmt.Sprintf(`{"n":%d}`, i)) // the payload is not part of the job's identity
		got, err := q.Enqueue(ctx, again)
		if err != nil || got != want {
			t.Fatalf("enqueue %d: inserted=%v err=%v, want inserted=%v", i, got, err, want)
		}
	}
	if got, err := q.Enqueue(ctx, failing); err != nil || !got {
		t.Fatalf("enqueue: %v %v", got, err)
	}
	// The next try of the same instance is another job.
	next := a
	next.Try = 2
	if got, err := q.Enqueue(ctx, next); err != nil || !got {
		t.Fatalf("enqueue try 2: %v %v", got, err)
	}

	var mu sync.Mutex
	runs := map[string]int{}
	w, err := NewWorker(pool, WorkerOptions{ID: "w1", Concurrency: 2, Poll: 50 * time.Millisecond}, func(ctx context.Context, got TaskArgs) error {
		mu.Lock()
		runs[got.String()]++
		mu.Unlock()
		if got.String() == failing.String() {
			return errors.New("cannot record the outcome")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- w.Run(wctx) }()
	waitFor(t, "three jobs worked", 15*time.Second, func() bool { return w.Done() == 3 })
	// Enqueued again after it ran: still not run twice.
	if got, err := q.Enqueue(ctx, a); err != nil || got {
		t.Fatalf("enqueue after completion: inserted=%v err=%v", got, err)
	}
	time.Sleep(300 * time.Millisecond)
	stop()
	if err := <-errc; err != nil {
		t.Fatalf("worker stop: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if runs[a.String()] != 1 || runs[next.String()] != 1 || runs[failing.String()] != 1 || len(runs) != 3 {
		t.Fatalf("runs %v", runs)
	}
	st := jobStates(t, pool)
	if st["completed"] != 2 || st["discarded"] != 1 {
		t.Fatalf("job states %v: want 2 completed, 1 discarded (single attempt)", st)
	}
}

// Jobs spread over several workers, each running up to its concurrency.
func TestWorkersShareTheQueue(t *testing.T) {
	pool, _ := testPool(t)
	ctx := context.Background()
	q, err := Open(pool, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 12
	for i := range n {
		if _, err := q.Enqueue(ctx, TaskArgs{RunID: "r", TaskID: "GoodReadsETLJob", MapIndex: i, Try: 1}); err != nil {
			t.Fatal(err)
		}
	}
	var peak, cur atomic.Int32
	by := map[string]int{}
	var mu sync.Mutex
	handler := func(name string) Handler {
		return func(ctx context.Context, a TaskArgs) error {
			c := cur.Add(1)
			defer cur.Add(-1)
			for {
				p := peak.Load()
				if c <= p || peak.CompareAndSwap(p, c) {
					break
				}
			}
			mu.Lock()
			by[name]++
			mu.Unlock()
			time.Sleep(150 * time.Millisecond)
			return nil
		}
	}
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	var workers []*Worker
	var wg sync.WaitGroup
	for _, name := range []string{"a", "b", "c"} {
		w, err := NewWorker(pool, WorkerOptions{ID: name, Concurrency: 2, Poll: 50 * time.Millisecond}, handler(name))
		if err != nil {
			t.Fatal(err)
		}
		workers = append(workers, w)
		wg.Add(1)
		go func() { defer wg.Done(); _ = w.Run(wctx) }()
	}
	waitFor(t, "all jobs worked", 30*time.Second, func() bool {
		var d int64
		for _, w := range workers {
			d += w.Done()
		}
		return d == n
	})
	stop()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(by) < 2 {
		t.Fatalf("jobs ran on %v: want at least two workers", by)
	}
	if peak.Load() > 6 {
		t.Fatalf("%d tries at once, more than 3 workers x 2", peak.Load())
	}
}

// A stopping worker lets a try finish within the grace period, and cancels
// one that takes longer; either way Run returns nil.
func TestWorkerStopGrace(t *testing.T) {
	for _, tc := range []struct {
		name      string
		work      time.Duration
		cancelled bool
	}{
		{"finishes within grace", 300 * time.Millisecond, false},
		{"cut at the end of grace", time.Minute, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pool, _ := testPool(t)
			ctx := context.Background()
			q, err := Open(pool, "", nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := q.Enqueue(ctx, TaskArgs{RunID: "r", TaskID: "t", MapIndex: -1, Try: 1}); err != nil {
				t.Fatal(err)
			}
			started := make(chan struct{})
			result := make(chan error, 1)
			w, err := NewWorker(pool, WorkerOptions{ID: "w", Grace: time.Second, Poll: 50 * time.Millisecond}, func(ctx context.Context, a TaskArgs) error {
				close(started)
				select {
				case <-time.After(tc.work):
					result <- nil
				case <-ctx.Done():
					result <- ctx.Err()
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			wctx, stop := context.WithCancel(ctx)
			errc := make(chan error, 1)
			go func() { errc <- w.Run(wctx) }()
			<-started
			if len(w.Running()) != 1 {
				t.Fatalf("running %v", w.Running())
			}
			t0 := time.Now()
			stop()
			if err := <-errc; err != nil {
				t.Fatalf("Run: %v", err)
			}
			took := time.Since(t0)
			got := <-result
			if tc.cancelled != (got != nil) {
				t.Fatalf("try ended with %v", got)
			}
			if took > 5*time.Second {
				t.Fatalf("stop took %s", took)
			}
		})
	}
}
