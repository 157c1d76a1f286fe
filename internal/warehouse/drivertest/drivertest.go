// Package drivertest is the conformance suite of warehouse drivers, in the
// manner of gocloud.dev/blob/drivertest: every driver's own _test.go
// supplies a Harness that opens the driver on a real, empty database and
// calls RunConformanceTests. The suite drives the portable warehouse
// (package warehouse) over the driver and checks every result against
// expected rows written here as literal values: no backend is the oracle
// for another. A new driver is done when its harness passes the whole suite;
// a new expectation every backend must meet is a new test here.
//
// The suite writes its input Parquet files itself (with an in-memory
// DuckDB), so it needs no test data on disk.
package drivertest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/duckdb"
	"github.com/grpipe/grpipe/internal/quarantine"
	"github.com/grpipe/grpipe/internal/warehouse"
	"github.com/grpipe/grpipe/internal/warehouse/driver"
)

// Harness opens drivers on one database of the backend under test, empty
// when the harness is made.
type Harness interface {
	// Open opens a driver on the harness's database. With readOnly, the
	// driver must refuse every write with an error wrapping
	// warehouse.ErrReadOnly. The suite closes each driver it opens before
	// it opens the next.
	Open(ctx context.Context, readOnly bool) (driver.Driver, error)
}

// HarnessMaker makes a harness on a new, empty database; it is called once
// for each test of the suite, and releases the database with t.Cleanup.
type HarnessMaker func(ctx context.Context, t *testing.T) (Harness, error)

// RunConformanceTests runs the whole suite against the driver that
// newHarness opens.
func RunConformanceTests(t *testing.T, newHarness HarnessMaker) {
	tests := []struct {
		name string
		run  func(t *testing.T, h Harness)
	}{
		{"Setup", testSetup},
		{"Stage", testStage},
		{"Upsert", testUpsert},
		{"UpsertCases", testUpsertCases},
		{"RejectedRows", testRejectedRows},
		{"WarehouseChecksPass", testChecksPass},
		{"WarehouseChecksFail", testChecksFail},
		{"WarehouseChecksRepeats", testChecksRepeats},
		{"Analytics", testAnalytics},
		{"AnalyticsChecks", testAnalyticsChecks},
		{"SourceKeys", testSourceKeys},
		{"ReadOnly", testReadOnly},
		{"Errors", testErrors},
		{"Explore", testExplore},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := newHarness(t.Context(), t)
			if err != nil {
				t.Fatalf("make harness: %v", err)
			}
			tc.run(t, h)
		})
	}
}

