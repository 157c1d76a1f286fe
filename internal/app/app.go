// Package app is grpipe's composition root: from a configuration it opens
// the zones, the warehouse and the run store, and wires the pipeline's work,
// the executor, the observers (alerts) and the orchestrator over them. It
// holds no logic of its own: a new warehouse backend is a case in
// OpenWarehouse (its driver in its own package), a new executor a new
// orchestrator.Workspace here.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/alert"
	"github.com/grpipe/grpipe/internal/config"
	"github.com/grpipe/grpipe/internal/dag"
	"github.com/grpipe/grpipe/internal/duckdb"
	"github.com/grpipe/grpipe/internal/objstore"
	"github.com/grpipe/grpipe/internal/orchestrator"
	"github.com/grpipe/grpipe/internal/pipeline"
	"github.com/grpipe/grpipe/internal/postgres"
	"github.com/grpipe/grpipe/internal/runstore"
	"github.com/grpipe/grpipe/internal/warehouse"
	"github.com/grpipe/grpipe/internal/warehouse/driver"
)

// OpenZones opens only the zones of cfg (for commands that need nothing else).
func OpenZones(ctx context.Context, cfg config.Config) (*objstore.Store, error) {
	return objstore.Open(ctx, cfg.Zones)
}

// OpenWarehouse opens the warehouse cfg names; readOnly refuses every write.
func OpenWarehouse(ctx context.Context, cfg config.Config, readOnly bool, log *slog.Logger) (*warehouse.Warehouse, error) {
	kind, loc := cfg.Warehouse.Kind, cfg.Warehouse.Location
	var drv driver.Driver
	var err error
	switch kind {
	case config.DuckDBWarehouse:
		if readOnly {
			if _, err := os.Stat(loc); errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("%w: the warehouse %s does not exist yet: run `grpipe run` (or `grpipe demo`) first", grpipe.ErrNotFound, loc)
			}
		} else if err := os.MkdirAll(filepath.Dir(loc), 0o755); err != nil {
			return nil, err
		}
		// Row order in the warehouse's tables carries no meaning (every
		// read that shows rows orders them): the upsert may insert unordered.
		opts := duckdb.Options{MemoryLimit: cfg.DuckDB.WarehouseMemoryLimit, TempDirectory: cfg.DuckDB.TempDirectory, Threads: cfg.DuckDB.Threads,
			Unordered: true, ReadOnly: readOnly}
		if readOnly {
			// The staging views read the batch's Parquet in the processed
			// zone: a reader (grpipe query) may read there, and nowhere else.
			if u, err := url.Parse(cfg.Zones); err == nil && u.Scheme == "file" {
				opts.AllowedDirectories = []string{filepath.Join(u.Path, string(grpipe.Processed)) + string(filepath.Separator)}
			}
		}
		drv, err = duckdb.OpenWarehouse(ctx, loc, opts)
	case config.PostgresWarehouse:
		scan := duckdb.Options{MemoryLimit: cfg.DuckDB.WarehouseMemoryLimit, TempDirectory: cfg.DuckDB.TempDirectory, Threads: cfg.DuckDB.Threads}
		drv, err = postgres.Open(ctx, loc, postgres.Options{ReadOnly: readOnly, Scan: scan})
		if err != nil {
			return nil, fmt.Errorf("warehouse %s (setting warehouse, env GRPIPE_WAREHOUSE, flag --warehouse): %w", config.Redact(loc), err)
		}
	default:
		err = fmt.Errorf("%w: warehouse %s: the %s backend is not built into this grpipe", grpipe.ErrBadInput, config.Redact(loc), kind)
	}
	if err != nil {
		return nil, fmt.Errorf("warehouse: %w", err)
	}
	return warehouse.New(drv, log)
}

// App is an opened home: zones, warehouse and run store stay open, and the
// orchestrator's runs work on them (tests, grpipe bench).
type App struct {
	Config       config.Config
	Zones        *objstore.Store
	Warehouse    *warehouse.Warehouse
	Store        *runstore.Store
	Orchestrator *orchestrator.Service
	Log          *slog.Logger
}

