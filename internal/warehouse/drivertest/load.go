package drivertest

import (
	"os"
	"reflect"
	"strings"
	"testing"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/quarantine"
)

// testSetup: Setup creates the schemas and the empty warehouse and quality
// tables with their columns, and running it again changes nothing.
func testSetup(t *testing.T, h Harness) {
	w := setUp(t, h)
	if err := w.Setup(t.Context()); err != nil {
		t.Fatalf("second setup: %v", err)
	}
	columns := map[string][]string{
		"goodreads_warehouse.reviews": {"review_id", "user_id", "book_id", "author_id", "review_text", "review_rating",
			"review_votes", "spoiler_flag", "spoiler_state", "review_added_date", "review_updated_date",
			"review_read_count", "comments_count", "review_url", "record_create_timestamp"},
		"goodreads_warehouse.users": {"user_id", "user_name", "user_display_name", "location", "profile_link", "uri",
			"user_image_url", "small_image_url", "has_image", "record_create_timestamp"},
		"goodreads_warehouse.authors": {"author_id", "name", "role", "profile_url", "average_rating", "rating_count",
			"text_review_count", "record_create_timestamp"},
		"goodreads_warehouse.books": {"book_id", "title", "title_without_series", "image_url", "book_url", "num_pages",
			"format", "edition_information", "publisher", "publication_day", "publication_year", "publication_month",
			"average_rating", "ratings_count", "description", "authors", "published", "record_create_timestamp"},
		"goodreads_quality.rejected_rows": {"run_id", "entity", "source_file", "line", "column_name", "reason", "raw"},
		"goodreads_quality.loaded_batches": {"batch_id", "entity", "read_rows", "rejected", "superseded", "staged",
			"inserted", "updated", "stale", "loaded_at"},
		"goodreads_warehouse.source_keys": {"entity", "source", "source_key", "id"},
	}
	for table, want := range columns {
		if n := count(t, w, table); n != 0 {
			t.Errorf("%s: %d rows after setup, want 0", table, n)
		}
		rows, err := w.Query(t.Context(), "SELECT * FROM "+table)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(rows.Columns, want) {
			t.Errorf("%s columns %v, want %v", table, rows.Columns, want)
		}
	}
}

// fullReview has a value in every column of reviews.
var fullReview = row{
	"review_id": 1, "user_id": 10, "book_id": 201, "author_id": 101,
	"review_text": `it's "good", really — ümlaut`, "review_rating": 4.5, "review_votes": 3,
	"spoiler_flag": true, "spoiler_state": "none",
	"review_added_date": ts("2020-02-19 18:36:17"), "review_updated_date": ts("2020-02-20 02:36:17.5"),
	"review_read_count": 2, "comments_count": 0, "review_url": "https://www.goodreads.com/review/show/1",
	"record_create_timestamp": ts("2020-02-21 00:00:00.123456"),
}

