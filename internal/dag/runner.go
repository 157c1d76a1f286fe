package dag

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	grpipe "github.com/grpipe/grpipe"
)

// TaskResult is the outcome of one task in a run (or of one try, in OnEnd).
type TaskResult struct {
	TaskID  string
	State   grpipe.State
	Started time.Time
	Ended   time.Time
	Err     error
	// Log is what the task logged in its last try.
	Log string
	// Try is the number of the last try (0 when the task never ran).
	Try int
	// Tries counts the tries made by this execution.
	Tries int
	// Detached is set for a try that goes on where it runs after this
	// execution stopped waiting for it (ErrDetached): it is not recorded ended.
	Detached bool
}

// Runner executes a run of a DAG: it decides what runs when and what a
// try's result means; its Executor runs the tries.
type Runner struct {
	// Executor runs the tries.
	Executor Executor
	// Run is the run the tries belong to.
	Run grpipe.Run
	// Tables returns the run's ledger so far, given to each try (nil: none).
	Tables func() map[string]grpipe.Ledger
	// Collect is told once of each try's output, as the try ends.
	Collect func(taskID string, try int, out grpipe.TaskOutput)
	// Parallelism bounds how many tasks run at once (0: 4).
	Parallelism int
	// Log receives the runner's own records.
	Log *slog.Logger
	// Prior holds the tasks that finished in an earlier execution of the same
	// run (a resumed or cleared run): they are not run again, and their
	// states count for their downstream.
	Prior map[string]TaskResult
	// FirstTry returns the number of a task's first try in this execution
	// (nil: 1). A cleared task continues its try numbering.
	FirstTry func(taskID string) int
	// Blocked, when set, is asked before a task starts; a non-empty reason
	// keeps the task from starting (depends_on_past): it and its downstream
	// end queued, to start in a later execution of the run.
	Blocked func(ctx context.Context, taskID string) (string, error)
	// Stop, when closed, starts no further task or retry: running tries
	// finish (until ctx ends), and what was left ends queued.
	Stop <-chan struct{}
	// Retryable reports whether a failed try is worth another (nil: always).
	Retryable func(error) bool
	// OnStart is told when a try starts.
	OnStart func(taskID string, try int, started time.Time)
	// OnEnd is told when a try ends, and when a task ends upstream_failed
	// without running (Try is then the try it would have had).
	OnEnd func(TaskResult)
	// OnRetry is told when a failed try will be retried after wait.
	OnRetry func(failed TaskResult, wait time.Duration)
	// Now returns the time (a fake clock in tests); nil means time.Now.
	Now func() time.Time
	// Sleep waits d (the backoff before a retry) or until ctx ends; nil means a timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

func (r *Runner) stopping() bool { return Stopped(r.Stop) }

// Stopped reports whether stop is closed (a nil stop never is).
func Stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

// Execute executes d and returns the result of every task, in d's order. A task
// whose upstream failed is upstream_failed and never runs; a task whose
// upstream is queued (blocked, or left when stopping) is queued too.
func (r *Runner) Execute(ctx context.Context, d *DAG) ([]TaskResult, error) {
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

	results := map[string]*TaskResult{}
	for id, res := range r.Prior {
		res := res
		res.TaskID = id
		results[id] = &res
	}
	var mu sync.Mutex
	done := make(chan struct{}, len(d.Tasks))
	sem := make(chan struct{}, par)
	started := map[string]bool{}
	for id := range results {
		started[id] = true
	}

	// upstreamState returns whether all of t's upstream tasks are settled,
	// and the state t inherits when one did not succeed ("" when all did).
	upstreamState := func(t Task) (bool, grpipe.State, string) {
		inherit, from := grpipe.StateNone, ""
		for _, u := range t.Upstream {
			res, fin := results[u]
			if !fin {
				return false, "", ""
			}
			switch res.State {
			case grpipe.StateSuccess, grpipe.StateSkipped:
			case grpipe.StateQueued:
				if inherit == grpipe.StateNone {
					inherit, from = grpipe.StateQueued, u
				}
			default:
				inherit, from = grpipe.StateUpstreamFailed, u
			}
		}
		return true, inherit, from
	}
	first := func(id string) int {
		if r.FirstTry == nil {
			return 1
		}
		if n := r.FirstTry(id); n > 0 {
			return n
		}
		return 1
	}

	remaining := 0
	for _, t := range d.Tasks {
		if !started[t.ID] {
			remaining++
		}
	}
	for remaining > 0 {
		mu.Lock()
		progressed := false
		for _, t := range d.Tasks {
			if started[t.ID] {
				continue
			}
			fin, inherit, from := upstreamState(t)
			if !fin {
				continue
			}
			started[t.ID] = true
			progressed = true
			at := now().UTC()
			var reason string
			switch {
			case inherit == grpipe.StateUpstreamFailed:
				res := &TaskResult{TaskID: t.ID, State: grpipe.StateUpstreamFailed, Started: at, Ended: at, Try: first(t.ID),
					Err: fmt.Errorf("upstream task %s did not succeed", from)}
				results[t.ID] = res
				remaining--
				if r.OnEnd != nil {
					r.OnEnd(*res)
				}
				continue
			case inherit == grpipe.StateQueued:
				reason = fmt.Sprintf("waiting for upstream task %s", from)
			case r.stopping():
				reason = "not started: shutting down"
			case r.Blocked != nil:
				why, err := r.Blocked(ctx, t.ID)
				if err != nil {
					why = fmt.Sprintf("not started: %v", err)
				}
				reason = why
			}
			if reason != "" {
				results[t.ID] = &TaskResult{TaskID: t.ID, State: grpipe.StateQueued, Err: errors.New(reason)}
				remaining--
				continue
			}
			go func(t Task) {
				sem <- struct{}{}
				defer func() { <-sem }()
				res := r.runTries(ctx, d, t, first(t.ID))
				mu.Lock()
				results[t.ID] = &res
				mu.Unlock()
				done <- struct{}{}
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

// runTries runs t's tries until one succeeds, the retries are spent, the
// error is not retryable, or the runner stops.
func (r *Runner) runTries(ctx context.Context, d *DAG, t Task, try int) TaskResult {
	policy := d.Policy(t)
	last := try + policy.Retries
	tries := 0
	end := func(res TaskResult) TaskResult {
		if r.OnEnd != nil {
			r.OnEnd(res)
		}
		return res
	}
	for {
		res := r.runTry(ctx, t, try)
		tries++
		res.Tries = tries
		if res.State == grpipe.StateSuccess {
			return end(res)
		}
		if errors.Is(res.Err, ErrDetached) {
			// The executor stopped waiting for a try that goes on elsewhere
			// (on a worker): it stays recorded running, and a later
			// execution of the run waits for it.
			res.State, res.Detached = grpipe.StateQueued, true
			return res
		}
		if ctx.Err() != nil && r.stopping() {
			// Cut short by the shutdown grace period: the try failed; the task runs again later.
			end(res)
			res.State = grpipe.StateQueued
			res.Err = fmt.Errorf("interrupted by shutdown: %w", res.Err)
			return res
		}
		if try >= last || ctx.Err() != nil || (r.Retryable != nil && !r.Retryable(res.Err)) {
			return end(res)
		}
		// The try is recorded up_for_retry (Airflow's state) while the backoff runs.
		retrying := res
		retrying.State = grpipe.StateUpForRetry
		end(retrying)
		wait := policy.Backoff(try + 1)
		if r.OnRetry != nil {
			r.OnRetry(res, wait)
		}
		if err := r.sleep(ctx, wait); err != nil {
			return end(res) // no retry after all: the try stands as failed
		}
		end(res) // the wait is over: the try stands as failed, the next one starts
		if r.stopping() {
			res.State = grpipe.StateQueued
			res.Err = fmt.Errorf("retry not started: shutting down (try %d failed: %w)", try, res.Err)
			return res
		}
		try++
	}
}

func (r *Runner) sleep(ctx context.Context, d time.Duration) error {
	if r.Sleep != nil {
		return r.Sleep(ctx, d)
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-r.Stop:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// runTry has the executor run one try of t.
func (r *Runner) runTry(ctx context.Context, t Task, number int) TaskResult {
	try := Try{Run: r.Run, TaskID: t.ID, Kind: t.Kind, Number: number, Timeout: t.Timeout}
	if r.Tables != nil {
		try.Tables = r.Tables()
	}
	if r.OnStart != nil {
		now := time.Now
		if r.Now != nil {
			now = r.Now
		}
		r.OnStart(t.ID, number, now().UTC())
	}
	out := r.Executor.Run(ctx, try)
	if r.Collect != nil {
		r.Collect(t.ID, number, out.Output)
	}
	res := TaskResult{TaskID: t.ID, Started: out.Started, Ended: out.Ended, Err: out.Err, Log: out.Log, Try: number, State: grpipe.StateSuccess}
	if out.Err != nil {
		res.State = grpipe.StateFailed
	}
	return res
}