// Options are what a caller adds to the wiring: observers, and the hooks
// only tests set.
type Options struct {
	// Observers are told of runs and tries, besides the alerts of the
	// configuration.
	Observers []grpipe.Observer
	// Crash is called at named points of the ETL (pipeline.Options.Crash).
	Crash func(point string)
	// Sleep waits the backoff before a retry (orchestrator.Options.Sleep).
	Sleep func(ctx context.Context, d time.Duration) error
	// Progress is told how the ETL advances in this process (a display).
	Progress pipeline.Progress
	// mapper fans the ETL's files out (a worker's pipeline only).
	mapper pipeline.Mapper
}

// Option adjusts the Options.
type Option func(*Options)

// WithObservers tells obs of every run that ends, every try that ends and
// every try that will be retried.
func WithObservers(obs ...grpipe.Observer) Option {
	return func(o *Options) { o.Observers = append(o.Observers, obs...) }
}

// WithProgress tells p how the ETL tasks run in this process advance.
func WithProgress(p pipeline.Progress) Option {
	return func(o *Options) { o.Progress = p }
}

// WithCrash calls crash at the ETL's named points (a test hook).
func WithCrash(crash func(point string)) Option {
	return func(o *Options) { o.Crash = crash }
}

// WithSleep waits the backoff before a retry with sleep (a test hook).
func WithSleep(sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(o *Options) { o.Sleep = sleep }
}

