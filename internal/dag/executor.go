package dag

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	grpipe "github.com/grpipe/grpipe"
)

// Executor runs tries of tasks: where they physically run is its business,
// what runs when (and what a result means) is the Runner's. Run blocks until
// the try ends or ctx ends, and may be called concurrently.
type Executor interface {
	Run(ctx context.Context, t Try) Result
}

// Try is one try of one task of a run: all an executor needs to run it,
// here or on another machine.
type Try struct {
	// Run is the run the task belongs to (id, type, data interval).
	Run grpipe.Run
	// TaskID names the task; Kind is its kind.
	TaskID string
	Kind   grpipe.TaskKind
	// Number is the try's number, from 1 (a cleared task continues its numbering).
	Number int
	// Timeout bounds the try (0: no bound).
	Timeout time.Duration
	// Tables is the run's ledger when the try starts: what the tries that
	// ended before it counted (the data-quality checks reconcile it).
	Tables map[string]grpipe.Ledger
}

// Result is how a try ended.
type Result struct {
	Started, Ended time.Time
	// Err is nil on success.
	Err error
	// Log is what the try logged.
	Log string
	// Output is what the try adds to the run's summary, also when it failed.
	Output grpipe.TaskOutput
}

// Func is the work of a task: one try. It reports through c.
type Func func(ctx context.Context, c *Call) error

// Call is what a task's work gets: its try, a log of its own, and its
// output to fill (safely from several goroutines).
type Call struct {
	Try
	// Log writes to the try's log (and the process log).
	Log *slog.Logger

	mu  sync.Mutex
	out grpipe.TaskOutput
}

// AddLedger counts rows of an entity.
func (c *Call) AddLedger(entity string, l grpipe.Ledger) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.out.Tables == nil {
		c.out.Tables = map[string]grpipe.Ledger{}
	}
	cur := c.out.Tables[entity]
	cur.Add(l)
	c.out.Tables[entity] = cur
}

// AddChecks records data-quality check results.
func (c *Call) AddChecks(cs ...grpipe.CheckResult) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.out.Checks = append(c.out.Checks, cs...)
}

// AddFiles records landing files the try claimed.
func (c *Call) AddFiles(names ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.out.Files = append(c.out.Files, names...)
}

// AddRecovered records batches of earlier runs the try finished.
func (c *Call) AddRecovered(batches ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.out.Recovered = append(c.out.Recovered, batches...)
}

// AddStage adds the timing of one stage.
func (c *Call) AddStage(st grpipe.StageTiming) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.out.Stages = append(c.out.Stages, st)
}

// Ledgers returns the run's ledger: Tables when the try started plus what
// this try counted so far.
func (c *Call) Ledgers() map[string]grpipe.Ledger {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]grpipe.Ledger, len(c.Tables))
	for k, v := range c.Tables {
		out[k] = v
	}
	for k, v := range c.out.Tables {
		cur := out[k]
		cur.Add(v)
		out[k] = cur
	}
	return out
}

// Output returns what the try added so far.
func (c *Call) Output() grpipe.TaskOutput {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out
}

// Local runs tries on goroutines of this process: the work of a task is
// found by its id in Work (a task without work is a marker: it succeeds).
type Local struct {
	// Work holds each task's work, by task id.
	Work map[string]Func
	// Log receives every try's log records too, with task and try attributes.
	Log *slog.Logger
	// Now returns the time (nil: time.Now).
	Now func() time.Time
}

var _ Executor = (*Local)(nil)

// Run runs one try: the task's work under the try's timeout, its log
// captured, a panic turned into a failure.
func (l *Local) Run(ctx context.Context, t Try) (res Result) {
	now := l.Now
	if now == nil {
		now = time.Now
	}
	log := NewTryLog(l.Log, "run_id", t.Run.RunID, "task", t.TaskID, "try", t.Number)
	c := &Call{Try: t, Log: log.Logger}
	res.Started = now().UTC()
	defer func() {
		if p := recover(); p != nil {
			res.Err = fmt.Errorf("task %s panicked: %v\n%s", t.TaskID, p, debug.Stack())
			c.Log.Error("task panicked", "panic", fmt.Sprint(p))
		}
		res.Log = log.End()
		res.Ended = now().UTC()
		res.Output = c.Output()
	}()
	if err := ctx.Err(); err != nil {
		res.Err = fmt.Errorf("not started: %w", err)
		return res
	}
	work := l.Work[t.TaskID]
	if work == nil {
		c.Log.Info("nothing to do")
		return res
	}
	tctx := ctx
	if t.Timeout > 0 {
		var cancel context.CancelFunc
		tctx, cancel = context.WithTimeout(ctx, t.Timeout)
		defer cancel()
	}
	c.Log.Info("task started", "dag", grpipe.DAGID)
	err := work(tctx, c)
	if err != nil && errors.Is(tctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
		err = fmt.Errorf("timed out after %s: %w", t.Timeout, err)
	}
	res.Err = err
	if err != nil {
		c.Log.Error("task failed", "error", err.Error())
	} else {
		c.Log.Info("task succeeded")
	}
	return res
}
