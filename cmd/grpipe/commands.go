package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/app"
	"github.com/grpipe/grpipe/internal/landing"
	"github.com/grpipe/grpipe/internal/report"
)

// The commands over the data: land, run, query, demo.

func cmdLand(ctx context.Context, e *env, args []string) error {
	var o landing.Options
	var split string
	return e.do(ctx, args, spec{name: "land", nargs: -1, usage: "grpipe land: name at least one file; accepted names: " + grpipe.AcceptedInputNames, settings: dataSettings},
		func(fs *flag.FlagSet) {
			fs.Int64Var(&o.ExportUserID, "export-user-id", 0, "your own Goodreads user `ID`, for a goodreads_library_export.csv (the number in your profile's address)")
			fs.StringVar(&split, "split", "", "cut each CSV file at record boundaries into parts of about `SIZE` (64MB, 1GiB), landed as <entity>-<name>-NNNN.csv")
		}, func(c call) error {
			landed, err := app.Land(ctx, c.cfg, c.args, split, o)
			report.Landed(e.stdout, landed)
			return err
		})
}

func cmdRun(ctx context.Context, e *env, args []string) error {
	var asJSON, quiet bool
	return e.do(ctx, args, spec{name: "run", settings: dataSettings}, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print the run's JSON summary on stdout")
		fs.BoolVar(&quiet, "quiet", false, "show no progress (a line per step and task on stderr, a live line on a terminal)")
	}, func(c call) error {
		var progress io.Writer // nil: --quiet
		if !quiet {
			progress = e.stderr
		}
		return e.ended(asJSON)(app.RunNow(ctx, c.cfg, c.log, progress, report.IsTerminal(e.stderr), e.hooks.options...))
	})
}

func cmdQuery(ctx context.Context, e *env, args []string) error {
	var format string
	return e.do(ctx, args, spec{name: "query", nargs: 1, settings: dataSettings,
		usage: `grpipe query: give exactly one SQL statement, quoted: grpipe query "SELECT count(*) FROM goodreads_warehouse.reviews"`},
		func(fs *flag.FlagSet) {
			fs.StringVar(&format, "format", "table", "output `FORMAT`: table, csv or json")
		},
		func(c call) error {
			if err := report.CheckFormat(format); err != nil {
				return e.usageError("grpipe query: %v", err)
			}
			rows, err := app.Query(ctx, c.cfg, c.args[0], c.log)
			if err != nil {
				return err
			}
			return report.Rows(e.stdout, rows, format)
		})
}

func cmdDemo(ctx context.Context, e *env, args []string) error {
	return e.do(ctx, args, spec{name: "demo"}, nil, func(c call) error {
		sum, err := app.Demo(ctx, c.cfg, c.log, e.stdout, e.hooks.options...)
		if err != nil {
			return err
		}
		if sum.State != grpipe.StateSuccess {
			fmt.Fprintf(e.stderr, "grpipe: run %s failed: %s\n", sum.RunID, sum.Error)
			return errFailed
		}
		report.Next(e.stdout, c.cfg.Home)
		return nil
	})
}
