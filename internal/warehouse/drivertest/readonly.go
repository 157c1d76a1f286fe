package drivertest

import (
	"testing"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/warehouse"
)

// testReadOnly: a warehouse opened read-only reads everything and refuses
// every write with ErrReadOnly, and the data stays as it was.
func testReadOnly(t *testing.T, h Harness) {
	rw := setUp(t, h)
	load(t, rw, "b1", grpipe.Reviews, parquetOf(t, grpipe.Reviews, review(1, 101, 201, 4.0, "kept", "2020-02-10 00:00:00")), "", grpipe.Ledger{Read: 1, Staged: 1})
	buildAll(t, rw, warehouse.AllTime)
	// Staging left empty: on DuckDB a staging view reads the batch's
	// Parquet files, which a read-only session may not open at all, so
	// the upsert below would be refused before it tries to write.
	if err := rw.Stage(t.Context(), grpipe.Reviews, "", "", grpipe.Ledger{}); err != nil {
		t.Fatal(err)
	}
	if err := rw.Close(); err != nil {
		t.Fatal(err)
	}

	ro := open(t, h, true)
	ctx := t.Context()
	mustFail(t, "Setup", ro.Setup(ctx), warehouse.ErrReadOnly)
	mustFail(t, "CreateAnalyticsSchema", ro.CreateAnalyticsSchema(ctx), warehouse.ErrReadOnly)
	_, err := ro.BuildAnalytics(ctx, analyticsTable(t, "best_authors"), warehouse.AllTime)
	mustFail(t, "BuildAnalytics", err, warehouse.ErrReadOnly)
	_, err = ro.Upsert(ctx, "b2", grpipe.Reviews, grpipe.Ledger{})
	mustFail(t, "Upsert", err, warehouse.ErrReadOnly)
	mustFail(t, "Stage", ro.Stage(ctx, grpipe.Reviews, "", "", grpipe.Ledger{}), warehouse.ErrReadOnly)
	for _, q := range []string{
		"DELETE FROM goodreads_warehouse.reviews",
		"INSERT INTO goodreads_warehouse.reviews (review_id) VALUES (2)",
		"UPDATE goodreads_warehouse.reviews SET review_text = 'changed'",
		"CREATE TABLE goodreads_warehouse.x (a INTEGER)",
		"DROP TABLE goodreads_warehouse.users",
	} {
		_, err := ro.Query(ctx, q)
		mustFail(t, q, err, warehouse.ErrReadOnly)
	}

	expect(t, ro, "SELECT review_id, review_text FROM goodreads_warehouse.reviews", [][]any{{1, "kept"}})
	if n := count(t, ro, "goodreads_warehouse.users"); n != 0 {
		t.Errorf("users: %d rows, want 0", n)
	}
	if l, ok, err := ro.Loaded(ctx, "b1", grpipe.Reviews); err != nil || !ok || l.Inserted != 1 {
		t.Errorf("Loaded on the read-only warehouse: %+v, %v, %v", l, ok, err)
	}
	top, err := ro.Top(ctx, analyticsTable(t, "popular_books_review_count"), 10)
	if err != nil || !sameRows(normalize(top.Values), [][]any{{1, 201, 1, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil}}) {
		t.Errorf("Top on the read-only warehouse: %v, %v", top, err)
	}
	checks, err := ro.WarehouseChecks(ctx)
	if err != nil || len(checks) != 13 {
		t.Errorf("WarehouseChecks on the read-only warehouse: %d checks, %v", len(checks), err)
	}
}

// testErrors: a table that does not exist is ErrNoTable, a table name
// without its schema is bad input.
func testErrors(t *testing.T, h Harness) {
	w := setUp(t, h)
	ctx := t.Context()
	_, err := w.Count(ctx, "goodreads_analytics.best_books")
	mustFail(t, "Count of an analytics table before the analytics schema exists", err, warehouse.ErrNoTable)
	if err := w.CreateAnalyticsSchema(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = w.Count(ctx, "goodreads_analytics.best_books")
	mustFail(t, "Count of an analytics table not created", err, warehouse.ErrNoTable)
	_, err = w.Top(ctx, analyticsTable(t, "best_books"), 10)
	mustFail(t, "Top of a table not created", err, warehouse.ErrNoTable)
	_, err = w.Query(ctx, "SELECT * FROM goodreads_warehouse.nosuch")
	mustFail(t, "Query of a table that does not exist", err, warehouse.ErrNoTable)
	_, err = w.Count(ctx, "reviews")
	mustFail(t, "Count of a table without its schema", err, grpipe.ErrBadInput)
	_, err = w.Top(ctx, analyticsTable(t, "best_books"), -1)
	mustFail(t, "Top with a negative limit", err, grpipe.ErrBadInput)
}
