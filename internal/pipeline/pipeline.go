// Package pipeline is the GoodReads data path: landing files, claiming them
// into a run's working folder, transforming them to Parquet, staging and
// upserting them into the warehouse, the data-quality checks and the
// analytics tables, arranged as the original's 15-task DAG.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/dag"
	"github.com/grpipe/grpipe/internal/duckdb"
	"github.com/grpipe/grpipe/internal/flock"
	"github.com/grpipe/grpipe/internal/objstore"
	"github.com/grpipe/grpipe/internal/runstore"
	"github.com/grpipe/grpipe/internal/warehouse"
)

// Options configure a pipeline.
type Options struct {
	// WorkDir holds local scratch files (fetched objects, clean files, Parquet).
	WorkDir string
	// LockPath is the file whose lock keeps runs from overlapping.
	LockPath string
	// MaxRejectRatio is the share of rejected rows above which a file is refused whole.
	MaxRejectRatio float64
	// Window bounds the reviews the analytics count.
	Window warehouse.Window
	// Transform tunes the DuckDB engine of the transform.
	Transform duckdb.Options
	// Parallelism bounds concurrent file validations and DAG tasks (0: defaults).
	Parallelism int
	// Retry is the tasks' retry policy (nil: dag.DefaultRetry); Tasks
	// overrides it, and the timeout, per task id.
	Retry *dag.RetryPolicy
	// Tasks holds per-task overrides of retries and timeout, by task id.
	Tasks map[string]TaskOptions
	// WindowFromDataInterval makes the analytics count the reviews of the
	// run's data interval (when it has one) instead of Window.
	WindowFromDataInterval bool
	// Observers are told of each run that ends, each try that ends and each
	// try that will be retried.
	Observers []grpipe.Observer
	// Sleep waits between tries (nil: a timer); tests shorten it.
	Sleep func(ctx context.Context, d time.Duration) error
	// ProcessedRetention is how many batches the processed zone keeps, the
	// newest by time of writing (0: all).
	ProcessedRetention int
	// Snapshot is the record_create_timestamp of the books, authors and users
	// of a UCSD Book Graph dump (setting ucsd_snapshot; zero: late 2017).
	Snapshot time.Time
	// Crash, when set, is called at named points of the ETL (claim, transform,
	// stage, upsert, cleanup): crash tests use it to kill the process there.
	Crash func(point string)
}

// TaskOptions override one task's retries and timeout.
type TaskOptions struct {
	// Retries, when not nil, replaces the retry policy's count.
	Retries *int
	// Timeout, when positive, bounds each try.
	Timeout time.Duration
}

// Pipeline runs the GoodReads DAG over zones, a warehouse and a run store.
type Pipeline struct {
	opts  Options
	zones *objstore.Store
	wh    *warehouse.Warehouse
	store *runstore.Store
	log   *slog.Logger
	now   func() time.Time
}

// New returns a pipeline.
func New(opts Options, zones *objstore.Store, wh *warehouse.Warehouse, store *runstore.Store, log *slog.Logger) *Pipeline {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Window == (warehouse.Window{}) {
		opts.Window = warehouse.AllTime
	}
	return &Pipeline{opts: opts, zones: zones, wh: wh, store: store, log: log, now: time.Now}
}

// runState is what the tasks of one run share.
type runState struct {
	id   string
	info RunInfo
	mu   sync.Mutex
	sum  *grpipe.RunSummary
}

func (rs *runState) addLedger(entity string, l grpipe.Ledger) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	cur := rs.sum.Tables[entity]
	cur.Add(l)
	rs.sum.Tables[entity] = cur
}

func (rs *runState) addChecks(cs []grpipe.CheckResult) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.sum.Checks = append(rs.sum.Checks, cs...)
}

