package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/app"
	"github.com/grpipe/grpipe/internal/landing"
	"github.com/grpipe/grpipe/internal/pipeline"
	"github.com/grpipe/grpipe/internal/sample"
	"github.com/grpipe/grpipe/internal/warehouse"
)

// settingFlags registers the flags that override settings.
func settingFlags(fs *flag.FlagSet) map[string]*string {
	return map[string]*string{
		"zones":            fs.String("zones", "", "zones `URL` (env GRPIPE_ZONES): file:///path or s3://bucket/prefix?endpoint=..."),
		"warehouse":        fs.String("warehouse", "", "warehouse `DSN` (env GRPIPE_WAREHOUSE): duckdb:///path or postgres://..."),
		"max_reject_ratio": fs.String("max-reject-ratio", "", "refuse a file whose rejected share exceeds `RATIO` (env GRPIPE_MAX_REJECT_RATIO, default 0.01)"),
	}
}

func values(m map[string]*string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = *v
	}
	return out
}

func cmdLand(ctx context.Context, e *env, args []string) int {
	fs := e.flags("land")
	sf := settingFlags(fs)
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
	cfg, err := e.config(values(sf))
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
	sf := settingFlags(fs)
	asJSON := fs.Bool("json", false, "print the run's JSON summary on stdout")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	cfg, err := e.config(values(sf))
	if err != nil {
		return e.fail(err)
	}
	log := e.logger(cfg)
	// max_active_runs=1: refuse at once, naming the holder, while another
	// process (the scheduler, another grpipe run) runs the DAG.
	if err := runLockFree(cfg); err != nil {
		return e.fail(err)
	}
	a, err := app.Open(ctx, cfg, log, e.crashHook(), app.WithObservers(app.Notifier(cfg, log)))
	if err != nil {
		return e.fail(err)
	}
	defer a.Close()
	sum, err := a.Pipeline.Run(ctx, pipeline.RunInfo{RunType: grpipe.RunManual})
	if err != nil {
		return e.fail(err)
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(sum); err != nil {
			return e.fail(err)
		}
	} else {
		printSummary(e.stdout, sum)
	}
	if sum.State != grpipe.StateSuccess {
		fmt.Fprintf(e.stderr, "grpipe: run %s failed: %s\n", sum.RunID, sum.Error)
		return exitFailed
	}
	return exitOK
}

func printSummary(w io.Writer, sum *grpipe.RunSummary) {
	fmt.Fprintf(w, "run %s: %s in %.1fs\n", sum.RunID, sum.State, sum.EndedAt.Sub(sum.StartedAt).Seconds())
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "table\tread\trejected\tsuperseded\tstaged\tinserted\tupdated\tstale\t")
	for _, en := range grpipe.Entities() {
		l := sum.Tables[en.Name]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", en.Name, l.Read, l.Rejected, l.Superseded, l.Staged, l.Inserted, l.Updated, l.Stale)
	}
	tw.Flush()
	for _, t := range sum.Tasks {
		if t.State != grpipe.StateSuccess {
			fmt.Fprintf(w, "task %s: %s %s\n", t.TaskID, t.State, t.Error)
		}
	}
	failed := 0
	for _, c := range sum.Checks {
		if !c.Passed {
			failed++
			fmt.Fprintf(w, "check failed: %s on %s: %s\n", c.Name, c.Table, c.Detail)
		}
	}
	fmt.Fprintf(w, "%d checks, %d failed\n", len(sum.Checks), failed)
}

func cmdQuery(ctx context.Context, e *env, args []string) int {
	fs := e.flags("query")
	sf := settingFlags(fs)
	format := fs.String("format", "table", "output `FORMAT`: table, csv or json")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(e.stderr, `grpipe query: give exactly one SQL statement, quoted: grpipe query "SELECT count(*) FROM goodreads_warehouse.reviews"`)
		return exitUsage
	}
	switch *format {
	case "table", "csv", "json":
	default:
		fmt.Fprintf(e.stderr, "grpipe query: --format %q: use table, csv or json\n", *format)
		return exitUsage
	}
	if err := warehouse.CheckReadQuery(fs.Arg(0)); err != nil {
		return e.fail(err)
	}
	cfg, err := e.config(values(sf))
	if err != nil {
		return e.fail(err)
	}
	wh, err := app.OpenWarehouse(ctx, cfg, true, e.logger(cfg))
	if err != nil {
		return e.fail(err)
	}
	defer wh.Close()
	rows, err := wh.Query(ctx, fs.Arg(0))
	if err != nil {
		if errors.Is(err, warehouse.ErrReadOnly) {
			return e.fail(fmt.Errorf("%w: grpipe query is read-only: %v", grpipe.ErrBadInput, err))
		}
		return e.fail(fmt.Errorf("query: %w", err))
	}
	if err := printRows(e.stdout, rows, *format); err != nil {
		return e.fail(err)
	}
	return exitOK
}

