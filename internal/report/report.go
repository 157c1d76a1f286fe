// Package report writes what grpipe's commands print for people: a run's
// summary and its tasks, the run list, query results as a table, CSV or
// JSON, the demo's tables, a benchmark's result, and a progress bar. The
// JSON summaries are the domain types themselves (grpipe.RunSummary); this
// package holds only the text forms, so that cmd/grpipe stays flags and
// wiring. A new command's text output goes here.
package report

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mattn/go-isatty"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/fake"
	"github.com/grpipe/grpipe/internal/runstore"
	"github.com/grpipe/grpipe/internal/termsafe"
	"github.com/grpipe/grpipe/internal/warehouse"
)

// JSON writes v as indented JSON.
func JSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// Summary writes a run's outcome: its state and time, the ledger of every
// table, the tasks that did not succeed and the checks that failed.
func Summary(w io.Writer, sum *grpipe.RunSummary) {
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

// Runs writes the run list: one line per run.
func Runs(w io.Writer, runs []grpipe.Run) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "run_id\trun_type\tstate\tlogical_date\tstarted_at\tduration\terror")
	for _, r := range runs {
		dur := ""
		if !r.StartedAt.IsZero() && !r.EndedAt.IsZero() {
			dur = r.EndedAt.Sub(r.StartedAt).Round(100 * time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.RunID, r.RunType, r.State, Time(r.LogicalDate), Time(r.StartedAt), dur, Clip(r.Error))
	}
	tw.Flush()
}

// Run writes one run: its dates, error, each task with its kind, state and
// tries, and every try that did not succeed.
func Run(w io.Writer, sum *grpipe.RunSummary, tries []runstore.TaskInstance) {
	fmt.Fprintf(w, "run %s (%s): %s\n", sum.RunID, sum.RunType, sum.State)
	fmt.Fprintf(w, "logical date %s, data interval %s to %s\n", Time(sum.LogicalDate), Time(sum.DataIntervalStart), Time(sum.DataIntervalEnd))
	if sum.Error != "" {
		fmt.Fprintf(w, "error: %s\n", sum.Error)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "task_id\tkind\tstate\ttries\tduration\terror")
	for _, t := range sum.Tasks {
		dur := ""
		if !t.StartedAt.IsZero() && !t.EndedAt.IsZero() {
			dur = t.EndedAt.Sub(t.StartedAt).Round(time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", t.TaskID, t.Kind, t.State, t.Tries, dur, Clip(t.Error))
	}
	tw.Flush()
	for _, ti := range tries {
		if ti.State != grpipe.StateSuccess {
			fmt.Fprintf(w, "try %d of %s: %s %s\n", ti.TryNumber, ti.TaskID, ti.State, Clip(ti.Error))
		}
	}
}

// Time formats t as RFC 3339 in UTC, "-" when zero.
func Time(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// Clip shortens s to a table cell of at most 48 characters.
func Clip(s string) string {
	const max = 48
	r := []rune(s)
	if len(r) > max {
		return string(r[:max-1]) + "…"
	}
	return s
}

// formats are the formats of Rows.
var formats = []string{"table", "csv", "json"}

// CheckFormat refuses a format Rows does not write.
func CheckFormat(format string) error {
	if !slices.Contains(formats, format) {
		return fmt.Errorf("--format %q: use table, csv or json", format)
	}
	return nil
}

// Rows writes query results as a table (with a row count), CSV (a header,
// then the rows) or JSON (an array of objects). Data never reaches a
// terminal raw (a value may hold escape sequences that clear the screen or
// rewrite what is shown): a table's cells are always escaped
// (termsafe.Escape: control characters, C1 controls, bidirectional
// overrides); CSV is escaped when w is a terminal and written exactly
// otherwise (a file, a pipe); JSON escapes them losslessly (\uXXXX).
func Rows(w io.Writer, rows *warehouse.Rows, format string) error {
	switch format {
	case "csv":
		esc := func(s string) string { return s }
		if isTerminal(w) {
			esc = termsafe.Escape
		}
		cw := csv.NewWriter(w)
		header := make([]string, len(rows.Columns))
		for i, c := range rows.Columns {
			header[i] = esc(c)
		}
		if err := cw.Write(header); err != nil {
			return err
		}
		for _, r := range rows.Values {
			rec := make([]string, len(r))
			for i, v := range r {
				rec[i] = esc(cell(v))
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
		b, err := json.Marshal(out)
		if err != nil {
			return err
		}
		_, err = w.Write(append(termsafe.JSON(b), '\n'))
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	header := make([]string, len(rows.Columns))
	for i, c := range rows.Columns {
		header[i] = termsafe.Escape(c)
	}
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows.Values {
		cells := make([]string, len(r))
		for i, v := range r {
			cells[i] = Clip(termsafe.Escape(cell(v)))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "(%d rows)\n", len(rows.Values))
	return nil
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

func cell(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// Tables writes the row count of every warehouse and analytics table, then
// the top five rows of each analytics table built (grpipe demo).
func Tables(ctx context.Context, w io.Writer, wh *warehouse.Warehouse) error {
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
		rows, err := wh.Top(ctx, t, 5)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "\ngoodreads_analytics.%s (top 5):\n", t.Table)
		if err := Rows(w, topColumns(t, rows), "table"); err != nil {
			return err
		}
	}
	return nil
}

// topColumns keeps the columns the demo shows of an analytics table, the
// average rating rounded to two decimals.
func topColumns(t warehouse.AnalyticsTable, rows *warehouse.Rows) *warehouse.Rows {
	key, name := "author_id", "name"
	if t.Subject == warehouse.BookSubject {
		key, name = "book_id", "title"
	}
	cols := []string{key, name, "review_count", "average_review_rating"}
	switch t.Kind {
	case grpipe.AnalyticsReviewCount:
		cols = []string{"rank", key, name, "review_count"}
	case grpipe.AnalyticsAverageRating:
		cols = []string{"rank", key, name, "average_review_rating", "review_count"}
	}
	out := &warehouse.Rows{Columns: cols}
	for _, r := range rows.Values {
		row := make([]any, len(cols))
		for i, c := range cols {
			if j := slices.Index(rows.Columns, c); j >= 0 {
				row[i] = r[j]
			}
			if f, ok := row[i].(float64); ok && c == "average_review_rating" {
				row[i] = math.Round(f*100) / 100
			}
		}
		out.Values = append(out.Values, row)
	}
	return out
}

// Batch says what one batch of grpipe fake wrote, where, and how fast.
func Batch(w io.Writer, m *fake.Manifest, secs float64, where string) {
	fmt.Fprintf(w, "wrote %d records, %s in %.1fs (%s/s) to %s:", m.Records, Bytes(m.Bytes), secs, Bytes(int64(float64(m.Bytes)/secs)), where)
	for _, f := range m.Files {
		fmt.Fprintf(w, " %s", f.Name)
	}
	fmt.Fprintln(w)
}
