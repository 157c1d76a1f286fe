// Package executortest is the conformance suite of dag.Executor: every
// executor (dag.Local here, the distributed one over a queue) runs the same
// tests from its own _test.go:
//
//	executortest.Run(t, func(t *testing.T, work map[string]dag.Func) dag.Executor { ... })
//
// The suite holds every expectation: a try runs the task's work with the
// try's run, number and ledger, returns its log and its output (also when
// it fails), keeps the sentinel an error wraps (the runner decides retries
// by it), bounds the try by its timeout, turns a panic into a failure, runs
// tries concurrently, and under dag.Runner gives the DAG semantics (retries,
// upstream_failed) whatever the executor.
package executortest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/dag"
)

// NewExecutor returns an executor whose tasks' work is work, by task id;
// it is closed (if need be) when t ends.
type NewExecutor func(t *testing.T, work map[string]dag.Func) dag.Executor

// Run runs the suite against the executors newExecutor makes.
func Run(t *testing.T, newExecutor NewExecutor) {
	for _, tc := range []struct {
		name string
		test func(*testing.T, NewExecutor)
	}{
		{"WorkGetsTheTry", testWorkGetsTheTry},
		{"FailureKeepsItsSentinelAndOutput", testFailure},
		{"Timeout", testTimeout},
		{"Panic", testPanic},
		{"Marker", testMarker},
		{"CancelledBeforeStart", testCancelled},
		{"Concurrent", testConcurrent},
		{"RunnerSemantics", testRunner},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, newExecutor) })
	}
}

var run = grpipe.Run{RunID: "manual__2026-01-01T00:00:00.000000Z", DAGID: grpipe.DAGID, RunType: grpipe.RunManual,
	DataIntervalStart: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), DataIntervalEnd: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)}

func try(task string, number int) dag.Try {
	return dag.Try{Run: run, TaskID: task, Kind: grpipe.KindSQL, Number: number, Timeout: time.Minute,
		Tables: map[string]grpipe.Ledger{"reviews": {Read: 7, Staged: 7, Inserted: 7}}}
}

func testWorkGetsTheTry(t *testing.T, newExecutor NewExecutor) {
	x := newExecutor(t, map[string]dag.Func{"a": func(ctx context.Context, c *dag.Call) error {
		if c.Run.RunID != run.RunID || !c.Run.DataIntervalEnd.Equal(run.DataIntervalEnd) || c.TaskID != "a" || c.Number != 3 {
			return fmt.Errorf("the work got run %q interval end %s task %q try %d", c.Run.RunID, c.Run.DataIntervalEnd, c.TaskID, c.Number)
		}
		if got := c.Ledgers()["reviews"].Read; got != 7 {
			return fmt.Errorf("the work got the run's ledger with %d reviews read, want 7", got)
		}
		c.Log.Info("working on it", "rows", 42)
		c.AddLedger("users", grpipe.Ledger{Read: 2, Staged: 2, Inserted: 2})
		c.AddChecks(grpipe.CheckResult{Name: "row_count", Table: "goodreads_warehouse.users", Passed: true, Detail: "2 rows"})
		c.AddFiles("user.csv")
		c.AddRecovered("manual__older")
		c.AddStage(grpipe.StageTiming{Stage: "claim", Seconds: 0.5, Bytes: 100})
		return nil
	}})
	before := time.Now().Add(-time.Second)
	res := x.Run(context.Background(), try("a", 3))
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if res.Started.Before(before) || res.Ended.Before(res.Started) || time.Since(res.Ended) > time.Minute {
		t.Errorf("started %s, ended %s", res.Started, res.Ended)
	}
	if !strings.Contains(res.Log, "working on it") || !strings.Contains(res.Log, "rows=42") {
		t.Errorf("the try's log lacks the work's record: %q", res.Log)
	}
	o := res.Output
	if o.Tables["users"].Inserted != 2 || len(o.Checks) != 1 || o.Checks[0].Detail != "2 rows" ||
		strings.Join(o.Files, ",") != "user.csv" || strings.Join(o.Recovered, ",") != "manual__older" || len(o.Stages) != 1 || o.Stages[0].Bytes != 100 {
		t.Errorf("output %+v", o)
	}
}

func testFailure(t *testing.T, newExecutor NewExecutor) {
	x := newExecutor(t, map[string]dag.Func{"a": func(ctx context.Context, c *dag.Call) error {
		c.AddLedger("reviews", grpipe.Ledger{Read: 5, Staged: 5, Inserted: 5}) // committed before the failure
		return fmt.Errorf("file reviews.csv: %w: 90%% of its rows rejected", grpipe.ErrBadInput)
	}})
	res := x.Run(context.Background(), try("a", 1))
	if !errors.Is(res.Err, grpipe.ErrBadInput) || !strings.Contains(res.Err.Error(), "reviews.csv") {
		t.Errorf("error %v: want the work's error, wrapping grpipe.ErrBadInput", res.Err)
	}
	if res.Output.Tables["reviews"].Inserted != 5 {
		t.Errorf("a failed try lost its output: %+v", res.Output)
	}
	if !strings.Contains(res.Log, "task failed") {
		t.Errorf("log %q does not say the task failed", res.Log)
	}
}

