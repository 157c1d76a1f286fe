// Package orchestrator is the one service that creates and executes runs of
// the DAG: trigger, backfill (plan and queue, or execute at once), resume,
// clear (with the downstream), pause, the synchronous manual run (`grpipe
// run`) and executing the queue for the scheduler. The CLI, the web backend
// and the scheduler call it; none of them takes the run lock or decides
// depends_on_past.
//
// The run-level semantics are here, written once: max_active_runs=1 across
// processes (the run lock, taken by each execution itself), runs a dead
// process left running (failed by a manual run, resumed by the scheduler),
// depends_on_past, clear, the run's state and summary, and telling the
// observers. The task-level semantics (order, retries with backoff,
// timeouts, upstream_failed, stop) are internal/dag's Runner.
//
// Where tasks physically run is the Workspace's and its dag.Executor's
// business: the composition root (internal/app) gives a workspace that opens
// the zones and the warehouse for a run and runs the tasks in this process.
// A new executor (several machines: issue 11) is a new Workspace returning
// another dag.Executor; nothing here changes.
package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/dag"
	"github.com/grpipe/grpipe/internal/flock"
	"github.com/grpipe/grpipe/internal/runstore"
)

// Workspace gives an execution of a run the executor of its tasks.
type Workspace interface {
	// Open opens what run's tasks work on and returns their executor, and a
	// function that releases it once the execution ended. An error here
	// (a warehouse that is down) leaves the run as it was.
	Open(ctx context.Context, run grpipe.Run) (dag.Executor, func() error, error)
}

// Options configure a Service.
type Options struct {
	// Store is the run metadata.
	Store *runstore.Store
	// RunLock is the path of the lock that keeps two executions from
	// overlapping, across processes (max_active_runs=1).
	RunLock string
	// Lock, when set, takes the run lock instead of the file RunLock: on
	// PostgreSQL metadata it is an advisory lock in the database, which
	// processes on every machine see. It returns what releases the lock, or
	// an error wrapping grpipe.ErrBusy naming the holder.
	Lock func() (release func() error, err error)
	// Workspace opens each execution's executor.
	Workspace Workspace
	// Retry is the tasks' retry policy; Tasks overrides it, and the spec's
	// timeout, per task id.
	Retry dag.RetryPolicy
	Tasks map[string]dag.Override
	// DependsOnPast keeps a task of a scheduled, backfill or triggered run
	// from starting while the same task of the previous run (by logical
	// date) failed; `grpipe run` (RunNow) ignores it.
	DependsOnPast bool
	// Parallelism bounds the tasks running at once (0: the runner's default).
	Parallelism int
	// Observers are told of each run that ends, each try that ends and each
	// try that will be retried.
	Observers []grpipe.Observer
	// Log receives the service's records (nil: none).
	Log *slog.Logger
	// Now returns the time (nil: time.Now).
	Now func() time.Time
	// Sleep waits the backoff before a retry (nil: a timer); tests shorten it.
	Sleep func(ctx context.Context, d time.Duration) error
	// PendingRecord is a file with room reserved for a run's summary that
	// the run store could not record (its disk full): the next execution
	// records it before anything else ("" : none).
	PendingRecord string
}

// Service creates and executes runs.
type Service struct {
	opts Options
	dag  *dag.DAG
	log  *slog.Logger
	now  func() time.Time
}

