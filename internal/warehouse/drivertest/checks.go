package drivertest

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/warehouse"
)

// checkLine is a check result as one comparable string.
func checkLines(checks []grpipe.CheckResult) []string {
	out := make([]string, len(checks))
	for i, c := range checks {
		out[i] = fmt.Sprintf("%s %s %v: %s", c.Table, c.Name, c.Passed, c.Detail)
	}
	return out
}

func expectChecks(t *testing.T, got []grpipe.CheckResult, want []string) {
	t.Helper()
	if g := checkLines(got); !reflect.DeepEqual(g, want) {
		t.Errorf("checks:\n got  %s\n want %s", strings.Join(g, "\n      "), strings.Join(want, "\n      "))
	}
}

// testChecksPass: every warehouse check passes on clean data, ratings 0
// and 5 included.
func testChecksPass(t *testing.T, h Harness) {
	w := setUp(t, h)
	load(t, w, "b1", grpipe.Reviews, parquetOf(t, grpipe.Reviews,
		review(1, 101, 201, 0.0, "", "2020-01-01 00:00:00"),
		review(2, 101, 201, 5.0, "", "2020-01-01 00:00:00"),
		review(3, 101, 201, nil, "", "2020-01-01 00:00:00"),
	), "", grpipe.Ledger{Read: 3, Staged: 3})
	load(t, w, "b1", grpipe.Users, parquetOf(t, grpipe.Users, row{"user_id": 10, "record_create_timestamp": ts("2020-01-01 00:00:00")}), "", grpipe.Ledger{Read: 1, Staged: 1})
	load(t, w, "b1", grpipe.Authors, parquetOf(t, grpipe.Authors, row{"author_id": 101, "record_create_timestamp": ts("2020-01-01 00:00:00")}), "", grpipe.Ledger{Read: 1, Staged: 1})
	load(t, w, "b1", grpipe.Books, parquetOf(t, grpipe.Books, row{"book_id": 201, "record_create_timestamp": ts("2020-01-01 00:00:00")}), "", grpipe.Ledger{Read: 1, Staged: 1})
	checks, err := w.WarehouseChecks(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	expectChecks(t, checks, []string{
		"goodreads_warehouse.reviews row_count true: 3 rows (at least 1 expected)",
		"goodreads_warehouse.reviews key_not_null true: 0 rows with a NULL review_id",
		"goodreads_warehouse.reviews key_unique true: 0 values of review_id stored more than once",
		"goodreads_warehouse.users row_count true: 1 rows (at least 1 expected)",
		"goodreads_warehouse.users key_not_null true: 0 rows with a NULL user_id",
		"goodreads_warehouse.users key_unique true: 0 values of user_id stored more than once",
		"goodreads_warehouse.authors row_count true: 1 rows (at least 1 expected)",
		"goodreads_warehouse.authors key_not_null true: 0 rows with a NULL author_id",
		"goodreads_warehouse.authors key_unique true: 0 values of author_id stored more than once",
		"goodreads_warehouse.books row_count true: 1 rows (at least 1 expected)",
		"goodreads_warehouse.books key_not_null true: 0 rows with a NULL book_id",
		"goodreads_warehouse.books key_unique true: 0 values of book_id stored more than once",
		"goodreads_warehouse.reviews rating_in_range true: 0 rows with review_rating outside [0, 5]",
	})
	if err := warehouse.FirstFailure(checks); err != nil {
		t.Errorf("FirstFailure = %v, want nil", err)
	}
}

// testChecksFail: each check fails on the data it guards against, with the
// offending count. Such rows reach the warehouse only through a staging
// table the transform did not deduplicate; the upsert stores them as given.
func testChecksFail(t *testing.T, h Harness) {
	w := setUp(t, h)
	l := load(t, w, "b1", grpipe.Reviews, parquetOf(t, grpipe.Reviews,
		review(1, 101, 201, 7.0, "", "2020-01-01 00:00:00"),  // rating over 5
		review(2, 101, 201, -1.0, "", "2020-01-01 00:00:00"), // rating under 0
		review(3, 101, 201, 3.0, "", "2020-01-01 00:00:00"),
		review(3, 101, 201, 3.0, "", "2020-01-01 00:00:00"),                      // key stored twice
		row{"user_id": 10, "record_create_timestamp": ts("2020-01-01 00:00:00")}, // no review_id
	), "", grpipe.Ledger{Read: 5, Staged: 5})
	if l.Inserted != 5 {
		t.Fatalf("ledger %+v: want the 5 staged rows inserted", l)
	}
	load(t, w, "b1", grpipe.Authors, parquetOf(t, grpipe.Authors,
		row{"author_id": 101, "record_create_timestamp": ts("2020-01-01 00:00:00")},
		row{"author_id": 101, "record_create_timestamp": ts("2020-01-01 00:00:00")},
		row{"author_id": 102, "record_create_timestamp": ts("2020-01-01 00:00:00")},
		row{"author_id": 102, "record_create_timestamp": ts("2020-01-01 00:00:00")},
	), "", grpipe.Ledger{Read: 4, Staged: 4})
	checks, err := w.WarehouseChecks(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	expectChecks(t, checks, []string{
		"goodreads_warehouse.reviews row_count true: 5 rows (at least 1 expected)",
		"goodreads_warehouse.reviews key_not_null false: 1 rows with a NULL review_id",
		"goodreads_warehouse.reviews key_unique false: 1 values of review_id stored more than once",
		"goodreads_warehouse.users row_count false: 0 rows (at least 1 expected)",
		"goodreads_warehouse.users key_not_null true: 0 rows with a NULL user_id",
		"goodreads_warehouse.users key_unique true: 0 values of user_id stored more than once",
		"goodreads_warehouse.authors row_count true: 4 rows (at least 1 expected)",
		"goodreads_warehouse.authors key_not_null true: 0 rows with a NULL author_id",
		"goodreads_warehouse.authors key_unique false: 2 values of author_id stored more than once",
		"goodreads_warehouse.books row_count false: 0 rows (at least 1 expected)",
		"goodreads_warehouse.books key_not_null true: 0 rows with a NULL book_id",
		"goodreads_warehouse.books key_unique true: 0 values of book_id stored more than once",
		"goodreads_warehouse.reviews rating_in_range false: 2 rows with review_rating outside [0, 5]",
	})
	err = warehouse.FirstFailure(checks)
	if !errors.Is(err, grpipe.ErrCheckFailed) || err.Error() != "data-quality check failed: key_not_null on goodreads_warehouse.reviews: 1 rows with a NULL review_id" {
		t.Errorf("FirstFailure = %v, want the reviews key_not_null failure", err)
	}
}

// testChecksRepeats: key_unique counts the values stored more than once,
// not the rows beyond the first: a value stored three times is one value,
// and two NULL keys are one more (GROUP BY groups NULLs); a table without a
// repeat but with one NULL key passes it.
func testChecksRepeats(t *testing.T, h Harness) {
	w := setUp(t, h)
	at := ts("2020-01-01 00:00:00")
	load(t, w, "b1", grpipe.Reviews, parquetOf(t, grpipe.Reviews,
		review(1, 101, 201, 3.0, "", "2020-01-01 00:00:00"),
		review(2, 101, 201, 3.0, "", "2020-01-01 00:00:00"),
		row{"user_id": 10, "record_create_timestamp": at}, // no review_id, the only one
	), "", grpipe.Ledger{Read: 3, Staged: 3})
	load(t, w, "b1", grpipe.Users, parquetOf(t, grpipe.Users,
		row{"user_id": 10, "record_create_timestamp": at},
		row{"user_id": 10, "record_create_timestamp": at},
		row{"user_id": 10, "record_create_timestamp": at}, // one value stored three times
		row{"user_id": 11, "record_create_timestamp": at},
		row{"user_name": "no id", "record_create_timestamp": at},
		row{"user_name": "no id either", "record_create_timestamp": at}, // two NULL keys: one value more
	), "", grpipe.Ledger{Read: 6, Staged: 6})
	load(t, w, "b1", grpipe.Authors, parquetOf(t, grpipe.Authors,
		row{"author_id": 101, "record_create_timestamp": at},
		row{"author_id": 102, "record_create_timestamp": at},
		row{"author_id": 102, "record_create_timestamp": at},
		row{"author_id": 102, "record_create_timestamp": at},
		row{"author_id": 102, "record_create_timestamp": at}, // four times: still one value
	), "", grpipe.Ledger{Read: 5, Staged: 5})
	load(t, w, "b1", grpipe.Books, parquetOf(t, grpipe.Books,
		row{"book_id": 201, "record_create_timestamp": at},
		row{"title": "no id", "record_create_timestamp": at},
		row{"title": "no id either", "record_create_timestamp": at}, // two NULL keys only
	), "", grpipe.Ledger{Read: 3, Staged: 3})
	checks, err := w.WarehouseChecks(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	expectChecks(t, checks, []string{
		"goodreads_warehouse.reviews row_count true: 3 rows (at least 1 expected)",
		"goodreads_warehouse.reviews key_not_null false: 1 rows with a NULL review_id",
		"goodreads_warehouse.reviews key_unique true: 0 values of review_id stored more than once",
		"goodreads_warehouse.users row_count true: 6 rows (at least 1 expected)",
		"goodreads_warehouse.users key_not_null false: 2 rows with a NULL user_id",
		"goodreads_warehouse.users key_unique false: 2 values of user_id stored more than once",
		"goodreads_warehouse.authors row_count true: 5 rows (at least 1 expected)",
		"goodreads_warehouse.authors key_not_null true: 0 rows with a NULL author_id",
		"goodreads_warehouse.authors key_unique false: 1 values of author_id stored more than once",
		"goodreads_warehouse.books row_count true: 3 rows (at least 1 expected)",
		"goodreads_warehouse.books key_not_null false: 2 rows with a NULL book_id",
		"goodreads_warehouse.books key_unique false: 1 values of book_id stored more than once",
		"goodreads_warehouse.reviews rating_in_range true: 0 rows with review_rating outside [0, 5]",
	})
}