func testTimeout(t *testing.T, newExecutor NewExecutor) {
	x := newExecutor(t, map[string]dag.Func{"a": func(ctx context.Context, c *dag.Call) error {
		<-ctx.Done() // like a SQL statement or an object-store call
		return ctx.Err()
	}})
	tr := try("a", 1)
	tr.Timeout = 50 * time.Millisecond
	res := x.Run(context.Background(), tr)
	if res.Err == nil || !strings.Contains(res.Err.Error(), "timed out after 50ms") {
		t.Errorf("error %v, want a timeout", res.Err)
	}
}

func testPanic(t *testing.T, newExecutor NewExecutor) {
	x := newExecutor(t, map[string]dag.Func{"a": func(ctx context.Context, c *dag.Call) error { panic("boom") }})
	res := x.Run(context.Background(), try("a", 1))
	if res.Err == nil || !strings.Contains(res.Err.Error(), "panicked: boom") {
		t.Errorf("error %v, want the panic as a failure", res.Err)
	}
}

func testMarker(t *testing.T, newExecutor NewExecutor) {
	res := newExecutor(t, nil).Run(context.Background(), try(grpipe.TaskStop, 1))
	if res.Err != nil || !strings.Contains(res.Log, "nothing to do") {
		t.Errorf("a task without work: %v, log %q", res.Err, res.Log)
	}
}

func testCancelled(t *testing.T, newExecutor NewExecutor) {
	var ran atomic.Bool
	x := newExecutor(t, map[string]dag.Func{"a": func(ctx context.Context, c *dag.Call) error { ran.Store(true); return nil }})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := x.Run(ctx, try("a", 1))
	if res.Err == nil || !errors.Is(res.Err, context.Canceled) || ran.Load() {
		t.Errorf("a try after its context ended: %v (ran %v)", res.Err, ran.Load())
	}
}

func testConcurrent(t *testing.T, newExecutor NewExecutor) {
	var inside, most atomic.Int32
	x := newExecutor(t, map[string]dag.Func{"a": func(ctx context.Context, c *dag.Call) error {
		n := inside.Add(1)
		defer inside.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
		return nil
	}})
	done := make(chan dag.Result, 3)
	for i := 1; i <= 3; i++ {
		go func() { done <- x.Run(context.Background(), try("a", i)) }()
	}
	for range 3 {
		if res := <-done; res.Err != nil {
			t.Error(res.Err)
		}
	}
	if most.Load() < 2 {
		t.Errorf("at most %d tries ran at once, want the three to overlap", most.Load())
	}
}

func testRunner(t *testing.T, newExecutor NewExecutor) {
	var calls atomic.Int32
	x := newExecutor(t, map[string]dag.Func{
		"b": func(ctx context.Context, c *dag.Call) error {
			if calls.Add(1) < 2 {
				return errors.New("server down")
			}
			c.AddLedger("reviews", grpipe.Ledger{Read: 1, Staged: 1, Inserted: 1})
			return nil
		},
		"c": func(ctx context.Context, c *dag.Call) error {
			return fmt.Errorf("%w: a refused file", grpipe.ErrBadInput)
		},
	})
	d := &dag.DAG{ID: "t", Retry: &dag.RetryPolicy{Retries: 2, Delay: time.Millisecond}, Tasks: []dag.Task{
		{ID: "a"}, {ID: "b", Upstream: []string{"a"}}, {ID: "c", Upstream: []string{"b"}}, {ID: "d", Upstream: []string{"c"}},
	}}
	var collected atomic.Int64
	r := &dag.Runner{Executor: x, Run: run,
		Retryable: func(err error) bool { return !errors.Is(err, grpipe.ErrBadInput) },
		Collect:   func(_ string, _ int, o grpipe.TaskOutput) { collected.Add(o.Tables["reviews"].Read) }}
	rs, err := r.Execute(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]dag.TaskResult{}
	for _, res := range rs {
		got[res.TaskID] = res
	}
	if got["b"].State != grpipe.StateSuccess || got["b"].Try != 2 {
		t.Errorf("b: %s on try %d, want success on try 2", got["b"].State, got["b"].Try)
	}
	if got["c"].State != grpipe.StateFailed || got["c"].Tries != 1 {
		t.Errorf("c: %s after %d tries, want failed once (bad input is not retried)", got["c"].State, got["c"].Tries)
	}
	if got["d"].State != grpipe.StateUpstreamFailed {
		t.Errorf("d: %s, want upstream_failed", got["d"].State)
	}
	if collected.Load() != 1 {
		t.Errorf("collected %d reviews read, want the successful try's 1", collected.Load())
	}
}
