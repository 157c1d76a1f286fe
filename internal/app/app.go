// Package app is grpipe's composition root: it opens the zones, the
// warehouse and the run store that a configuration names, and wires the
// pipeline over them.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/alert"
	"github.com/grpipe/grpipe/internal/config"
	"github.com/grpipe/grpipe/internal/dag"
	"github.com/grpipe/grpipe/internal/duckdb"
	"github.com/grpipe/grpipe/internal/objstore"
	"github.com/grpipe/grpipe/internal/pipeline"
	"github.com/grpipe/grpipe/internal/postgres"
	"github.com/grpipe/grpipe/internal/runstore"
	"github.com/grpipe/grpipe/internal/warehouse"
	"github.com/grpipe/grpipe/internal/warehouse/driver"
)

// App is an opened home.
type App struct {
	Config    config.Config
	Zones     *objstore.Store
	Warehouse *warehouse.Warehouse
	Store     *runstore.Store
	Pipeline  *pipeline.Pipeline
	Log       *slog.Logger
}

// OpenZones opens only the zones of cfg (for commands that need nothing else).
func OpenZones(ctx context.Context, cfg config.Config) (*objstore.Store, error) {
	return objstore.Open(ctx, cfg.Zones)
}

// OpenWarehouse opens the warehouse cfg names; readOnly refuses every write.
func OpenWarehouse(ctx context.Context, cfg config.Config, readOnly bool, log *slog.Logger) (*warehouse.Warehouse, error) {
	kind, loc, err := cfg.WarehouseKind()
	if err != nil {
		return nil, err
	}
	var drv driver.Driver
	switch kind {
	case "duckdb":
		if readOnly {
			if _, err := os.Stat(loc); errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("%w: the warehouse %s does not exist yet: run `grpipe run` (or `grpipe demo`) first", grpipe.ErrNotFound, loc)
			}
		} else if err := os.MkdirAll(filepath.Dir(loc), 0o755); err != nil {
			return nil, err
		}
		opts := duckdb.Options{MemoryLimit: cfg.DuckDB.MemoryLimit, TempDirectory: cfg.DuckDB.TempDirectory, Threads: cfg.DuckDB.Threads, ReadOnly: readOnly}
		drv, err = duckdb.OpenWarehouse(ctx, loc, opts)
	case "postgres":
		scan := duckdb.Options{MemoryLimit: cfg.DuckDB.MemoryLimit, TempDirectory: cfg.DuckDB.TempDirectory, Threads: cfg.DuckDB.Threads}
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

// Option adjusts the pipeline's options.
type Option func(*pipeline.Options)

// Open opens everything a run needs.
func Open(ctx context.Context, cfg config.Config, log *slog.Logger, options ...Option) (*App, error) {
	if err := os.MkdirAll(cfg.Home, 0o755); err != nil {
		return nil, fmt.Errorf("home %s: %w", cfg.Home, err)
	}
	a := &App{Config: cfg, Log: log}
	var err error
	if a.Zones, err = OpenZones(ctx, cfg); err != nil {
		return nil, err
	}
	if a.Store, err = runstore.Open(ctx, filepath.Join(cfg.Home, "grpipe.db")); err != nil {
		a.Close()
		return nil, err
	}
	if a.Warehouse, err = OpenWarehouse(ctx, cfg, false, log); err != nil {
		a.Close()
		return nil, err
	}
	win, _ := cfg.Window()
	w := warehouse.AllTime
	if !win[0].IsZero() {
		w.Start = win[0]
	}
	if !win[1].IsZero() {
		w.End = win[1]
	}
	dur, err := cfg.Durations()
	if err != nil {
		a.Close()
		return nil, err
	}
	retry := dag.DefaultRetry()
	retry.Delay, retry.MaxDelay = dur.RetryDelay, dur.MaxRetryDelay
	if cfg.Orchestrator.Retries != nil {
		retry.Retries = *cfg.Orchestrator.Retries
	}
	tasks, err := taskOptions(cfg, dur)
	if err != nil {
		a.Close()
		return nil, err
	}
	snapshot, err := cfg.Snapshot()
	if err != nil {
		a.Close()
		return nil, err
	}
	popts := pipeline.Options{
		Snapshot:               snapshot,
		WorkDir:                filepath.Join(cfg.Home, "tmp", "work"),
		LockPath:               RunLockPath(cfg),
		Retry:                  &retry,
		Tasks:                  tasks,
		WindowFromDataInterval: cfg.Analytics.WindowFromDataInterval,
		MaxRejectRatio:         cfg.MaxRejectRatio,
		Window:                 w,
		Transform:              duckdb.Options{MemoryLimit: cfg.DuckDB.MemoryLimit, TempDirectory: cfg.DuckDB.TempDirectory, Threads: cfg.DuckDB.Threads},
		Parallelism:            cfg.Parallelism,
		ProcessedRetention:     cfg.ProcessedRetention,
	}
	for _, o := range options {
		o(&popts)
	}
	a.Pipeline = pipeline.New(popts, a.Zones, a.Warehouse, a.Store, log)
	return a, nil
}

// Executor executes queued runs, opening the home for each run and closing
// it after: the embedded DuckDB warehouse admits one process at a time, so a
// long-running scheduler must not hold it between runs (`grpipe query` and
// `grpipe run` work while it waits for the next interval).
type Executor struct {
	Config  config.Config
	Log     *slog.Logger
	Options []Option
}

// Execute opens the home, executes the queued run runID and closes the home.
func (x *Executor) Execute(ctx context.Context, runID string, eo pipeline.ExecOptions) (*grpipe.RunSummary, error) {
	a, err := Open(ctx, x.Config, x.Log, x.Options...)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	return a.Pipeline.Execute(ctx, runID, eo)
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
	return runstore.Open(ctx, filepath.Join(cfg.Home, "grpipe.db"))
}

// CheckSettings checks the settings Open would refuse without opening
// anything: the warehouse URL and the per-task overrides.
func CheckSettings(cfg config.Config) error {
	if _, _, err := cfg.WarehouseKind(); err != nil {
		return err
	}
	dur, err := cfg.Durations()
	if err != nil {
		return err
	}
	_, err = taskOptions(cfg, dur)
	return err
}

// taskOptions turns orchestrator.tasks into per-task overrides; an unknown
// task id is an error naming the setting.
func taskOptions(cfg config.Config, dur config.Durations) (map[string]pipeline.TaskOptions, error) {
	known := map[string]bool{}
	for _, id := range grpipe.TaskIDs() {
		known[id] = true
	}
	out := map[string]pipeline.TaskOptions{}
	for id, t := range cfg.Orchestrator.Tasks {
		if !known[id] {
			return nil, fmt.Errorf("%w: orchestrator.tasks.%s: no such task; the task ids are %s", grpipe.ErrBadInput, id, strings.Join(grpipe.TaskIDs(), ", "))
		}
		out[id] = pipeline.TaskOptions{Retries: t.Retries, Timeout: dur.TaskTimeouts[id]}
	}
	return out, nil
}

// Notifier returns the alert notifier cfg's alerts settings describe.
func Notifier(cfg config.Config, log *slog.Logger) *alert.Notifier {
	dur, _ := cfg.Durations()
	e := cfg.Alerts.Email
	return alert.New(alert.Options{WebhookURL: cfg.Alerts.Webhook.URL, SMTPAddr: e.SMTPAddr, From: e.From, To: e.To,
		Username: e.Username, Password: e.Password, OnRetry: cfg.Alerts.OnRetry, Timeout: dur.WebhookTimeout}, log)
}

// WithObservers tells obs of every run that ends, every try that ends and
// every try that will be retried.
func WithObservers(obs ...grpipe.Observer) Option {
	return func(o *pipeline.Options) { o.Observers = append(o.Observers, obs...) }
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