func (rs *runState) addStage(st grpipe.StageTiming) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for i := range rs.sum.Stages {
		if rs.sum.Stages[i].Stage == st.Stage {
			rs.sum.Stages[i].Seconds += st.Seconds
			rs.sum.Stages[i].Bytes += st.Bytes
			rs.sum.Stages[i].Rows += st.Rows
			return
		}
	}
	rs.sum.Stages = append(rs.sum.Stages, st)
}

func (rs *runState) ledgers() map[string]grpipe.Ledger {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	out := make(map[string]grpipe.Ledger, len(rs.sum.Tables))
	for k, v := range rs.sum.Tables {
		out[k] = v
	}
	return out
}

// RunInfo says why and for which interval a run starts.
type RunInfo struct {
	// RunType is manual, scheduled or backfill.
	RunType grpipe.RunType
	// LogicalDate and the data interval are recorded with the run.
	LogicalDate       time.Time
	DataIntervalStart time.Time
	DataIntervalEnd   time.Time
}

// ExecOptions tune one execution of a run.
type ExecOptions struct {
	// DependsOnPast keeps a task from starting while the same task of the
	// previous run (by logical date) is failed, upstream_failed or queued.
	DependsOnPast bool
	// Stop, when closed, starts no further task: the running ones finish
	// (until ctx ends) and the run is queued to resume later.
	Stop <-chan struct{}
}

// Run executes one manual run of the DAG now and returns its summary: what
// `grpipe run` does. It takes the run lock, so it refuses (grpipe.ErrBusy)
// while another process runs the DAG. Runs left running by a dead process
// are failed first; the ETL task resumes their claimed files. The error is
// non-nil only when the run could not be started or recorded; a run whose
// tasks failed returns a summary in state failed.
func (p *Pipeline) Run(ctx context.Context, info RunInfo) (*grpipe.RunSummary, error) {
	lock, err := flock.TryLock(p.opts.LockPath)
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()

	start := p.now().UTC()
	if info.RunType == "" {
		info.RunType = "manual"
	}
	if info.LogicalDate.IsZero() {
		info.LogicalDate = start
	}
	id := grpipe.NewRunID(info.RunType, start)
	// Holding the lock, any run still marked running belongs to a dead process.
	if err := p.failInterrupted(ctx, id, p.log.With("run_id", id)); err != nil {
		return nil, err
	}
	if err := p.store.StartRun(ctx, grpipe.Run{RunID: id, RunType: info.RunType, LogicalDate: info.LogicalDate,
		DataIntervalStart: info.DataIntervalStart, DataIntervalEnd: info.DataIntervalEnd, StartedAt: start}); err != nil {
		return nil, err
	}
	rec, err := p.store.Run(ctx, id)
	if err != nil {
		return nil, err
	}
	return p.execute(ctx, rec, ExecOptions{})
}

// Execute runs a queued run (triggered, cleared, or resumed after a crash or
// a shutdown): tasks that already succeeded are kept, tasks without an
// instance or with a queued one run. The caller holds the run lock
// (flock.TryLock on Options.LockPath). A run that ends with tasks still
// waiting (depends_on_past, or a shutdown) is left queued, its summary says why.
func (p *Pipeline) Execute(ctx context.Context, runID string, eo ExecOptions) (*grpipe.RunSummary, error) {
	rec, err := p.store.Run(ctx, runID)
	if err != nil {
		return nil, err
	}
	if rec.State != grpipe.StateQueued {
		return nil, fmt.Errorf("%w: run %s is %s, not queued: clear a task (grpipe tasks clear) to run it again", grpipe.ErrBadInput, runID, rec.State)
	}
	if err := p.store.MarkRunning(ctx, runID, p.now().UTC()); err != nil {
		return nil, err
	}
	if rec.StartedAt.IsZero() {
		rec.StartedAt = p.now().UTC()
	}
	return p.execute(ctx, rec, eo)
}