func printRows(w io.Writer, rows *warehouse.Rows, format string) error {
	switch format {
	case "csv":
		cw := csv.NewWriter(w)
		if err := cw.Write(rows.Columns); err != nil {
			return err
		}
		for _, r := range rows.Values {
			rec := make([]string, len(r))
			for i, v := range r {
				rec[i] = cell(v)
			}
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	case "json":
		out := make([]map[string]any, 0, len(rows.Values))
		for _, r := range rows.Values {
			m := make(map[string]any, len(r))
			for i, v := range r {
				m[rows.Columns[i]] = v
			}
			out = append(out, m)
		}
		enc := json.NewEncoder(w)
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(rows.Columns, "\t"))
	for _, r := range rows.Values {
		cells := make([]string, len(r))
		for i, v := range r {
			cells[i] = clipCell(cell(v))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "(%d rows)\n", len(rows.Values))
	return nil
}

func cell(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

func clipCell(s string) string {
	const max = 48
	r := []rune(s)
	if len(r) > max {
		return string(r[:max-1]) + "…"
	}
	return s
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
	log := e.logger(cfg)
	fmt.Fprintf(e.stdout, "grpipe demo in %s\n", cfg.Home)
	a, err := app.Open(ctx, cfg, log)
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
	sum, err := a.Pipeline.Run(ctx, pipeline.RunInfo{RunType: grpipe.RunManual})
	if err != nil {
		return e.fail(err)
	}
	printSummary(e.stdout, sum)
	if err := printTables(ctx, e.stdout, a.Warehouse); err != nil {
		return e.fail(err)
	}
	if sum.State != grpipe.StateSuccess {
		fmt.Fprintf(e.stderr, "grpipe: run %s failed: %s\n", sum.RunID, sum.Error)
		return exitFailed
	}
	fmt.Fprintf(e.stdout, "\nnext: grpipe --home %s query \"SELECT * FROM goodreads_analytics.best_books\"\n", relHome(cfg.Home))
	return exitOK
}

func relHome(home string) string {
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, home); err == nil && !strings.HasPrefix(rel, "..") {
			return rel
		}
	}
	return home
}

// printTables prints the row count of every warehouse and analytics table,
// then the top rows of each analytics table.
func printTables(ctx context.Context, w io.Writer, wh *warehouse.Warehouse) error {
	fmt.Fprintln(w, "\nrow counts:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, t := range warehouse.Tables() {
		n, err := wh.Count(ctx, t)
		if err != nil {
			fmt.Fprintf(tw, "  %s\t(not built)\n", t)
			continue
		}
		fmt.Fprintf(tw, "  %s\t%d\n", t, n)
	}
	tw.Flush()
	for _, t := range warehouse.AnalyticsTables() {
		if _, err := wh.Count(ctx, "goodreads_analytics."+t.Table); err != nil {
			continue
		}
		q := topQuery(t)
		rows, err := wh.Query(ctx, q)
		if err != nil {
			return fmt.Errorf("show %s: %w", t.Table, err)
		}
		fmt.Fprintf(w, "\ngoodreads_analytics.%s (top 5):\n", t.Table)
		if err := printRows(w, rows, "table"); err != nil {
			return err
		}
	}
	return nil
}

func topQuery(t warehouse.AnalyticsTable) string {
	name := "name"
	key := "author_id"
	if t.Subject == warehouse.BookSubject {
		name, key = "title", "book_id"
	}
	switch t.Kind {
	case grpipe.AnalyticsReviewCount:
		return fmt.Sprintf("SELECT rank, %s, %s, review_count FROM goodreads_analytics.%s ORDER BY rank LIMIT 5", key, name, t.Table)
	case grpipe.AnalyticsAverageRating:
		return fmt.Sprintf("SELECT rank, %s, %s, round(average_review_rating, 2) AS average_review_rating, review_count FROM goodreads_analytics.%s ORDER BY rank LIMIT 5", key, name, t.Table)
	}
	return fmt.Sprintf("SELECT %s, %s, review_count, round(average_review_rating, 2) AS average_review_rating FROM goodreads_analytics.%s ORDER BY count_rank LIMIT 5", key, name, t.Table)
}
