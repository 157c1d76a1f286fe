// Package web serves grpipe's web UI and its JSON API (shaped like Airflow's
// stable REST API) over the run metadata: the DAG with its graph, the grid
// of runs × tasks, a run's Gantt chart, task logs per try, each run's ledger,
// checks and quarantined rows, and the warehouse's tables. Templates and
// assets are embedded: the UI is part of the one binary and needs no network.
//
// A new view is a template in templates/, a handler in views.go (routes()
// lists them; the JSON API is api.go), and the data it needs: a method of
// Backend, which internal/app implements over the run store and the
// orchestrator (and web_test.go's memBackend for the handlers' tests). The
// UI never runs or changes anything itself: pause and trigger go through
// Backend to the orchestrator.
package web

import (
	"context"
	"time"

	grpipe "github.com/grpipe/grpipe"
)

// Backend is what the UI reads and the few actions it takes. The composition
// root implements it over the run store, the zones and the warehouse.
type Backend interface {
	// DAG describes the one DAG.
	DAG(ctx context.Context) (DAGInfo, error)
	// SetPaused pauses or unpauses the DAG's schedule.
	SetPaused(ctx context.Context, paused bool) error
	// Trigger queues a manual run and returns it. runID names the run ("" for
	// a generated id); an id already taken is an error wrapping grpipe.ErrBadInput.
	Trigger(ctx context.Context, runID string) (grpipe.Run, error)
	// Runs returns the most recent runs, newest first.
	Runs(ctx context.Context, limit int) ([]grpipe.Run, error)
	// Run returns one run; the error wraps grpipe.ErrNotFound for an unknown id.
	Run(ctx context.Context, runID string) (grpipe.Run, *grpipe.RunSummary, error)
	// TaskInstances returns every try of every task of a run.
	TaskInstances(ctx context.Context, runID string) ([]TaskInstance, error)
	// MappedInstances returns every try of every instance of a run's mapped
	// tasks (executor distributed: the ETL fanned out per landed file), by
	// task, map index and try; none for a run that mapped nothing.
	MappedInstances(ctx context.Context, runID string) ([]MappedInstance, error)
	// TaskLog returns the log of one try; the error wraps grpipe.ErrNotFound when there is none.
	TaskLog(ctx context.Context, runID, taskID string, try int) (string, error)
	// Health reports the metadata database and the scheduler's heartbeat.
	Health(ctx context.Context) Health

	// The charts, the warehouse explorer and the quarantine view (types in data.go).

	// Analytics returns the six analytics tables and the distributions of
	// the analytics window's reviews, aggregated in the warehouse.
	Analytics(ctx context.Context) (AnalyticsView, error)
	// Tables lists the tables the explorer browses, with columns and row counts.
	Tables(ctx context.Context) ([]TableInfo, error)
	// Browse returns one page of a table, sorted and filtered; an unknown
	// table or column is an error wrapping grpipe.ErrNotFound.
	Browse(ctx context.Context, q BrowseQuery) (ResultPage, error)
	// Query runs one statement in a read-only warehouse session and returns
	// its rows [offset, offset+limit). The caller has passed it through
	// warehouse.CheckReadQuery; the session refuses writes on its own too.
	Query(ctx context.Context, sql string, offset, limit int) (ResultPage, error)
	// Export streams the rows of a table view (x.Browse, without paging) or
	// of a read-only statement (x.SQL) to fn, for a CSV download: first once
	// with the column names and a nil row, then once per row; fn returning
	// ErrStop ends the stream.
	Export(ctx context.Context, x ExportQuery, fn func(columns []string, row []Cell) error) error
	// ScanRejected streams every quarantined row of a run (all entities, the
	// run's later tries included), file by file, in line order, as a view
	// of its fields: a scan that counts rows builds none (RejectedView.Row
	// builds one), and the view is valid only during the call. fn returning
	// ErrStop ends the stream. An unknown run is an error wrapping
	// grpipe.ErrNotFound.
	ScanRejected(ctx context.Context, runID string, fn func(entity string, v RejectedView) error) error
	// Workers returns the grpipe worker processes of executor distributed
	// (none with the local executor).
	Workers(ctx context.Context) ([]Worker, error)
}

// Worker is one grpipe worker process as its heartbeats describe it.
type Worker struct {
	Name, Host  string
	PID         int
	Concurrency int
	// State is running, stopping or stopped; Alive is false once its
	// heartbeat is older than the timeout after which its tries are retried.
	State         string
	Alive         bool
	Started, Beat time.Time
	// Running names the tries it runs ("<run> <task> try N"); Done counts
	// the tries it finished since it started.
	Running []string
	Done    int64
}

// DAGInfo describes the DAG.
type DAGInfo struct {
	DAGID    string
	Paused   bool
	Schedule string
	// NextRun is when the scheduler will start the next run (zero when unknown or paused).
	NextRun time.Time
	Tasks   []TaskNode
	// Zones and Warehouse name where data lives (passwords are redacted before display).
	Zones, Warehouse string
}

// TaskNode is one task of the DAG and its upstream edges.
type TaskNode struct {
	ID       string
	Upstream []string
}

// TaskInstance is one try of a task in a run.
type TaskInstance struct {
	RunID     string
	TaskID    string
	Try       int
	MaxTries  int
	State     grpipe.State
	StartedAt time.Time
	EndedAt   time.Time
	Error     string
	// Worker is the grpipe worker that ran the try (executor distributed;
	// Airflow's hostname); empty with the local executor. The Gantt chart
	// and the API show it when set.
	Worker string
}

// MappedInstance is one try of one instance of a mapped task (Airflow's
// dynamic task mapping): the same task run once per landed file. Try is the
// try of the task that fanned out; the task's later tries map afresh.
type MappedInstance struct {
	TaskInstance
	// MapIndex numbers the instance within its try, from 0.
	MapIndex int
	// Label says what the instance works on (batch/file).
	Label string
}

// Duration is the try's wall time (zero while it runs).
func (t TaskInstance) Duration() time.Duration {
	if t.StartedAt.IsZero() || t.EndedAt.IsZero() {
		return 0
	}
	return t.EndedAt.Sub(t.StartedAt)
}

// Health is the service's health.
type Health struct {
	MetadataOK         bool
	MetadataError      string
	SchedulerHeartbeat time.Time
}
