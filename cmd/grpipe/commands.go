package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/app"
	"github.com/grpipe/grpipe/internal/landing"
	"github.com/grpipe/grpipe/internal/report"
	"github.com/grpipe/grpipe/internal/sample"
	"github.com/grpipe/grpipe/internal/warehouse"
)

// The settings the commands that touch the data accept as flags.
var dataSettings = []string{"zones", "warehouse", "max_reject_ratio"}

func cmdLand(ctx context.Context, e *env, args []string) int {
	fs := e.flags("land")
	sf := settingFlags(fs, dataSettings...)
	exportUser := fs.Int64("export-user-id", 0, "your own Goodreads user `ID`, for a goodreads_library_export.csv (the number in your profile's address)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() == 0 {
		fmt.Fprintf(e.stderr, "grpipe land: name at least one file; accepted names: %s\n", grpipe.AcceptedInputNames)
		return exitUsage
	}
	if *exportUser < 0 {
		fmt.Fprintf(e.stderr, "grpipe land: --export-user-id %d: give your Goodreads user id, a positive number\n", *exportUser)
		return exitUsage
	}
	cfg, err := e.config(sf())
	if err != nil {
		return e.fail(err)
	}
	zones, err := app.OpenZones(ctx, cfg)
	if err != nil {
		return e.fail(err)
	}
	defer zones.Close()
	landed, err := landing.Land(ctx, zones, fs.Args(), &landing.Options{ExportUserID: *exportUser})
	for _, n := range landed {
		fmt.Fprintf(e.stdout, "landed %s\n", n)
	}
	if err != nil {
		return e.fail(err)
	}
	return exitOK
}

func cmdRun(ctx context.Context, e *env, args []string) int {
	fs := e.flags("run")
	sf := settingFlags(fs, dataSettings...)
	asJSON := fs.Bool("json", false, "print the run's JSON summary on stdout")
	quiet := fs.Bool("quiet", false, "show no progress (a line per step and task on stderr, a live line on a terminal)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	var opts []app.Option
	stop := func() {}
	if !*quiet {
		// The log goes through the progress, which keeps its live line apart.
		prog := report.NewRunProgress(e.stderr, report.IsTerminal(e.stderr), nil)
		stop = prog.Stop
		defer stop()
		e.stderr = prog
		opts = append(opts, app.WithProgress(prog), app.WithObservers(prog))
	}
	svc, st, _, _, err := e.orchestrator(ctx, sf(), opts...)
	if err != nil {
		return e.fail(err)
	}
	defer st.Close()
	sum, err := svc.RunNow(ctx)
	stop()
	if err != nil {
		return e.fail(err)
	}
	return e.ended(sum, *asJSON)
}

func cmdQuery(ctx context.Context, e *env, args []string) int {
	fs := e.flags("query")
	sf := settingFlags(fs, dataSettings...)
	format := fs.String("format", "table", "output `FORMAT`: table, csv or json")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(e.stderr, `grpipe query: give exactly one SQL statement, quoted: grpipe query "SELECT count(*) FROM goodreads_warehouse.reviews"`)
		return exitUsage
	}
	if err := report.CheckFormat(*format); err != nil {
		fmt.Fprintf(e.stderr, "grpipe query: %v\n", errors.Unwrap(err))
		return exitUsage
	}
	if err := warehouse.CheckReadQuery(fs.Arg(0)); err != nil {
		return e.fail(err)
	}
	cfg, err := e.config(sf())
	if err != nil {
		return e.fail(err)
	}
	wh, err := app.OpenWarehouse(ctx, cfg, true, e.logger(cfg))
	if err != nil {
		return e.fail(err)
	}
	defer wh.Close()
	rows, err := wh.Query(ctx, fs.Arg(0))
	if err != nil && strings.Contains(err.Error(), "read-only") { // until warehouse.ErrReadOnly lands (house-b)
		return e.fail(fmt.Errorf("%w: grpipe query is read-only: %w", grpipe.ErrBadInput, err))
	}
	if err != nil {
		return e.fail(fmt.Errorf("query: %w", err))
	}
	if err := report.Rows(e.stdout, rows, *format); err != nil {
		return e.fail(err)
	}
	return exitOK
}

func cmdDemo(ctx context.Context, e *env, args []string) int {
	fs := e.flags("demo")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	cfg, err := e.config(nil)
	if err != nil {
		return e.fail(err)
	}
	fmt.Fprintf(e.stdout, "grpipe demo in %s\n", cfg.Home)
	a, err := app.Open(ctx, cfg, e.logger(cfg), e.options()...)
	if err != nil {
		return e.fail(err)
	}
	defer a.Close()
	dir, err := os.MkdirTemp("", "grpipe-sample-")
	if err != nil {
		return e.fail(err)
	}
	defer os.RemoveAll(dir)
	paths, err := sample.WriteTo(dir)
	if err != nil {
		return e.fail(err)
	}
	landed, err := landing.Land(ctx, a.Zones, paths, nil)
	if err != nil {
		return e.fail(err)
	}
	fmt.Fprintf(e.stdout, "landed the sample rows: %s\n", strings.Join(landed, ", "))
	sum, err := a.Orchestrator.RunNow(ctx)
	if err != nil {
		return e.fail(err)
	}
	report.Summary(e.stdout, sum)
	if err := report.Tables(ctx, e.stdout, a.Warehouse); err != nil {
		return e.fail(err)
	}
	if sum.State != grpipe.StateSuccess {
		fmt.Fprintf(e.stderr, "grpipe: run %s failed: %s\n", sum.RunID, sum.Error)
		return exitFailed
	}
	home := cfg.Home
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, home); err == nil && !strings.HasPrefix(rel, "..") {
			home = rel
		}
	}
	fmt.Fprintf(e.stdout, "\nnext: grpipe --home %s query \"SELECT * FROM goodreads_analytics.best_books\"\n", home)
	return exitOK
}
