package duckdb_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/duckdb"
	"github.com/grpipe/grpipe/internal/warehouse"
)

// upsertReviews upserts n generated reviews into the warehouse file at path
// opened with opts, and returns the compression methods of the stored
// reviews' text columns ("review_text:ZSTD,...").
func upsertReviews(t *testing.T, path string, opts duckdb.Options, n int64) string {
	t.Helper()
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "reviews.parquet")
	mem, err := duckdb.Open(ctx, "", duckdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	if _, err := mem.Exec(fmt.Sprintf(genReviews, 0, n, 0, duckdb.Quote(file))); err != nil {
		t.Fatal(err)
	}
	drv, err := duckdb.OpenWarehouse(ctx, path, opts)
	if err != nil {
		t.Fatal(err)
	}
	w, err := warehouse.New(drv, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	in := grpipe.Ledger{Read: n, Staged: n}
	if err := w.Stage(ctx, grpipe.Reviews, file, "", in); err != nil {
		t.Fatal(err)
	}
	l, err := w.Upsert(ctx, "b1", grpipe.Reviews, in)
	if err != nil {
		t.Fatal(err)
	}
	if l.Inserted+l.Updated+l.Stale != n {
		t.Fatalf("ledger %+v for %d rows", l, n)
	}
	if _, err := drv.DB().Exec("CHECKPOINT"); err != nil {
		t.Fatal(err)
	}
	var got string
	q := `SELECT string_agg(DISTINCT column_name || ':' || compression, ',' ORDER BY column_name || ':' || compression)
		FROM pragma_storage_info('goodreads_warehouse.reviews')
		WHERE column_name IN ('review_text', 'review_url') AND segment_type = 'VARCHAR'`
	if err := drv.DB().QueryRow(q).Scan(&got); err != nil {
		t.Fatal(err)
	}
	return got
}

// A new warehouse file stores the text columns with zstd (storage version
// duckdb.WarehouseStorageVersion); a file of DuckDB's default version,
// made by an earlier grpipe, opens and takes upserts as before.
func TestWarehouseTextCompression(t *testing.T) {
	dir := t.TempDir()
	if got, want := upsertReviews(t, filepath.Join(dir, "new.duckdb"), duckdb.Options{Threads: 2}, 150_000), "review_text:ZSTD,review_url:ZSTD"; got != want {
		t.Errorf("new warehouse: text columns stored as %q, want %q", got, want)
	}
	old := filepath.Join(dir, "old.duckdb")
	db, err := duckdb.Open(context.Background(), old, duckdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE t (x INTEGER)"); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if got := upsertReviews(t, old, duckdb.Options{Threads: 2}, 3000); got == "" {
		t.Errorf("old warehouse: no text segments stored")
	}
}
