// Package pipeline is the work of the GoodReads DAG's tasks: claiming the
// files waiting in landing into a run's working folder, transforming them
// to Parquet (internal/transform), staging and upserting them into the
// warehouse, the data-quality checks and the analytics tables
// (internal/warehouse). Work returns each task's work by task id; Executor
// runs it in this process. When and how often a task runs (order, retries,
// timeouts, depends_on_past, the run lock) is not decided here but in
// internal/dag and internal/orchestrator.
//
// A new task's work goes in tasks.go (its spec in the domain package's
// dag.go); a new input format plugs into internal/transform and
// internal/landing, not here.
package pipeline

import (
	"errors"
	"log/slog"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/duckdb"
	"github.com/grpipe/grpipe/internal/objstore"
	"github.com/grpipe/grpipe/internal/warehouse"
)

// Options configure a pipeline.
type Options struct {
	// WorkDir holds local scratch files (fetched objects, clean files, Parquet).
	WorkDir string
	// MaxRejectRatio is the share of rejected rows above which a file is refused whole.
	MaxRejectRatio float64
	// Window bounds the reviews the analytics count.
	Window warehouse.Window
	// Transform tunes the DuckDB engine of the transform.
	Transform duckdb.Options
	// TransformCSVMemoryLimit is the engine's memory_limit for a batch of
	// CSV files only ("": Transform's); see transform.Options.CSVMemoryLimit.
	TransformCSVMemoryLimit string
	// Parallelism bounds concurrent file validations (0: defaults).
	Parallelism int
	// Compression is the codec of the processed zone's Parquet ("": the transform's default).
	Compression grpipe.Compression
	// WindowFromDataInterval makes the analytics count the reviews of the
	// run's data interval (when it has one) instead of Window.
	WindowFromDataInterval bool
	// ProcessedRetention is how many batches the processed zone keeps, the
	// newest by time of writing (0: all).
	ProcessedRetention int
	// Snapshot is the record_create_timestamp of the books, authors and users
	// of a UCSD Book Graph dump (setting ucsd_snapshot; zero: late 2017).
	Snapshot time.Time
	// Crash, when set, is called at named points of the ETL (claim,
	// transform, stage, upsert, cleanup). Only tests set it: crash tests kill
	// the process there, shutdown tests slow it down.
	Crash func(point string)
	// Progress, when set, is told how the ETL advances (a display); nil: nothing.
	Progress Progress
	// Mapper, when set, transforms the files of a batch of CSV files as
	// mapped instances (executor distributed; see fanout.go).
	Mapper Mapper
}

// Pipeline does the work of the GoodReads DAG's tasks over zones and a warehouse.
type Pipeline struct {
	opts  Options
	zones *objstore.Store
	wh    *warehouse.Warehouse
	log   *slog.Logger
	now   func() time.Time
}

// New returns a pipeline.
func New(opts Options, zones *objstore.Store, wh *warehouse.Warehouse, log *slog.Logger) *Pipeline {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Window == (warehouse.Window{}) {
		opts.Window = warehouse.AllTime
	}
	return &Pipeline{opts: opts, zones: zones, wh: wh, log: log, now: time.Now}
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
