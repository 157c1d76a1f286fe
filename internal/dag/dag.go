// Package dag provides the DAG model (tasks and their upstream edges) and a
// runner that executes a DAG's tasks in dependency order, independent tasks
// concurrently, marking the downstream of a failed task upstream_failed.
package dag

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sort"
	"sync"
	"time"

	grpipe "github.com/grpipe/grpipe"
)

// Func is the work of a task. log writes to the task's own log.
type Func func(ctx context.Context, log *slog.Logger) error

// Task is one node of a DAG.
type Task struct {
	// ID is unique within the DAG (Airflow's task_id).
	ID string
	// Upstream lists the ids of the tasks that must succeed first.
	Upstream []string
	// Run is the task's work; nil means nothing to do (a marker task).
	Run Func
	// Timeout bounds one try; zero means no bound.
	Timeout time.Duration
}

// DAG is a set of tasks with upstream edges.
type DAG struct {
	ID    string
	Tasks []Task
}

// Validate checks ids are unique, upstream ids exist and there is no cycle.
func (d *DAG) Validate() error {
	ids := map[string]bool{}
	for _, t := range d.Tasks {
		if t.ID == "" {
			return fmt.Errorf("dag %s: a task has no id", d.ID)
		}
		if ids[t.ID] {
			return fmt.Errorf("dag %s: task id %s appears twice", d.ID, t.ID)
		}
		ids[t.ID] = true
	}
	for _, t := range d.Tasks {
		for _, u := range t.Upstream {
			if !ids[u] {
				return fmt.Errorf("dag %s: task %s: unknown upstream task %s", d.ID, t.ID, u)
			}
		}
	}
	if _, err := d.Order(); err != nil {
		return err
	}
	return nil
}

// Order returns the task ids in a topological order (stable: ties keep declaration order).
func (d *DAG) Order() ([]string, error) {
	indeg := map[string]int{}
	down := map[string][]string{}
	for _, t := range d.Tasks {
		indeg[t.ID] += 0
		for _, u := range t.Upstream {
			indeg[t.ID]++
			down[u] = append(down[u], t.ID)
		}
	}
	var order []string
	var ready []string
	for _, t := range d.Tasks {
		if indeg[t.ID] == 0 {
			ready = append(ready, t.ID)
		}
	}
	for len(ready) > 0 {
		id := ready[0]
		ready = ready[1:]
		order = append(order, id)
		for _, n := range down[id] {
			indeg[n]--
			if indeg[n] == 0 {
				ready = append(ready, n)
			}
		}
	}
	if len(order) != len(d.Tasks) {
		return nil, fmt.Errorf("dag %s: the tasks' upstream edges form a cycle", d.ID)
	}
	return order, nil
}

