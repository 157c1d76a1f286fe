package duckdb_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/grpipe/grpipe/internal/duckdb"
	"github.com/grpipe/grpipe/internal/warehouse"
)

// TestQueryEachDuckDB covers what only DuckDB has among the SQL box's
// statements: one that cannot be a subquery (DESCRIBE), paged by reading
// past rows, and the table functions that read files, refused in the
// read-only session (external access off).
func TestQueryEachDuckDB(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "warehouse.duckdb")
	open := func(readOnly bool) *warehouse.Warehouse {
		drv, err := duckdb.OpenWarehouse(ctx, path, duckdb.Options{ReadOnly: readOnly, Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		w, err := warehouse.New(drv, nil)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	rw := open(false)
	if err := rw.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	rw.Close()
	w := open(true)
	defer w.Close()

	var cols []string
	var names []string
	err := w.QueryEach(ctx, "DESCRIBE goodreads_warehouse.books", 1, 2, func(c []string, vals []any) error {
		cols = c
		if vals != nil {
			names = append(names, vals[0].(string))
		}
		return nil
	})
	if err != nil || len(cols) == 0 || cols[0] != "column_name" || len(names) != 2 || names[0] != "title" || names[1] != "title_without_series" {
		t.Errorf("DESCRIBE, rows 2 and 3: %v %v %v", err, cols, names)
	}
	for _, q := range []string{
		"SELECT * FROM read_csv('/etc/hostname')",
		"SELECT * FROM read_text('/etc/passwd')",
		"FROM read_parquet('/tmp/x.parquet')",
		"SELECT * FROM glob('/etc/*')",
	} {
		if err := w.QueryEach(ctx, q, 0, 5, func([]string, []any) error { return nil }); err == nil {
			t.Errorf("%s ran in the read-only session", q)
		}
	}
}