// testStage: what a Stage holds is exactly the Parquet's rows with the
// entity's types (read back through the upsert that follows, since a
// backend may leave the rows in the file until the upsert copies them), is
// replaced by the next Stage, may be empty, and a count that differs from
// the ledger is refused by the Stage itself.
func testStage(t *testing.T, h Harness) {
	w := setUp(t, h)
	ctx := t.Context()
	file := parquetOf(t, grpipe.Reviews, fullReview,
		row{"review_id": 2, "user_id": 11, "book_id": 202, "author_id": 102, "record_create_timestamp": ts("2020-02-22 00:00:00")})
	err := w.Stage(ctx, grpipe.Reviews, file, "", grpipe.Ledger{Read: 3, Staged: 3})
	if err == nil || !strings.Contains(err.Error(), "2 rows") || !strings.Contains(err.Error(), "expected 3") {
		t.Errorf("stage with a ledger of 3 rows for a file of 2: %v, want an error naming both counts", err)
	}

	one := parquetOf(t, grpipe.Reviews, row{"review_id": 3, "user_id": 12, "book_id": 203, "author_id": 103, "record_create_timestamp": ts("2020-02-23 00:00:00")})
	if err := w.Stage(ctx, grpipe.Reviews, one, "", grpipe.Ledger{Read: 1, Staged: 1}); err != nil {
		t.Fatal(err)
	}
	if err := w.Stage(ctx, grpipe.Reviews, file, "", grpipe.Ledger{Read: 2, Staged: 2}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, w, "goodreads_staging.rejected_rows"); n != 0 {
		t.Errorf("staged rejected rows: %d, want 0", n)
	}
	l, err := w.Upsert(ctx, "b1", grpipe.Reviews, grpipe.Ledger{Read: 2, Staged: 2})
	if err != nil {
		t.Fatal(err)
	}
	if want := (grpipe.Ledger{Read: 2, Staged: 2, Inserted: 2}); l != want {
		t.Errorf("ledger %+v, want %+v", l, want)
	}
	expect(t, w, "SELECT * FROM goodreads_warehouse.reviews ORDER BY review_id", [][]any{
		{1, 10, 201, 101, `it's "good", really — ümlaut`, 4.5, 3, true, "none", "2020-02-19 18:36:17", "2020-02-20 02:36:17.5",
			2, 0, "https://www.goodreads.com/review/show/1", "2020-02-21 00:00:00.123456"},
		{2, 11, 202, 102, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, "2020-02-22 00:00:00"},
	})

	// A Stage of review 3 replaced by an empty Stage: its upsert changes
	// nothing.
	if err := w.Stage(ctx, grpipe.Reviews, one, "", grpipe.Ledger{Read: 1, Staged: 1}); err != nil {
		t.Fatal(err)
	}
	if err := w.Stage(ctx, grpipe.Reviews, "", "", grpipe.Ledger{}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, w, "goodreads_staging.reviews"); n != 0 {
		t.Errorf("staging after an empty stage: %d rows, want 0", n)
	}
	if l, err := w.Upsert(ctx, "b2", grpipe.Reviews, grpipe.Ledger{}); err != nil || l != (grpipe.Ledger{}) {
		t.Errorf("upsert of an empty stage: %+v, %v; want an empty ledger", l, err)
	}
	if n := count(t, w, "goodreads_warehouse.reviews"); n != 2 {
		t.Errorf("reviews after the upsert of an empty stage: %d, want 2", n)
	}

	rejects := rejectsOf(t,
		quarantine.Row{SourceFile: "user.csv", Line: 3, Column: "user_id", Reason: `user_id "x" is not an integer`, Raw: `x,"Bad, id"`},
		quarantine.Row{SourceFile: "user.csv", Line: 5, Reason: "expected 3 fields as in the header, found 2", Raw: "2,Bob"})
	users := parquetOf(t, grpipe.Users, row{"user_id": 1, "user_name": "Ann", "has_image": false, "record_create_timestamp": ts("2020-01-01 00:00:00")})
	err = w.Stage(ctx, grpipe.Users, users, rejects, grpipe.Ledger{Read: 2, Rejected: 1, Staged: 1})
	if err == nil || !strings.Contains(err.Error(), "2 rows") || !strings.Contains(err.Error(), "expected 1") {
		t.Errorf("stage with a ledger of 1 rejected row for a file of 2: %v, want an error naming both counts", err)
	}
	if err := w.Stage(ctx, grpipe.Users, users, rejects, grpipe.Ledger{Read: 3, Rejected: 2, Staged: 1}); err != nil {
		t.Fatal(err)
	}
	expect(t, w, "SELECT * FROM goodreads_staging.rejected_rows ORDER BY line", [][]any{
		{"user.csv", 3, "user_id", `user_id "x" is not an integer`, `x,"Bad, id"`},
		{"user.csv", 5, nil, "expected 3 fields as in the header, found 2", "2,Bob"},
	})
	if _, err := w.Upsert(ctx, "b1", grpipe.Users, grpipe.Ledger{Read: 3, Rejected: 2, Staged: 1}); err != nil {
		t.Fatal(err)
	}
	expect(t, w, "SELECT user_id, user_name, has_image, record_create_timestamp FROM goodreads_warehouse.users", [][]any{
		{1, "Ann", false, "2020-01-01 00:00:00"},
	})

	// The staged file gone before the upsert (into an empty table): the
	// upsert fails and commits nothing, rejected rows and ledger included.
	gone := parquetOf(t, grpipe.Authors, row{"author_id": 101, "record_create_timestamp": ts("2020-01-01 00:00:00")})
	bad := rejectsOf(t, quarantine.Row{SourceFile: "author.csv", Line: 2, Reason: "bad", Raw: "x"})
	if err := w.Stage(ctx, grpipe.Authors, gone, bad, grpipe.Ledger{Read: 2, Rejected: 1, Staged: 1}); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(gone); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Upsert(ctx, "b3", grpipe.Authors, grpipe.Ledger{Read: 2, Rejected: 1, Staged: 1}); err == nil {
		t.Error("upsert of a staged file removed before it: no error")
	}
	for table, want := range map[string]int64{"goodreads_warehouse.authors": 0, "goodreads_quality.rejected_rows": 2, "goodreads_quality.loaded_batches": 3} {
		if n := count(t, w, table); n != want {
			t.Errorf("%s after a failed upsert: %d rows, want %d", table, n, want)
		}
	}
}