// Open opens the home cfg describes and keeps it open. Its orchestrator runs
// the tasks in this process, or, with executor: distributed, puts them on
// the queue for workers (RunWorker).
func Open(ctx context.Context, cfg config.Config, log *slog.Logger, options ...Option) (*App, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &App{Config: cfg, Log: log}
	var err error
	if a.Store, err = OpenStore(ctx, cfg); err != nil {
		return nil, err
	}
	if a.Zones, err = OpenZones(ctx, cfg); err != nil {
		a.Close()
		return nil, err
	}
	if a.Warehouse, err = OpenWarehouse(ctx, cfg, false, log); err != nil {
		a.Close()
		return nil, err
	}
	o := collect(options)
	p, err := newPipeline(cfg, o, a.Zones, a.Warehouse, log)
	if err != nil {
		a.Close()
		return nil, err
	}
	var ws orchestrator.Workspace = openWorkspace{p.Executor()}
	if cfg.Executor == config.ExecutorDistributed {
		// The tasks run on workers (RunWorker), which open their own zones
		// and warehouse; a.Zones and a.Warehouse serve this process.
		ws = distributedWorkspace{cfg: cfg, store: a.Store, log: log}
	}
	if a.Orchestrator, err = newOrchestrator(cfg, o, a.Store, ws, log); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// OpenOrchestrator opens the run store of the home cfg describes and
// returns the orchestrator over it (see NewOrchestrator). The caller closes
// the store.
func OpenOrchestrator(ctx context.Context, cfg config.Config, log *slog.Logger, options ...Option) (*orchestrator.Service, *runstore.Store, error) {
	st, err := OpenStore(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	svc, err := NewOrchestrator(cfg, st, log, options...)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return svc, st, nil
}

// NewOrchestrator returns the orchestrator of the home cfg describes over
// its open run store st. Each execution of a run opens the zones and the
// warehouse and closes them after: the embedded DuckDB warehouse admits one
// process at a time, so a long-running scheduler must not hold it between
// runs (`grpipe query` and `grpipe run` work while it waits).
func NewOrchestrator(cfg config.Config, st *runstore.Store, log *slog.Logger, options ...Option) (*orchestrator.Service, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	o := collect(options)
	if cfg.Executor == config.ExecutorDistributed {
		return newOrchestrator(cfg, o, st, distributedWorkspace{cfg: cfg, store: st, log: log}, log)
	}
	return newOrchestrator(cfg, o, st, homeWorkspace{cfg: cfg, opts: o, log: log}, log)
}

func collect(options []Option) Options {
	var o Options
	for _, f := range options {
		f(&o)
	}
	return o
}

// openWorkspace runs every execution on the same open zones and warehouse.
type openWorkspace struct{ x dag.Executor }

func (w openWorkspace) Open(context.Context, grpipe.Run) (dag.Executor, func() error, error) {
	return w.x, func() error { return nil }, nil
}

// homeWorkspace opens the zones and the warehouse for each execution.
type homeWorkspace struct {
	cfg  config.Config
	opts Options
	log  *slog.Logger
}

func (w homeWorkspace) Open(ctx context.Context, _ grpipe.Run) (dag.Executor, func() error, error) {
	zones, err := OpenZones(ctx, w.cfg)
	if err != nil {
		return nil, nil, err
	}
	wh, err := openForRun(ctx, w.cfg, w.log, readersWait)
	if err != nil {
		zones.Close()
		return nil, nil, err
	}
	release := func() error { return errors.Join(wh.Close(), zones.Close()) }
	p, err := newPipeline(w.cfg, w.opts, zones, wh, w.log)
	if err != nil {
		release()
		return nil, nil, err
	}
	return p.Executor(), release, nil
}

// readersWait is how long a run waits for the warehouse's readers (grpipe
// query, the web UI's warehouse view: short-lived read-only sessions of the
// embedded DuckDB file) to let go of it.
const readersWait = 2 * time.Minute

// openForRun opens the warehouse for a run, which holds the run lock: the
// one gate between runs. A reader holding the embedded warehouse's file
// (warehouse.ErrBusy) is waited for, up to wait, trying again with a
// growing pause; the run fails only when a reader keeps it longer.
func openForRun(ctx context.Context, cfg config.Config, log *slog.Logger, wait time.Duration) (*warehouse.Warehouse, error) {
	deadline := time.Now().Add(wait)
	pause := 100 * time.Millisecond
	for logged := false; ; {
		wh, err := OpenWarehouse(ctx, cfg, false, log)
		if err == nil || !errors.Is(err, warehouse.ErrBusy) || time.Now().Add(pause).After(deadline) {
			if err != nil && errors.Is(err, warehouse.ErrBusy) {
				err = fmt.Errorf("%w (waited %s for it)", err, wait)
			}
			return wh, err
		}
		if !logged {
			log.Info("the warehouse is open in another process (grpipe query, the web UI): waiting for it to let go", "up_to", wait.String())
			logged = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, 2*time.Second)
	}
}

// newPipeline wires the pipeline's work over zones and wh.
func newPipeline(cfg config.Config, o Options, zones *objstore.Store, wh *warehouse.Warehouse, log *slog.Logger) (*pipeline.Pipeline, error) {
	w := warehouse.AllTime
	if a := cfg.Analytics; !a.WindowStart.IsZero() {
		w.Start = a.WindowStart
	}
	if a := cfg.Analytics; !a.WindowEnd.IsZero() {
		w.End = a.WindowEnd
	}
	return pipeline.New(pipeline.Options{
		WorkDir:                 filepath.Join(cfg.Home, "tmp", "work"),
		WindowFromDataInterval:  cfg.Analytics.WindowFromDataInterval,
		MaxRejectRatio:          cfg.MaxRejectRatio,
		Window:                  w,
		Transform:               duckdb.Options{MemoryLimit: cfg.DuckDB.TransformMemoryLimit, TempDirectory: cfg.DuckDB.TempDirectory, Threads: cfg.DuckDB.Threads},
		TransformCSVMemoryLimit: cfg.DuckDB.CSVTransformLimit(),
		Parallelism:             cfg.Parallelism,
		Compression:             cfg.ParquetCompression,
		ProcessedRetention:      cfg.ProcessedRetention,
		Snapshot:                cfg.UCSDSnapshot,
		Crash:                   o.Crash,
		Progress:                o.Progress,
		Mapper:                  o.mapper,
	}, zones, wh, log), nil
}

// newOrchestrator wires the orchestrator of cfg over st and ws, with the
// alerts of cfg and the observers of o.
func newOrchestrator(cfg config.Config, o Options, st *runstore.Store, ws orchestrator.Workspace, log *slog.Logger) (*orchestrator.Service, error) {
	oc := cfg.Orchestrator
	tasks := map[string]dag.Override{}
	for id, t := range oc.Tasks {
		tasks[id] = dag.Override{Retries: t.Retries, Timeout: t.Timeout}
	}
	var lock func() (func() error, error)
	if cfg.MetadataOnPostgres() {
		// Processes on several machines share one run lock: in the database.
		lock = func() (func() error, error) { return st.TryAdvisoryLock(context.Background(), runstore.RunLockKey) }
	}
	return orchestrator.New(orchestrator.Options{
		Store:         st,
		Lock:          lock,
		RunLock:       RunLockPath(cfg),
		PendingRecord: filepath.Join(cfg.Home, "run-record.pending"),
		Workspace:     ws,
		Retry:         dag.RetryPolicy{Retries: oc.Retries, Delay: oc.RetryDelay, MaxDelay: oc.MaxRetryDelay},
		Tasks:         tasks,
		DependsOnPast: oc.DependsOnPast,
		Parallelism:   cfg.Parallelism,
		Observers:     append([]grpipe.Observer{Notifier(cfg, log)}, o.Observers...),
		Log:           log,
		Sleep:         o.Sleep,
	})
}

// RunLockPath is the lock that keeps two runs of the DAG from overlapping
// (max_active_runs=1 across processes).
func RunLockPath(cfg config.Config) string { return filepath.Join(cfg.Home, "run.lock") }

// SchedulerLockPath is the lock that keeps a second scheduler out of a home.
func SchedulerLockPath(cfg config.Config) string { return filepath.Join(cfg.Home, "scheduler.lock") }

// OpenStore opens only the run store of cfg's home (for commands that read
// or change run metadata).
func OpenStore(ctx context.Context, cfg config.Config) (*runstore.Store, error) {
	if err := os.MkdirAll(cfg.Home, 0o755); err != nil {
		return nil, fmt.Errorf("home %s: %w", cfg.Home, err)
	}
	return runstore.OpenMetadata(ctx, cfg.Metadata)
}

// CaptureState opens the run store of cfg, which holds the capture's state,
// and, with metadata on PostgreSQL (shared by several machines), the lock
// that keeps a second capture off it.
func CaptureState(ctx context.Context, cfg config.Config) (*runstore.Store, func(context.Context) (func() error, error), error) {
	st, err := OpenStore(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	if !cfg.MetadataOnPostgres() {
		return st, nil, nil
	}
	return st, func(ctx context.Context) (func() error, error) {
		return st.TryAdvisoryLock(ctx, runstore.CaptureLockKey)
	}, nil
}

// Notifier returns the alert notifier cfg's alerts settings describe.
func Notifier(cfg config.Config, log *slog.Logger) *alert.Notifier {
	e := cfg.Alerts.Email
	return alert.New(alert.Options{WebhookURL: cfg.Alerts.Webhook.URL, SMTPAddr: e.SMTPAddr, From: e.From, To: e.To,
		Username: e.Username, Password: e.Password, OnRetry: cfg.Alerts.OnRetry, Timeout: cfg.Alerts.Webhook.Timeout}, log)
}

// Close closes what Open opened.
func (a *App) Close() error {
	var errs []error
	if a.Warehouse != nil {
		errs = append(errs, a.Warehouse.Close())
	}
	if a.Store != nil {
		errs = append(errs, a.Store.Close())
	}
	if a.Zones != nil {
		errs = append(errs, a.Zones.Close())
	}
	return errors.Join(errs...)
}