// open opens a portable warehouse over a driver of h; it is closed when
// the test ends, or earlier by the test.
func open(t *testing.T, h Harness, readOnly bool) *warehouse.Warehouse {
	t.Helper()
	drv, err := h.Open(t.Context(), readOnly)
	if err != nil {
		t.Fatalf("open driver (read-only %v): %v", readOnly, err)
	}
	w, err := warehouse.New(drv, nil)
	if err != nil {
		drv.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// setUp opens a read-write warehouse and creates its tables.
func setUp(t *testing.T, h Harness) *warehouse.Warehouse {
	t.Helper()
	w := open(t, h, false)
	if err := w.Setup(t.Context()); err != nil {
		t.Fatalf("setup: %v", err)
	}
	return w
}

// ts parses a UTC timestamp written as the warehouse prints it.
func ts(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04:05.999999", s)
	if err != nil {
		panic(err)
	}
	return t
}

// row is one input row by column name; a column not given is NULL.
type row map[string]any

// parquetOf writes rows of entity e to a Parquet file with e's columns and
// types, as the transform does, and returns its path.
func parquetOf(t *testing.T, e grpipe.Entity, rows ...row) string {
	t.Helper()
	cols := make([]column, len(e.Columns))
	for i, c := range e.Columns {
		cols[i] = column{c.Name, c.Type.SQL()}
	}
	for _, r := range rows {
		for name := range r {
			if !contains(e.ColumnNames(), name) {
				t.Fatalf("test data: %s has no column %s", e.Name, name)
			}
		}
	}
	return writeParquet(t, e.Name, cols, rows)
}

// rejectsOf writes rejected rows to a Parquet file with the quarantine's
// columns, as the transform does (an empty column_name is NULL there).
func rejectsOf(t *testing.T, rows ...quarantine.Row) string {
	t.Helper()
	var cols []column
	for _, c := range quarantine.Columns() {
		cols = append(cols, column{c.Name, c.Type.SQL()})
	}
	var rs []row
	for _, r := range rows {
		var col any
		if r.Column != "" {
			col = r.Column
		}
		rs = append(rs, row{"source_file": r.SourceFile, "line": r.Line, "column_name": col, "reason": r.Reason, "raw": r.Raw})
	}
	return writeParquet(t, "rejects", cols, rs)
}

type column struct{ name, typ string }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// writeParquet writes rows with the columns cols (values bound as
// parameters) to a new Parquet file, through an in-memory DuckDB.
func writeParquet(t *testing.T, name string, cols []column, rows []row) string {
	t.Helper()
	ctx := t.Context()
	db, err := duckdb.Open(ctx, "", duckdb.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	defs := make([]string, len(cols))
	params := make([]string, len(cols))
	for i, c := range cols {
		defs[i] = driver.QuoteIdent(c.name) + " " + c.typ
		params[i] = fmt.Sprintf("$%d", i+1)
	}
	if _, err := db.ExecContext(ctx, "CREATE TABLE t ("+strings.Join(defs, ", ")+")"); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		args := make([]any, len(cols))
		for i, c := range cols {
			args[i] = r[c.name]
		}
		if _, err := db.ExecContext(ctx, "INSERT INTO t VALUES ("+strings.Join(params, ", ")+")", args...); err != nil {
			t.Fatalf("write %s row %v: %v", name, r, err)
		}
	}
	p := filepath.Join(t.TempDir(), name+".parquet")
	if _, err := db.ExecContext(ctx, "COPY t TO "+duckdb.Quote(p)+" (FORMAT parquet)"); err != nil {
		t.Fatal(err)
	}
	return p
}

// query runs a query on w and returns its rows with integers as int64.
func query(t *testing.T, w *warehouse.Warehouse, q string, args ...any) [][]any {
	t.Helper()
	rows, err := w.Query(t.Context(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return normalize(rows.Values)
}

func normalize(rows [][]any) [][]any {
	out := make([][]any, len(rows))
	for i, r := range rows {
		out[i] = make([]any, len(r))
		for j, v := range r {
			out[i][j] = normalValue(v)
		}
	}
	return out
}

func normalValue(v any) any {
	switch x := v.(type) {
	case int:
		return int64(x)
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case float32:
		return float64(x)
	}
	return v
}

// sameRows compares rows, floats within a relative 1e-12.
func sameRows(got, want [][]any) bool {
	want = normalize(want)
	if len(got) != len(want) {
		return false
	}
	for i := range want {
		if len(got[i]) != len(want[i]) {
			return false
		}
		for j := range want[i] {
			g, w := got[i][j], want[i][j]
			if gf, ok := g.(float64); ok {
				if wf, ok := w.(float64); ok && math.Abs(gf-wf) <= 1e-12*math.Max(1, math.Abs(wf)) {
					continue
				}
				return false
			}
			if !reflect.DeepEqual(g, w) {
				return false
			}
		}
	}
	return true
}

// expect checks the rows q returns.
func expect(t *testing.T, w *warehouse.Warehouse, q string, want [][]any) {
	t.Helper()
	if got := query(t, w, q); !sameRows(got, want) {
		t.Errorf("%s:\n got  %s\n want %s", q, show(got), show(normalize(want)))
	}
}

func show(rows [][]any) string {
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "\n    %#v", r)
	}
	return b.String()
}

// count returns the rows of a table.
func count(t *testing.T, w *warehouse.Warehouse, table string) int64 {
	t.Helper()
	n, err := w.Count(t.Context(), table)
	if err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// load stages and upserts one batch of entity e.
func load(t *testing.T, w *warehouse.Warehouse, batch string, e grpipe.Entity, parquet, rejects string, ledger grpipe.Ledger) grpipe.Ledger {
	t.Helper()
	if err := w.Stage(t.Context(), e, parquet, rejects, ledger); err != nil {
		t.Fatalf("stage %s %s: %v", batch, e.Name, err)
	}
	l, err := w.Upsert(t.Context(), batch, e, ledger)
	if err != nil {
		t.Fatalf("upsert %s %s: %v", batch, e.Name, err)
	}
	return l
}

// mustFail checks that err wraps target.
func mustFail(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: %v, want an error wrapping %q", what, err, target)
	}
}