// review is a review row with the columns the upsert and the analytics
// look at.
func review(id, author, book int64, rating any, text, created string) row {
	r := row{"review_id": id, "user_id": 10, "book_id": book, "author_id": author, "review_rating": rating,
		"review_text": text, "record_create_timestamp": ts(created)}
	if author == 0 {
		r["author_id"] = nil
	}
	if book == 0 {
		r["book_id"] = nil
	}
	return r
}

// testUpsert: a stored row is replaced by a staged version as new or newer
// (a tie replaces), never by an older one (stale); new ids are inserted;
// the ledger says so and loaded_batches records it.
func testUpsert(t *testing.T, h Harness) {
	w := setUp(t, h)
	ctx := t.Context()
	if _, ok, err := w.Loaded(ctx, "b1", grpipe.Reviews); err != nil || ok {
		t.Fatalf("Loaded before any load: %v, %v; want false", ok, err)
	}
	l := load(t, w, "b1", grpipe.Reviews, parquetOf(t, grpipe.Reviews,
		review(1, 101, 201, 3.0, "v1", "2020-01-01 00:00:00"),
		review(2, 101, 201, 3.0, "v1", "2020-01-01 00:00:00"),
		review(3, 101, 201, 3.0, "v1", "2020-01-01 00:00:00"),
	), "", grpipe.Ledger{Read: 4, Superseded: 1, Staged: 3})
	if want := (grpipe.Ledger{Read: 4, Superseded: 1, Staged: 3, Inserted: 3}); l != want {
		t.Errorf("first batch ledger %+v, want %+v", l, want)
	}

	l = load(t, w, "b2", grpipe.Reviews, parquetOf(t, grpipe.Reviews,
		review(1, 101, 201, 5.0, "newer", "2020-02-01 00:00:00"),        // newer: replaces
		review(2, 101, 201, 4.0, "tie", "2020-01-01 00:00:00"),          // same timestamp: replaces
		review(3, 101, 201, 1.0, "stale", "2019-12-31 23:59:59.999999"), // older: stale
		review(4, 102, 202, 2.0, "new", "2020-01-15 00:00:00"),          // new id: inserted
	), "", grpipe.Ledger{Read: 4, Staged: 4})
	if want := (grpipe.Ledger{Read: 4, Staged: 4, Inserted: 1, Updated: 2, Stale: 1}); l != want {
		t.Errorf("second batch ledger %+v, want %+v", l, want)
	}
	if !l.Balanced() {
		t.Errorf("ledger %+v does not balance", l)
	}
	expect(t, w, "SELECT review_id, author_id, review_rating, review_text, record_create_timestamp FROM goodreads_warehouse.reviews ORDER BY review_id", [][]any{
		{1, 101, 5.0, "newer", "2020-02-01 00:00:00"},
		{2, 101, 4.0, "tie", "2020-01-01 00:00:00"},
		{3, 101, 3.0, "v1", "2020-01-01 00:00:00"},
		{4, 102, 2.0, "new", "2020-01-15 00:00:00"},
	})

	// A batch without rows of the entity applies nothing.
	l = load(t, w, "b3", grpipe.Reviews, "", "", grpipe.Ledger{})
	if l != (grpipe.Ledger{}) {
		t.Errorf("empty batch ledger %+v, want zeros", l)
	}
	if n := count(t, w, "goodreads_warehouse.reviews"); n != 4 {
		t.Errorf("%d reviews after an empty batch, want 4", n)
	}

	for batch, want := range map[string]grpipe.Ledger{
		"b1": {Read: 4, Superseded: 1, Staged: 3, Inserted: 3},
		"b2": {Read: 4, Staged: 4, Inserted: 1, Updated: 2, Stale: 1},
		"b3": {},
	} {
		got, ok, err := w.Loaded(ctx, batch, grpipe.Reviews)
		if err != nil || !ok || got != want {
			t.Errorf("Loaded(%s, reviews) = %+v, %v, %v; want %+v, true", batch, got, ok, err, want)
		}
	}
	if _, ok, err := w.Loaded(ctx, "b1", grpipe.Users); err != nil || ok {
		t.Errorf("Loaded(b1, users) = %v, %v; want false: only reviews were loaded", ok, err)
	}
	expect(t, w, `SELECT batch_id, entity, read_rows, rejected, superseded, staged, inserted, updated, stale,
		loaded_at IS NOT NULL FROM goodreads_quality.loaded_batches ORDER BY batch_id`, [][]any{
		{"b1", "reviews", 4, 0, 1, 3, 3, 0, 0, true},
		{"b2", "reviews", 4, 0, 0, 4, 1, 2, 1, true},
		{"b3", "reviews", 0, 0, 0, 0, 0, 0, 0, true},
	})
}

