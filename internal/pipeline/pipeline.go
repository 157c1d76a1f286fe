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
	// ProcessedRetention is how many batches the processed zone keeps, the
	// newest by time of writing (0: all).
	ProcessedRetention int
	// Crash, when set, is called at named points of the ETL (claim, transform,
	// stage, upsert, cleanup): crash tests use it to kill the process there.
	Crash func(point string)
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
	id  string
	mu  sync.Mutex
	sum *grpipe.RunSummary
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
	RunType string
	// LogicalDate and the data interval are recorded with the run.
	LogicalDate       time.Time
	DataIntervalStart time.Time
	DataIntervalEnd   time.Time
}

// Run executes one run of the DAG now and returns its summary. The error is
// non-nil only when the run could not be started or recorded; a run whose
// tasks failed returns a summary in state failed.
func (p *Pipeline) Run(ctx context.Context, info RunInfo) (*grpipe.RunSummary, error) {
	lock, err := runstore.TryLock(p.opts.LockPath)
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
	rs := &runState{id: grpipe.NewRunID(info.RunType, start, ""), sum: &grpipe.RunSummary{
		DAGID: grpipe.DAGID, State: grpipe.StateRunning, StartedAt: start, Tables: grpipe.NewLedgers(), Checks: []grpipe.CheckResult{},
	}}
	rs.sum.RunID = rs.id
	log := p.log.With("run_id", rs.id)

	// Holding the lock, any run still marked running belongs to a dead process.
	if err := p.failInterrupted(ctx, rs.id, log); err != nil {
		return nil, err
	}
	if err := p.store.StartRun(ctx, runstore.RunInfo{RunID: rs.id, RunType: info.RunType, LogicalDate: info.LogicalDate,
		DataIntervalStart: info.DataIntervalStart, DataIntervalEnd: info.DataIntervalEnd, StartedAt: start}); err != nil {
		return nil, err
	}

	d := p.DAG(rs)
	runner := &dag.Runner{
		Parallelism: p.opts.Parallelism,
		Log:         log,
		OnStart: func(taskID string, at time.Time) {
			if err := p.store.TaskStarted(context.WithoutCancel(ctx), rs.id, taskID, 1, at); err != nil {
				log.Error("record task start", "task", taskID, "error", err)
			}
		},
		OnEnd: func(r dag.TaskResult) {
			ts := taskSummary(r)
			if err := p.store.TaskEnded(context.WithoutCancel(ctx), rs.id, ts, 1, r.Log); err != nil {
				log.Error("record task end", "task", r.TaskID, "error", err)
			}
		},
	}
	results, err := runner.Run(ctx, d)
	if err != nil {
		return nil, err
	}
	rs.sum.State = grpipe.StateSuccess
	for _, r := range results {
		ts := taskSummary(r)
		rs.sum.Tasks = append(rs.sum.Tasks, ts)
		if r.State != grpipe.StateSuccess {
			rs.sum.State = grpipe.StateFailed
		}
		if r.Err != nil && rs.sum.Error == "" {
			rs.sum.Error = fmt.Sprintf("%s: %v", r.TaskID, r.Err)
		}
	}
	rs.sum.EndedAt = p.now().UTC()
	if err := p.store.FinishRun(context.WithoutCancel(ctx), rs.sum); err != nil {
		return rs.sum, err
	}
	log.Info("run finished", "state", rs.sum.State, "seconds", rs.sum.EndedAt.Sub(start).Seconds())
	return rs.sum, nil
}

func taskSummary(r dag.TaskResult) grpipe.TaskSummary {
	ts := grpipe.TaskSummary{TaskID: r.TaskID, State: r.State, StartedAt: r.Started, EndedAt: r.Ended, Tries: 1}
	if r.Err != nil {
		ts.Error = r.Err.Error()
	}
	if r.State == grpipe.StateUpstreamFailed {
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
