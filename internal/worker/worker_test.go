package worker_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/dag"
	"github.com/grpipe/grpipe/internal/distributed"
	"github.com/grpipe/grpipe/internal/postgres/pgtest"
	"github.com/grpipe/grpipe/internal/queue"
	"github.com/grpipe/grpipe/internal/runstore"
	"github.com/grpipe/grpipe/internal/worker"
)

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

type env struct {
	store *runstore.Store
	pool  *pgxpool.Pool
	q     *queue.Queue
}

func setup(t *testing.T) env {
	t.Helper()
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
	if _, err := st.EnqueueRun(ctx, grpipe.Run{RunID: "manual__w", RunType: grpipe.RunManual, LogicalDate: t0, QueuedAt: t0}); err != nil {
		t.Fatal(err)
	}
	return env{st, pool, q}
}

// enqueue records a try of task started (as the scheduler does) and puts it on the queue.
func (e env) enqueue(t testing.TB, k runstore.TryKey, timeout time.Duration) {
	t.Helper()
	if err := e.store.TaskStarted(context.Background(), k.RunID, k.TaskID, grpipe.KindSQL, k.Try, t0); err != nil {
		t.Fatal(err)
	}
	run := grpipe.Run{RunID: k.RunID, DAGID: grpipe.DAGID, RunType: grpipe.RunManual, LogicalDate: t0}
	args, err := distributed.Job(dag.Try{Run: run, TaskID: k.TaskID, Kind: grpipe.KindSQL, Number: k.Try, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.q.Enqueue(context.Background(), args); err != nil {
		t.Fatal(err)
	}
}

// work returns the local executor of test task functions, by task id.
func work(fs map[string]dag.Func) dag.Executor { return &dag.Local{Work: fs} }

func waitEnded(t *testing.T, st *runstore.Store, k runstore.TryKey) runstore.Try {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, err := st.TryRecord(context.Background(), k)
		if err != nil {
			t.Fatal(err)
		}
		if got.State == grpipe.StateSuccess || got.State == grpipe.StateFailed {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ended: %+v", k, got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func key(task string) runstore.TryKey {
	return runstore.TryKey{RunID: "manual__w", TaskID: task, MapIndex: -1, Try: 1}
}

// A worker runs the tries on the queue and records each one's state, log,
// output, error kind and its own name; a second worker may not take its name.
// TestWorkerRecordsALongTry: a try that runs longer than the time one
// record may take (RecordTimeout) still has its end recorded: each write
// gets its time when it starts, not when the try was claimed.
func TestWorkerRecordsALongTry(t *testing.T) {
	e := setup(t)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	tasks := work(map[string]dag.Func{"long": func(ctx context.Context, c *dag.Call) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
		c.AddLedger("reviews", grpipe.Ledger{Read: 7})
		return nil
	}})
	done := make(chan error, 1)
	go func() {
		done <- worker.Run(ctx, e.store, e.pool, tasks, worker.Options{Name: "w-long", Beat: 100 * time.Millisecond, Poll: 50 * time.Millisecond,
			RecordTimeout: 300 * time.Millisecond})
	}()
	e.enqueue(t, key("long"), 0)
	got := waitEnded(t, e.store, key("long"))
	if got.State != grpipe.StateSuccess || got.Worker != "w-long" || !strings.Contains(got.Output, `"read":7`) {
		t.Fatalf("a try of 1s with 300ms to record each write: %+v", got)
	}
	stop()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("worker: %v", err)
	}
}

func TestWorkerRunsTries(t *testing.T) {
	e := setup(t)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	tasks := work(map[string]dag.Func{
		"ok": func(ctx context.Context, c *dag.Call) error {
			c.Log.Info("transformed", "rows", 42)
			c.AddLedger("reviews", grpipe.Ledger{Read: 42})
			return nil
		},
		"bad": func(ctx context.Context, c *dag.Call) error {
			return errors.Join(errors.New("file reviews-1.csv refused"), grpipe.ErrBadInput)
		},
		"slow": func(ctx context.Context, c *dag.Call) error {
			<-ctx.Done()
			return ctx.Err()
		},
		"panics": func(ctx context.Context, c *dag.Call) error { panic("boom") },
	})
	done := make(chan error, 1)
	go func() {
		done <- worker.Run(ctx, e.store, e.pool, tasks, worker.Options{Name: "w-one", Concurrency: 2, Beat: 100 * time.Millisecond, Poll: 50 * time.Millisecond})
	}()
	e.enqueue(t, key("ok"), 0)
	e.enqueue(t, key("bad"), 0)
	e.enqueue(t, key("slow"), 200*time.Millisecond)
	e.enqueue(t, key("panics"), 0)

	ok := waitEnded(t, e.store, key("ok"))
	if ok.State != grpipe.StateSuccess || ok.Worker != "w-one" || !strings.Contains(ok.Output, `"read":42`) || !strings.Contains(ok.Log, "rows=42") || !strings.Contains(ok.Log, "worker=w-one") {
		t.Fatalf("try 0: %+v", ok)
	}
	bad := waitEnded(t, e.store, key("bad"))
	if bad.State != grpipe.StateFailed || bad.ErrorKind != "bad_input" {
		t.Fatalf("try 1: %+v", bad)
	}
	slow := waitEnded(t, e.store, key("slow"))
	if slow.State != grpipe.StateFailed || !strings.Contains(slow.Error, "timed out after 200ms") || slow.ErrorKind != "error" {
		t.Fatalf("try 2: %+v", slow)
	}
	panicked := waitEnded(t, e.store, key("panics"))
	if panicked.State != grpipe.StateFailed || !strings.Contains(panicked.Error, "panicked: boom") {
		t.Fatalf("try 3: %+v", panicked)
	}
	// The same name is refused while this worker lives.
	err := worker.Run(context.Background(), e.store, e.pool, tasks, worker.Options{Name: "w-one"})
	if !errors.Is(err, grpipe.ErrBusy) {
		t.Fatalf("second w-one: %v", err)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("worker: %v", err)
	}
	ws, err := e.store.Workers(context.Background())
	if err != nil || len(ws) != 1 || ws[0].State != runstore.WorkerStopped || ws[0].TriesDone != 4 || ws[0].Concurrency != 2 {
		t.Fatalf("workers %+v %v", ws, err)
	}
}

// A stopping worker lets a try finish within the grace period; one that
// takes longer is handed back (failed, kind handed_back), and the worker
// stops with nil within the grace period.
func TestWorkerStopHandsBack(t *testing.T) {
	e := setup(t)
	ctx, stop := context.WithCancel(context.Background())
	var started atomic.Int32
	tasks := work(map[string]dag.Func{
		"quick": func(ctx context.Context, c *dag.Call) error {
			started.Add(1)
			select {
			case <-time.After(300 * time.Millisecond):
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		},
		"long": func(ctx context.Context, c *dag.Call) error {
			started.Add(1)
			<-ctx.Done()
			return ctx.Err()
		},
	})
	done := make(chan error, 1)
	go func() {
		done <- worker.Run(ctx, e.store, e.pool, tasks, worker.Options{Name: "w-stop", Concurrency: 2, Grace: time.Second, Beat: 100 * time.Millisecond, Poll: 50 * time.Millisecond})
	}()
	e.enqueue(t, key("quick"), 0)
	e.enqueue(t, key("long"), 0)
	deadline := time.Now().Add(10 * time.Second)
	for started.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("tries not started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t1 := time.Now()
	stop()
	if err := <-done; err != nil {
		t.Fatalf("worker: %v", err)
	}
	if took := time.Since(t1); took > 4*time.Second {
		t.Fatalf("stop took %s, grace 1s", took)
	}
	if got := waitEnded(t, e.store, key("quick")); got.State != grpipe.StateSuccess {
		t.Fatalf("try within grace: %+v", got)
	}
	got := waitEnded(t, e.store, key("long"))
	if got.State != grpipe.StateFailed || got.ErrorKind != "handed_back" || !strings.Contains(got.Error, "handed back") {
		t.Fatalf("try cut by the stop: %+v", got)
	}
}

// A worker that loses the metadata database stops its running tries itself
// (before the schedulers would give them up and retry them elsewhere); when
// the database is back, its heartbeat no longer lists the try, and the try
// is found lost, to be retried.
func TestWorkerFencesWithoutTheDatabase(t *testing.T) {
	cl := pgtest.StartCluster(t)
	ctx := context.Background()
	dsn := cl.DSN("postgres")
	st, err := runstore.OpenMetadata(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := queue.Migrate(ctx, pool, ""); err != nil {
		t.Fatal(err)
	}
	q, err := queue.Open(pool, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.EnqueueRun(ctx, grpipe.Run{RunID: "manual__w", RunType: grpipe.RunManual, LogicalDate: t0, QueuedAt: t0}); err != nil {
		t.Fatal(err)
	}
	e := env{st, pool, q}
	started, ended := make(chan struct{}), make(chan error, 1)
	tasks := work(map[string]dag.Func{"fenced": func(ctx context.Context, c *dag.Call) error {
		close(started)
		<-ctx.Done()
		ended <- context.Cause(ctx)
		return ctx.Err()
	}})
	const alive, beat = 1500 * time.Millisecond, 100 * time.Millisecond
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- worker.Run(wctx, st, pool, tasks, worker.Options{Name: "w-fence", Alive: alive, Beat: beat, Poll: 50 * time.Millisecond})
	}()
	e.enqueue(t, key("fenced"), 0)
	<-started
	time.Sleep(time.Second) // the test cluster commits asynchronously: let the claim reach the disk
	cl.Stop()
	t1 := time.Now()
	select {
	case cause := <-ended:
		if !errors.Is(cause, worker.ErrFenced) {
			t.Fatalf("try stopped by %v, want the worker's fence", cause)
		}
		if took := time.Since(t1); took > alive {
			t.Fatalf("fenced after %s: want before the schedulers give up (%s)", took, alive)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the try went on without the database")
	}
	cl.Start()
	// Either the worker recorded the try's end once the database was back
	// (failed, lost), or it could not and the try is found lost.
	deadline := time.Now().Add(20 * time.Second)
	for {
		rec, rerr := st.TryRecord(ctx, key("fenced"))
		if rerr == nil && rec.State == grpipe.StateFailed {
			if rec.ErrorKind != "lost" || !strings.Contains(rec.Error, "stopped by its worker") {
				t.Fatalf("try recorded %+v", rec)
			}
			t.Logf("recorded: %s", rec.Error)
			break
		}
		lost, err := st.LostTries(ctx, time.Now().UTC(), alive, beat)
		if err == nil && len(lost) == 1 && lost[0].TryKey == key("fenced") {
			t.Logf("lost: %s", lost[0].Reason)
			break
		}
		if time.Now().After(deadline) {
			ws, _ := st.Workers(ctx)
			t.Fatalf("the try is neither ended nor found lost: %s %s %v %+v %v workers %+v", rec.State, rec.Worker, rerr, lost, err, ws)
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("worker: %v", err)
	}
}
