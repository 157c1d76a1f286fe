package grpipe

import (
	"context"
	"slices"
	"time"
)

// DAGID is the id of the one DAG grpipe runs, as in the original Airflow deployment.
const DAGID = "goodreads_pipeline"

// RunType says why a run exists (Airflow's run types).
type RunType string

// The run types.
const (
	// RunManual is a run an operator asked for: `grpipe run`, `grpipe dags
	// trigger`, or the UI's and the API's trigger.
	RunManual RunType = "manual"
	// RunScheduled is the scheduler's run for one interval of its schedule.
	RunScheduled RunType = "scheduled"
	// RunBackfill is a run for a past interval (`grpipe dags backfill`).
	RunBackfill RunType = "backfill"
)

// State is the state of a run or a task instance (Airflow's names).
type State string

// States of runs and task instances.
const (
	StateQueued         State = "queued"
	StateRunning        State = "running"
	StateSuccess        State = "success"
	StateFailed         State = "failed"
	StateSkipped        State = "skipped"
	StateUpstreamFailed State = "upstream_failed"
	StateUpForRetry     State = "up_for_retry"
	StateNone           State = ""
)

// Ended reports whether a run in state s has ended (success or failed).
func (s State) Ended() bool { return s == StateSuccess || s == StateFailed }

// SchedulerState is what the scheduler's heartbeat says it is doing.
type SchedulerState string

// The scheduler's states.
const (
	SchedulerRunning  SchedulerState = "running"
	SchedulerStopping SchedulerState = "stopping" // a stop signal came: the running task finishes
	SchedulerStopped  SchedulerState = "stopped"
)

// Run is one run of the DAG: what the run store records of it, what `grpipe
// runs list --json` prints, and the head of its RunSummary.
type Run struct {
	RunID   string  `json:"run_id"`
	DAGID   string  `json:"dag_id"`
	RunType RunType `json:"run_type"`
	State   State   `json:"state"`
	// LogicalDate and the data interval [start, end) the run covers
	// (Airflow's); a manual run's logical date is when it was asked for, and
	// it has no interval.
	LogicalDate       time.Time `json:"logical_date,omitzero"`
	DataIntervalStart time.Time `json:"data_interval_start,omitzero"`
	DataIntervalEnd   time.Time `json:"data_interval_end,omitzero"`
	// QueuedAt is when the run was last queued (created, cleared, resumed).
	QueuedAt  time.Time `json:"queued_at,omitzero"`
	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at"`
	// Error is the first failure's message, or why a queued run waits;
	// empty on success.
	Error string `json:"error,omitempty"`
}

// HasInterval reports whether the run covers a data interval.
func (r Run) HasInterval() bool { return !r.DataIntervalStart.IsZero() && !r.DataIntervalEnd.IsZero() }

// NewRunID returns the id of a run of type t for logical date (or start) at:
// sortable by time; a scheduled run's id is its interval's, so an interval
// never runs twice.
func NewRunID(t RunType, at time.Time) string {
	return runIDPrefix(t) + at.UTC().Format("2006-01-02T15:04:05.000000Z")
}

// runIDPrefix is how the ids of runs of type t begin.
func runIDPrefix(t RunType) string { return string(t) + "__" }

// TaskSummary is one task instance in a run summary.
type TaskSummary struct {
	TaskID    string    `json:"task_id"`
	State     State     `json:"state"`
	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at"`
	Error     string    `json:"error"`
	Tries     int       `json:"tries,omitempty"`
	// Kind is the task's kind: marker, etl, check or sql.
	Kind TaskKind `json:"kind,omitempty"`
}

// StageTiming is the wall time of one stage of the ETL job.
type StageTiming struct {
	Stage   string  `json:"stage"`
	Seconds float64 `json:"seconds"`
	Bytes   int64   `json:"bytes"`
	Rows    int64   `json:"rows"`
}

// RunSummary is the stable JSON summary of a run (`grpipe run --json`,
// `grpipe runs show --json`, the run store). Fields are only ever added.
type RunSummary struct {
	Run
	Tasks  []TaskSummary     `json:"tasks"`
	Tables map[string]Ledger `json:"tables"`
	Checks []CheckResult     `json:"checks"`
	// Files lists the landing files this run claimed (an empty list when none).
	Files []string `json:"files"`
	// Recovered lists earlier runs whose unfinished batches this run
	// completed (an empty list when none).
	Recovered []string `json:"recovered"`
	// Stages times the parts of the ETL job.
	Stages []StageTiming `json:"stages,omitempty"`
}

// Observer is told what happens to runs: alerts and metrics implement it.
// Its methods are called synchronously by the orchestrator and must not
// block for long; ctx outlives a stop signal.
type Observer interface {
	// RunEnded is told of each run that ended (success or failed).
	RunEnded(ctx context.Context, sum *RunSummary)
	// TaskEnded is told of each try that ended, and of each task that ended
	// upstream_failed without running.
	TaskEnded(ctx context.Context, run Run, t TaskSummary)
	// TaskRetry is told of each failed try that will be retried.
	TaskRetry(ctx context.Context, run Run, taskID string, try int, err error)
}

// TaskOutput is what one try of a task adds to its run's summary: the ETL's
// ledger, claimed files, recovered batches and stage timings, the checks'
// results. A try returns it wherever it ran, also when it failed (the
// entities it committed stay counted).
type TaskOutput struct {
	Tables    map[string]Ledger `json:"tables,omitempty"`
	Checks    []CheckResult     `json:"checks,omitempty"`
	Files     []string          `json:"files,omitempty"`
	Recovered []string          `json:"recovered,omitempty"`
	Stages    []StageTiming     `json:"stages,omitempty"`
}

// Add adds a try's output to the summary: ledgers are summed, stage
// timings summed by stage, a check repeated by a later try replaces the
// earlier result.
func (s *RunSummary) Add(o TaskOutput) {
	if s.Tables == nil {
		s.Tables = NewLedgers()
	}
	for name, l := range o.Tables {
		cur := s.Tables[name]
		cur.Add(l)
		s.Tables[name] = cur
	}
	for _, c := range o.Checks {
		i := slices.IndexFunc(s.Checks, func(x CheckResult) bool { return x.Name == c.Name && x.Table == c.Table })
		if i >= 0 {
			s.Checks[i] = c
		} else {
			s.Checks = append(s.Checks, c)
		}
	}
	s.Files = append(s.Files, o.Files...)
	s.Recovered = append(s.Recovered, o.Recovered...)
	for _, st := range o.Stages {
		i := slices.IndexFunc(s.Stages, func(x StageTiming) bool { return x.Stage == st.Stage })
		if i < 0 {
			s.Stages = append(s.Stages, st)
			continue
		}
		s.Stages[i].Seconds += st.Seconds
		s.Stages[i].Bytes += st.Bytes
		s.Stages[i].Rows += st.Rows
	}
}