// New returns a service; the error names a bad option (a per-task override
// of a task the DAG does not have).
func New(opts Options) (*Service, error) {
	if opts.Store == nil || opts.Workspace == nil || (opts.RunLock == "" && opts.Lock == nil) {
		return nil, errors.New("orchestrator: a store, a workspace and the run lock's path are required")
	}
	d, err := dag.New(grpipe.DAGID, grpipe.Tasks(), opts.Retry, opts.Tasks)
	if err != nil {
		return nil, fmt.Errorf("orchestrator.tasks: %w", err)
	}
	s := &Service{opts: opts, dag: d, log: opts.Log, now: opts.Now}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if err := reservePending(opts.PendingRecord); err != nil {
		s.log.Warn("no room reserved for a run the run store cannot record", "error", err.Error())
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// MaxTries returns how many tries task taskID gets: its retries plus one.
func (s *Service) MaxTries(taskID string) int {
	if t := s.dag.Task(taskID); t != nil {
		return s.dag.Policy(*t).Retries + 1
	}
	return 1
}

// DependsOnPast reports whether queued runs wait for the previous run's tasks.
func (s *Service) DependsOnPast() bool { return s.opts.DependsOnPast }

// Trigger queues a manual run for the scheduler (or `grpipe runs resume`)
// and returns it. runID names it ("" for a generated id); an id that is not
// a valid manual run id, or is taken, is refused (grpipe.ErrBadInput).
func (s *Service) Trigger(ctx context.Context, runID string) (grpipe.Run, error) {
	now := s.now().UTC()
	if runID == "" {
		runID = grpipe.NewRunID(grpipe.RunManual, now)
	} else if err := grpipe.ValidateManualRunID(runID); err != nil {
		return grpipe.Run{}, err
	}
	created, err := s.opts.Store.EnqueueRun(ctx, grpipe.Run{RunID: runID, RunType: grpipe.RunManual, LogicalDate: now, QueuedAt: now})
	if err != nil {
		return grpipe.Run{}, err
	}
	if !created {
		return grpipe.Run{}, fmt.Errorf("%w: a run with id %s exists already", grpipe.ErrBadInput, runID)
	}
	return s.opts.Store.Run(ctx, runID)
}

// Enqueue queues a run of an interval for the scheduler (a scheduled or
// backfill run, whose id is its logical date's); created is false when a run
// with that id exists already, so an interval is never queued twice.
//
// An id taken by a run of another type or interval (created by hand before
// the scheduler's prefixes were reserved) would make the scheduler skip the
// interval, silently and forever: the interval's run is queued under the
// next free id <id>.2, <id>.3, ... instead, and a warning says so.
func (s *Service) Enqueue(ctx context.Context, t grpipe.RunType, start, end time.Time) (run grpipe.Run, created bool, err error) {
	base := grpipe.NewRunID(t, start)
	run = grpipe.Run{RunID: base, RunType: t, LogicalDate: start, DataIntervalStart: start, DataIntervalEnd: end,
		QueuedAt: s.now().UTC()}
	for n := 2; ; n++ {
		if created, err = s.opts.Store.EnqueueRun(ctx, run); err != nil || created {
			if created && run.RunID != base {
				s.log.Warn("interval queued under another run id: its own is taken by a run of another kind",
					"run_id", run.RunID, "taken_id", base, "data_interval_start", start, "data_interval_end", end)
			}
			return run, created, err
		}
		other, err := s.opts.Store.Run(ctx, run.RunID)
		if err != nil {
			return run, false, err
		}
		if other.RunType == t && other.DataIntervalStart.Equal(start) {
			return other, false, nil // this interval's run exists: never queued twice
		}
		if n > 10 {
			s.log.Warn("interval skipped: its run id and the next ones are taken by runs of another kind",
				"taken_id", base, "data_interval_start", start, "data_interval_end", end)
			return run, false, fmt.Errorf("%w: the run ids %s to %s.%d are taken by runs that are not this interval's: rename or delete them", grpipe.ErrBadInput, base, base, n-1)
		}
		run.RunID = fmt.Sprintf("%s.%d", base, n)
	}
}

// SetPaused pauses or unpauses the DAG: a paused DAG gets no scheduled
// runs, and its queued runs wait.
func (s *Service) SetPaused(ctx context.Context, paused bool) error {
	return s.opts.Store.SetPaused(ctx, paused, s.now())
}

// Paused reports whether the DAG is paused.
func (s *Service) Paused(ctx context.Context) (bool, error) { return s.opts.Store.Paused(ctx) }

// Clear sets taskID (and, with downstream, every task after it) of a run
// back to run again in the same run, with the next try number, and queues
// the run (Airflow's clear); it returns the task ids cleared. An unknown run
// or task is an error wrapping grpipe.ErrNotFound; a running run is refused
// (grpipe.ErrBusy).
func (s *Service) Clear(ctx context.Context, runID, taskID string, downstream bool) ([]string, error) {
	if _, err := grpipe.TaskByID(taskID); err != nil {
		return nil, err
	}
	ids := []string{taskID}
	if downstream {
		ids = append(ids, grpipe.Downstream(taskID)...)
	}
	if err := s.opts.Store.ClearTasks(ctx, runID, ids, s.now()); err != nil {
		return nil, err
	}
	return ids, nil
}

// RunNow executes one manual run of the DAG now and returns its summary:
// what `grpipe run` does. It refuses (grpipe.ErrBusy, naming the holder)
// while another process executes a run. Runs a dead process left running
// are failed first; this run's ETL finishes their claimed files. It ignores
// depends_on_past (an operator's explicit run). The error is non-nil only
// when the run could not be started or recorded; a run whose tasks failed
// returns a summary in state failed.
func (s *Service) RunNow(ctx context.Context) (*grpipe.RunSummary, error) {
	var sum *grpipe.RunSummary
	err := s.locked(func() error {
		start := s.now().UTC()
		run := grpipe.Run{RunID: grpipe.NewRunID(grpipe.RunManual, start), DAGID: grpipe.DAGID, RunType: grpipe.RunManual,
			State: grpipe.StateRunning, LogicalDate: start, QueuedAt: start, StartedAt: start}
		if err := s.applyPending(ctx); err != nil {
			return err
		}
		if err := s.failOrphans(ctx, run.RunID); err != nil {
			return err
		}
		x, release, err := s.opts.Workspace.Open(ctx, run)
		if err != nil {
			return err
		}
		defer release()
		if err := s.opts.Store.StartRun(ctx, run); err != nil {
			return err
		}
		sum, err = s.execute(ctx, run, x, execOptions{ignorePast: true})
		return err
	})
	return sum, err
}

// Resume executes a queued run now (triggered, cleared, or stopped by a
// shutdown): tasks that succeeded are kept, the others run. It refuses
// (grpipe.ErrBusy) while another process executes a run, and a run that is
// not queued (grpipe.ErrBadInput). A run that ends with tasks still waiting
// (depends_on_past) is left queued; its summary says why.
func (s *Service) Resume(ctx context.Context, runID string) (*grpipe.RunSummary, error) {
	if _, err := s.opts.Store.Run(ctx, runID); err != nil {
		return nil, err
	}
	var sum *grpipe.RunSummary
	err := s.locked(func() error {
		if err := s.applyPending(ctx); err != nil {
			return err
		}
		var err error
		sum, err = s.executeQueued(ctx, runID, nil)
		return err
	})
	return sum, err
}

// ExecuteQueued executes queued runs for the scheduler, oldest logical date
// first, one at a time, each holding the run lock: runs a dead process left
// running are queued again to resume, then, unless the DAG is paused, due
// queues the runs that are due (nil: none) and the head of the queue runs.
// It returns when the queue is empty, the head waits (depends_on_past: its
// summary is returned), stop closes (the running task finishes, the rest of
// the run is queued to resume) or another process holds the run lock
// (grpipe.ErrBusy).
func (s *Service) ExecuteQueued(ctx context.Context, stop <-chan struct{}, due func(ctx context.Context) error) (*grpipe.RunSummary, error) {
	for !dag.Stopped(stop) {
		var sum *grpipe.RunSummary
		done := false
		err := s.locked(func() error {
			if err := s.applyPending(ctx); err != nil {
				return err
			}
			if err := s.requeueOrphans(ctx); err != nil {
				return err
			}
			paused, err := s.opts.Store.Paused(ctx)
			if err != nil || paused {
				done = true
				return err
			}
			if due != nil {
				if err := due(ctx); err != nil {
					return err
				}
			}
			queued, err := s.opts.Store.QueuedRuns(ctx)
			if err != nil || len(queued) == 0 {
				done = true
				return err
			}
			r := queued[0]
			s.log.Info("executing run", "run_id", r.RunID, "run_type", r.RunType, "logical_date", r.LogicalDate)
			sum, err = s.executeQueued(ctx, r.RunID, stop)
			if err != nil {
				return fmt.Errorf("run %s: %w", r.RunID, err)
			}
			return nil
		})
		if err != nil || done {
			return nil, err
		}
		if sum.State == grpipe.StateQueued {
			return sum, nil
		}
	}
	return nil, nil
}

// ExecuteRuns executes the queued runs now, in order, stopping after the
// first that does not succeed (`grpipe dags backfill --now`); it returns
// the summaries of the runs executed.
func (s *Service) ExecuteRuns(ctx context.Context, runs []grpipe.Run) ([]*grpipe.RunSummary, error) {
	var out []*grpipe.RunSummary
	for _, r := range runs {
		sum, err := s.Resume(ctx, r.RunID)
		if err != nil {
			return out, err
		}
		out = append(out, sum)
		if sum.State != grpipe.StateSuccess {
			break
		}
	}
	return out, nil
}

// locked runs fn holding the run lock; while another process holds it, it
// returns an error wrapping grpipe.ErrBusy that names the holder.
func (s *Service) locked(fn func() error) error {
	if s.opts.Lock != nil {
		release, err := s.opts.Lock()
		if err != nil {
			return err
		}
		defer release() //nolint:errcheck // the session's end releases it too
		return fn()
	}
	lock, err := flock.TryLock(s.opts.RunLock)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	return fn()
}

// executeQueued executes the queued run runID; the caller holds the run lock.
func (s *Service) executeQueued(ctx context.Context, runID string, stop <-chan struct{}) (*grpipe.RunSummary, error) {
	run, err := s.opts.Store.Run(ctx, runID)
	if err != nil {
		return nil, err
	}
	if run.State != grpipe.StateQueued {
		return nil, fmt.Errorf("%w: run %s is %s, not queued: clear a task (grpipe tasks clear) to run it again", grpipe.ErrBadInput, runID, run.State)
	}
	x, release, err := s.opts.Workspace.Open(ctx, run)
	if err != nil {
		return nil, err
	}
	defer release()
	at := s.now().UTC()
	if err := s.opts.Store.MarkRunning(ctx, runID, at); err != nil {
		return nil, err
	}
	if run.StartedAt.IsZero() {
		run.StartedAt = at
	}
	return s.execute(ctx, run, x, execOptions{stop: stop})
}

// execOptions tune one execution of a run.
type execOptions struct {
	// ignorePast starts tasks whatever the previous run's state (grpipe run).
	ignorePast bool
	// stop, when closed, starts no further task: the running ones finish
	// (until ctx ends) and the run is queued to resume later.
	stop <-chan struct{}
}

// retryable says whether a failed try is worth another: bad input and
// failed data-quality checks fail the same way again; the rest (a server
// that is down, a timeout) may not.
func retryable(err error) bool {
	return !errors.Is(err, grpipe.ErrBadInput) && !errors.Is(err, grpipe.ErrCheckFailed) && !errors.Is(err, context.Canceled)
}

// execute runs the tasks of run that have not succeeded yet, records every
// try and the run's end, and tells the observers. run is recorded as
// running; the caller holds the run lock.
func (s *Service) execute(ctx context.Context, run grpipe.Run, x dag.Executor, eo execOptions) (*grpipe.RunSummary, error) {
	st := s.opts.Store
	run.DAGID, run.State, run.Error, run.EndedAt = grpipe.DAGID, grpipe.StateRunning, "", time.Time{}
	sum := &grpipe.RunSummary{Run: run, Tables: grpipe.NewLedgers(), Checks: []grpipe.CheckResult{}, Files: []string{}, Recovered: []string{}}
	var mu sync.Mutex // guards sum and storeErr while tasks run
	// storeErr is the first write to the run store that failed for good.
	var storeErr error
	storeFailed := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if storeErr == nil {
			storeErr = err
		}
	}
	// write tries a store write again while it fails, until one failed for
	// good: then each is tried once (the run has failed already).
	write := func(fn func() error) error {
		mu.Lock()
		failedBefore := storeErr != nil
		mu.Unlock()
		if failedBefore {
			return fn()
		}
		return s.storeWrite(context.WithoutCancel(ctx), fn)
	}
	log := s.log.With("run_id", run.RunID)

	// What earlier executions of this run left: finished tasks are kept.
	latest, err := st.LatestTaskInstances(ctx, run.RunID)
	if err != nil {
		return nil, err
	}
	prior := map[string]dag.TaskResult{}
	firstTry := map[string]int{}
	for _, ti := range latest {
		switch ti.State {
		case grpipe.StateQueued, grpipe.StateRunning:
			firstTry[ti.TaskID] = ti.TryNumber
		default:
			res := dag.TaskResult{TaskID: ti.TaskID, State: ti.State, Started: ti.StartedAt, Ended: ti.EndedAt, Try: ti.TryNumber}
			if ti.Error != "" {
				res.Err = errors.New(ti.Error)
			}
			prior[ti.TaskID] = res
		}
	}
	if len(latest) > 0 {
		if old, err := st.Summary(ctx, run.RunID); err == nil {
			sum.Tables, sum.Checks = old.Tables, old.Checks
			sum.Files, sum.Recovered, sum.Stages = old.Files, old.Recovered, old.Stages
		}
		log.Info("resuming run", "tasks_done", len(prior), "tasks_to_run", len(s.dag.Tasks)-len(prior))
	}

	kind := func(id string) grpipe.TaskKind { return s.dag.Task(id).Kind }
	bg := context.WithoutCancel(ctx)
	runner := &dag.Runner{
		Executor:    x,
		Run:         run,
		Parallelism: s.opts.Parallelism,
		Log:         log,
		Prior:       prior,
		FirstTry:    func(id string) int { return firstTry[id] },
		Stop:        eo.stop,
		Retryable:   retryable,
		Now:         s.now,
		Sleep:       s.opts.Sleep,
		Tables: func() map[string]grpipe.Ledger {
			mu.Lock()
			defer mu.Unlock()
			out := make(map[string]grpipe.Ledger, len(sum.Tables))
			for k, v := range sum.Tables {
				out[k] = v
			}
			return out
		},
		Collect: func(taskID string, try int, out grpipe.TaskOutput) {
			mu.Lock()
			defer mu.Unlock()
			sum.Add(out)
		},
		OnStart: func(taskID string, try int, at time.Time) {
			if err := write(func() error { return st.TaskStarted(bg, run.RunID, taskID, kind(taskID), try, at) }); err != nil {
				log.Error("record task start", "task", taskID, "error", err)
				storeFailed(fmt.Errorf("record the start of %s: %w", taskID, err))
			}
		},
		OnEnd: func(r dag.TaskResult) {
			ts := taskSummary(r, kind(r.TaskID))
			if err := write(func() error { return st.TaskEnded(bg, run.RunID, ts, r.Try, r.Log) }); err != nil {
				log.Error("record task end", "task", r.TaskID, "error", err)
				storeFailed(fmt.Errorf("record the end of %s: %w", r.TaskID, err))
			}
			for _, o := range s.opts.Observers {
				o.TaskEnded(bg, run, ts)
			}
		},
		OnRetry: func(r dag.TaskResult, wait time.Duration) {
			log.Warn("task will be retried", "task", r.TaskID, "try", r.Try, "wait", wait.String(), "error", r.Err)
			for _, o := range s.opts.Observers {
				o.TaskRetry(bg, run, r.TaskID, r.Try, r.Err)
			}
		},
	}
	if s.opts.DependsOnPast && !eo.ignorePast {
		runner.Blocked = func(ctx context.Context, taskID string) (string, error) {
			return s.blockedByPast(ctx, run.RunID, taskID)
		}
	}
	results, err := runner.Execute(ctx, s.dag)
	if err != nil {
		return nil, err
	}
	failed, waiting := false, ""
	var requeue []string
	sum.Tasks = nil
	for _, r := range results {
		sum.Tasks = append(sum.Tasks, taskSummary(r, kind(r.TaskID)))
		switch r.State {
		case grpipe.StateSuccess, grpipe.StateSkipped:
		case grpipe.StateQueued:
			if waiting == "" && r.Err != nil {
				waiting = fmt.Sprintf("%s: %v", r.TaskID, r.Err)
			}
			if r.Try > 0 && !r.Detached {
				requeue = append(requeue, r.TaskID)
			}
		default:
			failed = true
			if r.Err != nil && r.State == grpipe.StateFailed && sum.Error == "" {
				sum.Error = fmt.Sprintf("%s: %v", r.TaskID, r.Err)
			}
		}
	}
	switch {
	case waiting != "":
		sum.State = grpipe.StateQueued
		if sum.Error == "" {
			sum.Error = "waiting: " + waiting
		}
		if len(requeue) > 0 {
			if err := st.QueueTasks(bg, run.RunID, requeue, "cut short by a shutdown"); err != nil {
				return sum, err
			}
		}
	case failed:
		sum.State = grpipe.StateFailed
	default:
		sum.State = grpipe.StateSuccess
	}
	if sum.State.Ended() {
		sum.EndedAt = s.now().UTC()
	}
	if storeErr != nil {
		// The run's records are incomplete: it failed, and says why.
		why := fmt.Sprintf("the run store could not record this run: %v", storeErr)
		if sum.Error != "" {
			why += "; the run's own first failure: " + sum.Error
		}
		sum.State, sum.Error = grpipe.StateFailed, why
		if sum.EndedAt.IsZero() {
			sum.EndedAt = s.now().UTC()
		}
	}
	if err := s.storeWrite(bg, func() error { return st.FinishRun(bg, sum) }); err != nil {
		if sum.State != grpipe.StateFailed || storeErr == nil {
			sum.State, sum.EndedAt = grpipe.StateFailed, s.now().UTC()
			why := fmt.Sprintf("the run store could not record the end of this run: %v", err)
			if sum.Error != "" {
				why += "; " + sum.Error
			}
			sum.Error = why
		}
		if perr := s.writePending(sum); perr != nil {
			return sum, fmt.Errorf("record run %s: %w (and its record could not be kept for later: %v)", run.RunID, err, perr)
		}
		log.Error("the run's end is kept for the next execution to record", "file", s.opts.PendingRecord, "error", err)
		return sum, fmt.Errorf("record run %s: %w (its end is kept in %s and recorded by the next run once the store can be written)", run.RunID, err, s.opts.PendingRecord)
	}
	log.Info("run ended", "state", sum.State, "seconds", s.now().Sub(sum.StartedAt).Seconds())
	if sum.State.Ended() {
		for _, o := range s.opts.Observers {
			o.RunEnded(bg, sum)
		}
	}
	return sum, nil
}

// taskSummary is a task's line in the run summary.
func taskSummary(r dag.TaskResult, kind grpipe.TaskKind) grpipe.TaskSummary {
	ts := grpipe.TaskSummary{TaskID: r.TaskID, State: r.State, StartedAt: r.Started, EndedAt: r.Ended, Tries: r.Try, Kind: kind}
	if r.Err != nil {
		ts.Error = r.Err.Error()
	}
	if r.State == grpipe.StateUpstreamFailed || (r.State == grpipe.StateQueued && r.Started.IsZero()) {
		ts.Tries = 0
	}
	return ts
}

// blockedByPast returns why taskID must wait for the previous run (empty
// when it need not): depends_on_past.
func (s *Service) blockedByPast(ctx context.Context, runID, taskID string) (string, error) {
	prev, ok, err := s.opts.Store.PreviousRun(ctx, runID)
	if err != nil || !ok {
		return "", err
	}
	latest, err := s.opts.Store.LatestTaskInstances(ctx, prev.RunID)
	if err != nil {
		return "", err
	}
	for _, ti := range latest {
		if ti.TaskID != taskID {
			continue
		}
		switch ti.State {
		case grpipe.StateFailed, grpipe.StateUpstreamFailed, grpipe.StateQueued, grpipe.StateRunning:
			return fmt.Sprintf("depends_on_past: task %s of the previous run %s is %s; clear it (grpipe tasks clear %s %s) and let it succeed",
				taskID, prev.RunID, ti.State, prev.RunID, taskID), nil
		}
	}
	return "", nil
}

// orphans returns the runs recorded running: the caller holds the run
// lock, so the processes that ran them are gone.
func (s *Service) orphans(ctx context.Context) ([]grpipe.Run, error) {
	return s.opts.Store.ListRuns(ctx, 1000, grpipe.StateRunning)
}

// failOrphans marks the runs a dead process left running as failed (grpipe
// run); their claimed files are resumed by the ETL of run current.
func (s *Service) failOrphans(ctx context.Context, current string) error {
	runs, err := s.orphans(ctx)
	if err != nil {
		return err
	}
	for _, r := range runs {
		reason := fmt.Sprintf("interrupted: the process running it stopped; run %s resumes its claimed files", current)
		s.log.Warn("failing interrupted run", "interrupted_run", r.RunID, "run_id", current)
		if err := s.opts.Store.FailInterrupted(ctx, r.RunID, reason, s.now()); err != nil {
			return err
		}
	}
	return nil
}

// requeueOrphans queues the runs a dead process left running to resume
// (the scheduler): their running tries are failed and run again.
func (s *Service) requeueOrphans(ctx context.Context) error {
	runs, err := s.orphans(ctx)
	if err != nil {
		return err
	}
	for _, r := range runs {
		s.log.Warn("resuming a run left running by a process that stopped", "run_id", r.RunID)
		if err := s.opts.Store.RequeueInterrupted(ctx, r.RunID, "the process running it stopped (crash or kill)", s.now().UTC()); err != nil {
			return err
		}
	}
	return nil
}

// BackfillPlan is what a backfill creates: a run per interval of a
// schedule, less the intervals that have a run already.
type BackfillPlan struct {
	// Intervals are the data intervals [start, end) of the schedule whose
	// start lies in the backfill's dates, oldest first.
	Intervals [][2]time.Time
}

// PlanBackfill returns the intervals of spec whose logical date lies in
// [start, end] (dates as ParseDate reads them; at most 10000, more is an
// error naming the dates).
func PlanBackfill(spec, start, end string) (BackfillPlan, error) {
	if start == "" || end == "" {
		return BackfillPlan{}, fmt.Errorf("%w: grpipe dags backfill: give --start-date and --end-date", grpipe.ErrBadInput)
	}
	from, to, err := ParseDates(start, end)
	if err != nil {
		return BackfillPlan{}, err
	}
	sched, err := ParseSchedule(spec)
	if err != nil {
		return BackfillPlan{}, err
	}
	ivs, err := sched.Intervals(from, to, 0)
	return BackfillPlan{Intervals: ivs}, err
}

// Backfill queues a backfill run for each interval of plan that no
// scheduled or backfill run covers yet, oldest first, and returns the runs
// it queued.
func (s *Service) Backfill(ctx context.Context, plan BackfillPlan) ([]grpipe.Run, error) {
	var queued []grpipe.Run
	for _, iv := range plan.Intervals {
		// An interval the scheduler already ran is not run again.
		if _, err := s.opts.Store.Run(ctx, grpipe.NewRunID(grpipe.RunScheduled, iv[0])); err == nil {
			continue
		} else if !errors.Is(err, grpipe.ErrNotFound) {
			return queued, err
		}
		run, created, err := s.Enqueue(ctx, grpipe.RunBackfill, iv[0], iv[1])
		if err != nil {
			return queued, err
		}
		if created {
			queued = append(queued, run)
		}
	}
	return queued, nil
}

// Runs returns the latest runs, newest first (by logical date), at most
// limit (1 or more).
func (s *Service) Runs(ctx context.Context, limit int) ([]grpipe.Run, error) {
	if limit < 1 {
		return nil, fmt.Errorf("%w: --limit %d: give a number of runs, 1 or more", grpipe.ErrBadInput, limit)
	}
	runs, err := s.opts.Store.ListRuns(ctx, limit)
	return append([]grpipe.Run{}, runs...), err
}

// RunDetail is a run's summary, every try of its tasks (state, times,
// error, worker) and of the instances of its mapped tasks (the ETL fanned
// out per file): what `grpipe runs show --json` prints.
type RunDetail struct {
	*grpipe.RunSummary
	TaskTries       []runstore.TaskInstance `json:"task_tries"`
	MappedInstances []runstore.Try          `json:"mapped_instances"`
}

// Detail returns a run's summary and every try of its tasks; an unknown
// run is an error wrapping grpipe.ErrNotFound.
func (s *Service) Detail(ctx context.Context, runID string) (RunDetail, error) {
	sum, err := s.opts.Store.Summary(ctx, runID)
	if err != nil {
		return RunDetail{}, err
	}
	tries, err := s.opts.Store.TaskInstances(ctx, runID)
	if err != nil {
		return RunDetail{}, err
	}
	mapped, err := s.opts.Store.MappedInstances(ctx, runID)
	return RunDetail{sum, tries, mapped}, err
}

// TaskLog returns the log of try (0: the latest) of a task of a run, and
// the try's number. The error names what exists: an unknown run or task, a
// task that has not run, or the tries it has (grpipe.ErrNotFound).
func (s *Service) TaskLog(ctx context.Context, runID, taskID string, try int) (string, int, error) {
	if try < 0 {
		return "", 0, fmt.Errorf("%w: --try %d: tries are numbered from 1", grpipe.ErrBadInput, try)
	}
	if _, err := grpipe.TaskByID(taskID); err != nil {
		return "", 0, err
	}
	if _, err := s.opts.Store.Run(ctx, runID); err != nil {
		return "", 0, err
	}
	log, n, err := s.opts.Store.TaskLog(ctx, runID, taskID, try)
	if !errors.Is(err, grpipe.ErrNotFound) {
		return log, n, err
	}
	tis, lerr := s.opts.Store.TaskInstances(ctx, runID)
	if lerr != nil {
		return "", 0, lerr
	}
	var tries []string
	for _, ti := range tis {
		if ti.TaskID == taskID {
			tries = append(tries, fmt.Sprint(ti.TryNumber))
		}
	}
	if len(tries) == 0 {
		return "", 0, fmt.Errorf("task %s of run %s has not run: %w", taskID, runID, grpipe.ErrNotFound)
	}
	return "", 0, fmt.Errorf("task %s of run %s has no try %d (its tries: %s): %w", taskID, runID, try, strings.Join(tries, ", "), grpipe.ErrNotFound)
}