// retryable says whether a failed try is worth another: bad input and
// failed data-quality checks fail the same way again; the rest (a server
// that is down, a timeout) may not.
func retryable(err error) bool {
	return !errors.Is(err, grpipe.ErrBadInput) && !errors.Is(err, grpipe.ErrCheckFailed) && !errors.Is(err, context.Canceled)
}

func (p *Pipeline) execute(ctx context.Context, rec grpipe.Run, eo ExecOptions) (*grpipe.RunSummary, error) {
	run := rec
	run.State, run.Error, run.EndedAt = grpipe.StateRunning, "", time.Time{}
	rs := &runState{id: rec.RunID, info: RunInfo{RunType: rec.RunType, LogicalDate: rec.LogicalDate,
		DataIntervalStart: rec.DataIntervalStart, DataIntervalEnd: rec.DataIntervalEnd},
		sum: &grpipe.RunSummary{Run: run, Tables: grpipe.NewLedgers(), Checks: []grpipe.CheckResult{}}}
	if rs.sum.StartedAt.IsZero() {
		rs.sum.StartedAt = p.now().UTC()
	}
	log := p.log.With("run_id", rs.id)

	// What earlier executions of this run left: finished tasks are kept.
	latest, err := p.store.LatestTaskInstances(ctx, rs.id)
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
		if old, err := p.store.Summary(ctx, rs.id); err == nil {
			rs.sum.Tables, rs.sum.Checks = old.Tables, old.Checks
			rs.sum.Files, rs.sum.Recovered, rs.sum.Stages = old.Files, old.Recovered, old.Stages
		}
		log.Info("resuming run", "tasks_done", len(prior), "tasks_to_run", len(p.DAG(rs).Tasks)-len(prior))
	}

	d := p.DAG(rs)
	kinds := map[string]grpipe.TaskKind{}
	for _, t := range d.Tasks {
		kinds[t.ID] = t.Kind
	}
	bg := context.WithoutCancel(ctx)
	runner := &dag.Runner{
		Parallelism: p.opts.Parallelism,
		Log:         log,
		Prior:       prior,
		FirstTry:    func(id string) int { return firstTry[id] },
		Stop:        eo.Stop,
		Retryable:   retryable,
		Now:         p.now,
		Sleep:       p.opts.Sleep,
		OnStart: func(taskID string, try int, at time.Time) {
			if err := p.store.TaskStarted(bg, rs.id, taskID, kinds[taskID], try, at); err != nil {
				log.Error("record task start", "task", taskID, "error", err)
			}
		},
		OnEnd: func(r dag.TaskResult) {
			ts := taskSummary(r)
			ts.Kind = kinds[r.TaskID]
			if err := p.store.TaskEnded(bg, rs.id, ts, r.Try, r.Log); err != nil {
				log.Error("record task end", "task", r.TaskID, "error", err)
			}
			for _, o := range p.opts.Observers {
				o.TaskEnded(bg, rs.sum.Run, ts)
			}
		},
		OnRetry: func(r dag.TaskResult, wait time.Duration) {
			log.Warn("task will be retried", "task", r.TaskID, "try", r.Try, "wait", wait.String(), "error", r.Err)
			for _, o := range p.opts.Observers {
				o.TaskRetry(bg, rs.sum.Run, r.TaskID, r.Try, r.Err)
			}
		},
	}
	if eo.DependsOnPast {
		runner.Blocked = func(ctx context.Context, taskID string) (string, error) { return p.blockedByPast(ctx, rs.id, taskID) }
	}
	results, err := runner.Run(ctx, d)
	if err != nil {
		return nil, err
	}
	rs.sum.Checks = dedupChecks(rs.sum.Checks)
	rs.sum.Tasks = nil
	rs.sum.Error = ""
	failed, waiting := false, ""
	var requeue []string
	for _, r := range results {
		ts := taskSummary(r)
		ts.Kind = kinds[r.TaskID]
		rs.sum.Tasks = append(rs.sum.Tasks, ts)
		switch r.State {
		case grpipe.StateSuccess, grpipe.StateSkipped:
		case grpipe.StateQueued:
			if waiting == "" && r.Err != nil {
				waiting = fmt.Sprintf("%s: %v", r.TaskID, r.Err)
			}
			if r.Try > 0 {
				requeue = append(requeue, r.TaskID)
			}
		default:
			failed = true
			if r.Err != nil && r.State == grpipe.StateFailed && rs.sum.Error == "" {
				rs.sum.Error = fmt.Sprintf("%s: %v", r.TaskID, r.Err)
			}
		}
	}
	switch {
	case waiting != "":
		rs.sum.State = grpipe.StateQueued
		if rs.sum.Error == "" {
			rs.sum.Error = "waiting: " + waiting
		}
		if len(requeue) > 0 {
			if err := p.store.QueueTasks(bg, rs.id, requeue, "cut short by a shutdown"); err != nil {
				return rs.sum, err
			}
		}
	case failed:
		rs.sum.State = grpipe.StateFailed
	default:
		rs.sum.State = grpipe.StateSuccess
	}
	if rs.sum.State != grpipe.StateQueued {
		rs.sum.EndedAt = p.now().UTC()
	}
	if err := p.store.FinishRun(bg, rs.sum); err != nil {
		return rs.sum, err
	}
	log.Info("run ended", "state", rs.sum.State, "seconds", p.now().Sub(rs.sum.StartedAt).Seconds())
	if rs.sum.State != grpipe.StateQueued {
		for _, o := range p.opts.Observers {
			o.RunEnded(bg, rs.sum)
		}
	}
	return rs.sum, nil
}

