package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/config"
	"github.com/grpipe/grpipe/internal/fake"
	"github.com/grpipe/grpipe/internal/landing"
	"github.com/grpipe/grpipe/internal/report"
	"github.com/grpipe/grpipe/internal/sample"
	"github.com/grpipe/grpipe/internal/warehouse"
)

// The wiring of the commands that are more than one call: which parts of
// a home they open, in what order, and what they close.

// Land lands local files into the zones of cfg, cut into parts of about
// split bytes ("64MB"; "" lands them whole), and returns the names landed.
func Land(ctx context.Context, cfg config.Config, files []string, split string, opts landing.Options) ([]string, error) {
	if split != "" {
		n, err := fake.ParseSize(split)
		if err != nil {
			return nil, fmt.Errorf("--split: %w", err)
		}
		opts.Split = n
	}
	zones, err := OpenZones(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer zones.Close()
	return landing.Land(ctx, zones, files, &opts)
}

// Query runs one read-only statement against the warehouse of cfg, opened
// read-only; a statement that would write is refused (grpipe.ErrBadInput).
func Query(ctx context.Context, cfg config.Config, q string, log *slog.Logger) (*warehouse.Rows, error) {
	if err := warehouse.CheckReadQuery(q); err != nil {
		return nil, err
	}
	wh, err := OpenWarehouse(ctx, cfg, true, log)
	if err != nil {
		return nil, err
	}
	defer wh.Close()
	rows, err := wh.Query(ctx, q)
	if errors.Is(err, warehouse.ErrReadOnly) {
		return nil, fmt.Errorf("%w: grpipe query is read-only: %w", grpipe.ErrBadInput, err)
	}
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	return rows, nil
}

// RunNow runs the DAG once now in the home of cfg (grpipe run). With
// progress set, the run's progress is shown there (a line per ETL step and
// per task; a live line too when live) and the log, at cfg's level, goes
// through it, which keeps the live line apart.
func RunNow(ctx context.Context, cfg config.Config, log *slog.Logger, progress io.Writer, live bool, options ...Option) (*grpipe.RunSummary, error) {
	if progress != nil {
		prog := report.NewRunProgress(progress, live, nil)
		defer prog.Stop()
		log = slog.New(slog.NewTextHandler(prog, &slog.HandlerOptions{Level: cfg.LogLevel}))
		options = append(slices.Clip(options), WithProgress(prog), WithObservers(prog))
	}
	svc, st, err := OpenOrchestrator(ctx, cfg, log, options...)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return svc.RunNow(ctx)
}

// Demo lands the bundled sample rows in the home of cfg, runs the DAG once
// and writes what was landed, the run's summary and the tables to w.
func Demo(ctx context.Context, cfg config.Config, log *slog.Logger, w io.Writer, options ...Option) (*grpipe.RunSummary, error) {
	fmt.Fprintf(w, "grpipe demo in %s\n", cfg.Home)
	a, err := Open(ctx, cfg, log, options...)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	dir, err := os.MkdirTemp("", "grpipe-sample-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	paths, err := sample.WriteTo(dir)
	if err != nil {
		return nil, err
	}
	landed, err := landing.Land(ctx, a.Zones, paths, nil)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "landed the sample rows: %s\n", strings.Join(landed, ", "))
	sum, err := a.Orchestrator.RunNow(ctx)
	if err != nil {
		return nil, err
	}
	report.Summary(w, sum)
	return sum, report.Tables(ctx, w, a.Warehouse)
}