// testRejectedRows: a batch's rejected rows are recorded with the batch and
// entity, beside those of the batch's other entities and of other batches.
func testRejectedRows(t *testing.T, h Harness) {
	w := setUp(t, h)
	load(t, w, "b1", grpipe.Reviews, parquetOf(t, grpipe.Reviews, review(1, 101, 201, 3.0, "ok", "2020-01-01 00:00:00")),
		rejectsOf(t, quarantine.Row{SourceFile: "reviews.csv", Line: 3, Reason: "expected 15 fields as in the header, found 3", Raw: "not,a,review"}),
		grpipe.Ledger{Read: 2, Rejected: 1, Staged: 1})
	l := load(t, w, "b1", grpipe.Users, "",
		rejectsOf(t,
			quarantine.Row{SourceFile: "user-1.csv", Line: 2, Column: "user_id", Reason: `user_id "x" is not an integer`, Raw: "x,Ann"},
			quarantine.Row{SourceFile: "user-2.csv", Line: 9, Column: "record_create_timestamp", Reason: "not a timestamp", Raw: "line\nbreak, \"quoted\""}),
		grpipe.Ledger{Read: 2, Rejected: 2})
	if want := (grpipe.Ledger{Read: 2, Rejected: 2}); l != want {
		t.Errorf("users ledger %+v, want %+v", l, want)
	}
	load(t, w, "b2", grpipe.Reviews, "", "", grpipe.Ledger{})
	expect(t, w, "SELECT * FROM goodreads_quality.rejected_rows ORDER BY line", [][]any{
		{"b1", "users", "user-1.csv", 2, "user_id", `user_id "x" is not an integer`, "x,Ann"},
		{"b1", "reviews", "reviews.csv", 3, nil, "expected 15 fields as in the header, found 3", "not,a,review"},
		{"b1", "users", "user-2.csv", 9, "record_create_timestamp", "not a timestamp", "line\nbreak, \"quoted\""},
	})
	expect(t, w, "SELECT batch_id, entity, read_rows, rejected, staged, inserted FROM goodreads_quality.loaded_batches ORDER BY batch_id, entity", [][]any{
		{"b1", "reviews", 2, 1, 1, 1},
		{"b1", "users", 2, 2, 0, 0},
		{"b2", "reviews", 0, 0, 0, 0},
	})
}