// blockedByPast returns why taskID must wait for the previous run (empty when it need not).
func (p *Pipeline) blockedByPast(ctx context.Context, runID, taskID string) (string, error) {
	prev, ok, err := p.store.PreviousRun(ctx, runID)
	if err != nil || !ok {
		return "", err
	}
	latest, err := p.store.LatestTaskInstances(ctx, prev.RunID)
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

// dedupChecks keeps the latest result of each check (a re-run task repeats them).
func dedupChecks(cs []grpipe.CheckResult) []grpipe.CheckResult {
	idx := map[[2]string]int{}
	out := []grpipe.CheckResult{}
	for _, c := range cs {
		k := [2]string{c.Name, c.Table}
		if i, ok := idx[k]; ok {
			out[i] = c
			continue
		}
		idx[k] = len(out)
		out = append(out, c)
	}
	return out
}

func taskSummary(r dag.TaskResult) grpipe.TaskSummary {
	ts := grpipe.TaskSummary{TaskID: r.TaskID, State: r.State, StartedAt: r.Started, EndedAt: r.Ended, Tries: r.Try}
	if r.Err != nil {
		ts.Error = r.Err.Error()
	}
	if r.State == grpipe.StateUpstreamFailed || (r.State == grpipe.StateQueued && r.Started.IsZero()) {
		ts.Tries = 0
	}
	return ts
}

// failInterrupted marks runs left running by a dead process as failed. Their
// claimed files are resumed by the ETL task of the current run.
func (p *Pipeline) failInterrupted(ctx context.Context, current string, log *slog.Logger) error {
	ids, err := p.store.RunIDs(ctx, 1000, grpipe.StateRunning)
	if err != nil {
		return err
	}
	for _, id := range ids {
		reason := fmt.Sprintf("interrupted: the process running it stopped; run %s resumes its claimed files", current)
		log.Warn("failing interrupted run", "interrupted_run", id)
		if err := p.store.FailInterrupted(ctx, id, reason, p.now()); err != nil {
			return err
		}
	}
	return nil
}

// crashPoint calls the crash hook, if any.
func (p *Pipeline) crashPoint(point string) {
	if p.opts.Crash != nil {
		p.opts.Crash(point)
	}
}

// errFiles joins the refusals of whole files into one error.
func errFiles(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return errors.Join(errs...)
}
