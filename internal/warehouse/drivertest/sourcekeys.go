package drivertest

import (
	"testing"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/warehouse"
)

// keysOf writes source keys (entity, source, source_key, id, source_file,
// line) to a Parquet file, as the transform does for derived ids.
func keysOf(t *testing.T, rows ...row) string {
	t.Helper()
	types := map[string]string{"entity": "VARCHAR", "source": "VARCHAR", "source_key": "VARCHAR", "id": "BIGINT", "source_file": "VARCHAR", "line": "BIGINT"}
	var cols []column
	for _, name := range warehouse.SourceKeysColumns {
		cols = append(cols, column{name, types[name]})
	}
	return writeParquet(t, "keys", cols, rows)
}

func key(k string, id int64, line int64) row {
	return row{"entity": "reviews", "source": "ucsd", "source_key": k, "id": id, "source_file": "goodreads_reviews_dedup.json", "line": line}
}

// testSourceKeys: rows with derived ids keep their source keys; a staged
// row whose id the warehouse holds under another key (a collision of the
// derivation) is not applied but rejected, and the ledger says so; the
// same key again updates as usual; reviews without an author take their
// book's first author.
func testSourceKeys(t *testing.T, h Harness) {
	w := setUp(t, h)
	ctx := t.Context()
	upsert := func(batch string, reviews, keys string, ledger grpipe.Ledger) grpipe.Ledger {
		t.Helper()
		if err := w.StageSourceKeys(ctx, keys); err != nil {
			t.Fatal(err)
		}
		if err := w.Stage(ctx, grpipe.Reviews, reviews, "", ledger); err != nil {
			t.Fatal(err)
		}
		l, err := w.UpsertWithKeys(ctx, batch, grpipe.Reviews, ledger)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	l := upsert("b1", parquetOf(t, grpipe.Reviews,
		review(1, 0, 201, 4.0, "first", "2020-01-01 00:00:00"),
		review(2, 0, 999, 3.0, "second", "2020-01-01 00:00:00"),
	), keysOf(t, key("k1", 1, 1), key("k2", 2, 2)), grpipe.Ledger{Read: 2, Staged: 2})
	if want := (grpipe.Ledger{Read: 2, Staged: 2, Inserted: 2}); l != want {
		t.Errorf("first batch ledger %+v, want %+v", l, want)
	}
	l = upsert("b2", parquetOf(t, grpipe.Reviews,
		review(1, 0, 201, 1.0, "collides", "2020-02-01 00:00:00"), // key kX derives id 1, held by k1
		review(2, 0, 999, 5.0, "second, newer", "2020-02-01 00:00:00"),
		review(3, 0, 201, 2.0, "third", "2020-02-01 00:00:00"),
	), keysOf(t, key("kX", 1, 1), key("k2", 2, 2), key("k3", 3, 3)), grpipe.Ledger{Read: 3, Staged: 3})
	if want := (grpipe.Ledger{Read: 3, Rejected: 1, Staged: 2, Inserted: 1, Updated: 1}); l != want {
		t.Errorf("second batch ledger %+v, want %+v", l, want)
	}
	expect(t, w, "SELECT review_id, review_rating, review_text FROM goodreads_warehouse.reviews ORDER BY review_id", [][]any{
		{1, 4.0, "first"}, {2, 5.0, "second, newer"}, {3, 2.0, "third"},
	})
	expect(t, w, "SELECT entity, source, source_key, id FROM goodreads_warehouse.source_keys ORDER BY id", [][]any{
		{"reviews", "ucsd", "k1", 1}, {"reviews", "ucsd", "k2", 2}, {"reviews", "ucsd", "k3", 3},
	})
	expect(t, w, "SELECT * FROM goodreads_quality.rejected_rows", [][]any{
		{"b2", "reviews", "goodreads_reviews_dedup.json", 1, "review_id",
			"ucsd key kX maps to id 1, already taken by key k1 (a collision of the derived id)", "kX"},
	})
	checks, err := w.SourceKeyChecks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	expectChecks(t, checks, []string{"goodreads_warehouse.source_keys source_keys_unique true: 0 keys stored twice or ids stored under two keys"})

	load(t, w, "b3", grpipe.Books, parquetOf(t, grpipe.Books, row{"book_id": 201, "authors": 101, "record_create_timestamp": ts("2020-01-01 00:00:00")}), "", grpipe.Ledger{Read: 1, Staged: 1})
	// Review totals built before the fill: the author tables built after
	// it count the filled reviews.
	buildAll(t, w, warehouse.AllTime)
	expect(t, w, "SELECT count(*) FROM goodreads_analytics.popular_authors_review_count", [][]any{{0}})
	n, err := w.FillReviewAuthors(ctx)
	if err != nil || n != 2 {
		t.Errorf("FillReviewAuthors = %d, %v; want 2 (reviews 1 and 3 of book 201)", n, err)
	}
	expect(t, w, "SELECT review_id, author_id FROM goodreads_warehouse.reviews ORDER BY review_id", [][]any{
		{1, 101}, {2, nil}, {3, 101},
	})
	buildTables(t, w, warehouse.AllTime)
	expect(t, w, "SELECT rank, author_id, review_count FROM goodreads_analytics.popular_authors_review_count", [][]any{{1, 101, 2}})
}
