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

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/config"
	"github.com/grpipe/grpipe/internal/duckdb"
	"github.com/grpipe/grpipe/internal/objstore"
	"github.com/grpipe/grpipe/internal/pipeline"
	"github.com/grpipe/grpipe/internal/runstore"
	"github.com/grpipe/grpipe/internal/warehouse"
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
	var drv warehouse.Driver
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
	popts := pipeline.Options{
		WorkDir:            filepath.Join(cfg.Home, "tmp", "work"),
		LockPath:           filepath.Join(cfg.Home, "run.lock"),
		MaxRejectRatio:     cfg.MaxRejectRatio,
		Window:             w,
		Transform:          duckdb.Options{MemoryLimit: cfg.DuckDB.MemoryLimit, TempDirectory: cfg.DuckDB.TempDirectory, Threads: cfg.DuckDB.Threads},
		Parallelism:        cfg.Parallelism,
		ProcessedRetention: cfg.ProcessedRetention,
	}
	for _, o := range options {
		o(&popts)
	}
	a.Pipeline = pipeline.New(popts, a.Zones, a.Warehouse, a.Store, log)
	return a, nil
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