// Downstream returns the ids of the tasks that depend, directly or not, on id.
func (d *DAG) Downstream(id string) []string {
	down := map[string][]string{}
	for _, t := range d.Tasks {
		for _, u := range t.Upstream {
			down[u] = append(down[u], t.ID)
		}
	}
	seen := map[string]bool{}
	var walk func(string)
	walk = func(n string) {
		for _, c := range down[n] {
			if !seen[c] {
				seen[c] = true
				walk(c)
			}
		}
	}
	walk(id)
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// TaskResult is the outcome of one task in a run.
type TaskResult struct {
	TaskID  string
	State   grpipe.State
	Started time.Time
	Ended   time.Time
	Err     error
	// Log is what the task logged.
	Log string
}

// Runner executes DAGs.
type Runner struct {
	// Parallelism bounds how many tasks run at once (0: 4).
	Parallelism int
	// Log receives every task's log records too (with a task attribute).
	Log *slog.Logger
	// OnStart and OnEnd, when set, are told when a task starts and ends.
	OnStart func(taskID string, started time.Time)
	OnEnd   func(TaskResult)
	// Now returns the time (a fake clock in tests); nil means time.Now.
	Now func() time.Time
}

// Run executes d and returns the result of every task, in d's order. A task
// whose upstream did not succeed is upstream_failed and never runs.
func (r *Runner) Run(ctx context.Context, d *DAG) ([]TaskResult, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	now := r.Now
	if now == nil {
		now = time.Now
	}
	par := r.Parallelism
	if par <= 0 {
		par = 4
	}
	base := r.Log
	if base == nil {
		base = slog.New(slog.DiscardHandler)
	}

	byID := map[string]Task{}
	for _, t := range d.Tasks {
		byID[t.ID] = t
	}
	results := map[string]*TaskResult{}
	var mu sync.Mutex
	done := make(chan string, len(d.Tasks))
	sem := make(chan struct{}, par)
	started := map[string]bool{}

	// settled reports whether all of t's upstream tasks are finished, and whether all succeeded.
	settled := func(t Task) (bool, bool) {
		ok := true
		for _, u := range t.Upstream {
			res, fin := results[u]
			if !fin {
				return false, false
			}
			if res.State != grpipe.StateSuccess {
				ok = false
			}
		}
		return true, ok
	}

	remaining := len(d.Tasks)
	for remaining > 0 {
		mu.Lock()
		progressed := false
		for _, t := range d.Tasks {
			if started[t.ID] {
				continue
			}
			fin, ok := settled(t)
			if !fin {
				continue
			}
			started[t.ID] = true
			progressed = true
			if !ok {
				at := now().UTC()
				res := &TaskResult{TaskID: t.ID, State: grpipe.StateUpstreamFailed, Started: at, Ended: at}
				results[t.ID] = res
				remaining--
				if r.OnEnd != nil {
					r.OnEnd(*res)
				}
				continue
			}
			go func(t Task) {
				sem <- struct{}{}
				defer func() { <-sem }()
				res := r.runTask(ctx, base, d.ID, t, now)
				mu.Lock()
				results[t.ID] = &res
				mu.Unlock()
				if r.OnEnd != nil {
					r.OnEnd(res)
				}
				done <- t.ID
			}(t)
		}
		mu.Unlock()
		if progressed {
			continue
		}
		<-done
		remaining--
	}

	out := make([]TaskResult, 0, len(d.Tasks))
	for _, t := range d.Tasks {
		out = append(out, *results[t.ID])
	}
	return out, nil
}

func (r *Runner) runTask(ctx context.Context, base *slog.Logger, dagID string, t Task, now func() time.Time) (res TaskResult) {
	var buf bytes.Buffer
	var bufMu sync.Mutex
	h := teeHandler{a: base.Handler(), b: slog.NewTextHandler(&lockedWriter{w: &buf, mu: &bufMu}, &slog.HandlerOptions{Level: slog.LevelDebug})}
	log := slog.New(h).With("task", t.ID)
	res = TaskResult{TaskID: t.ID, Started: now().UTC()}
	if r.OnStart != nil {
		r.OnStart(t.ID, res.Started)
	}
	defer func() {
		if p := recover(); p != nil {
			res.Err = fmt.Errorf("task %s panicked: %v\n%s", t.ID, p, debug.Stack())
			log.Error("task panicked", "panic", fmt.Sprint(p))
		}
		res.Ended = now().UTC()
		if res.Err != nil {
			res.State = grpipe.StateFailed
		} else {
			res.State = grpipe.StateSuccess
		}
		bufMu.Lock()
		res.Log = buf.String()
		bufMu.Unlock()
	}()
	if err := ctx.Err(); err != nil {
		res.Err = fmt.Errorf("not started: %w", err)
		return res
	}
	if t.Run == nil {
		log.Info("nothing to do")
		return res
	}
	tctx := ctx
	if t.Timeout > 0 {
		var cancel context.CancelFunc
		tctx, cancel = context.WithTimeout(ctx, t.Timeout)
		defer cancel()
	}
	log.Info("task started", "dag", dagID)
	err := t.Run(tctx, log)
	if err != nil && errors.Is(tctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
		err = fmt.Errorf("timed out after %s: %w", t.Timeout, err)
	}
	res.Err = err
	if err != nil {
		log.Error("task failed", "error", err.Error())
	} else {
		log.Info("task succeeded")
	}
	return res
}
