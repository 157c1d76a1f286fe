package warehouse_test

import (
	"errors"
	"testing"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/warehouse"
)

func TestLedgerChecks(t *testing.T) {
	checks := warehouse.LedgerChecks(map[string]grpipe.Ledger{
		"reviews": {Read: 10, Rejected: 1, Superseded: 2, Staged: 7, Inserted: 5, Updated: 1, Stale: 1},
		"users":   {Read: 3, Rejected: 1, Staged: 1, Inserted: 1}, // one row lost
		// authors and books: no batch, all zero
	})
	want := []grpipe.CheckResult{
		{Name: "ledger_balanced", Table: "goodreads_warehouse.reviews", Passed: true,
			Detail: "read 10 = rejected 1 + superseded 2 + staged 7; staged 7 = inserted 5 + updated 1 + stale 1"},
		{Name: "ledger_balanced", Table: "goodreads_warehouse.users", Passed: false,
			Detail: "read 3 = rejected 1 + superseded 0 + staged 1; staged 1 = inserted 1 + updated 0 + stale 0"},
		{Name: "ledger_balanced", Table: "goodreads_warehouse.authors", Passed: true,
			Detail: "read 0 = rejected 0 + superseded 0 + staged 0; staged 0 = inserted 0 + updated 0 + stale 0"},
		{Name: "ledger_balanced", Table: "goodreads_warehouse.books", Passed: true,
			Detail: "read 0 = rejected 0 + superseded 0 + staged 0; staged 0 = inserted 0 + updated 0 + stale 0"},
	}
	if len(checks) != len(want) {
		t.Fatalf("%d checks, want %d", len(checks), len(want))
	}
	for i := range want {
		if checks[i] != want[i] {
			t.Errorf("check %d = %+v, want %+v", i, checks[i], want[i])
		}
	}
	err := warehouse.FirstFailure(checks)
	if !errors.Is(err, grpipe.ErrCheckFailed) || err.Error() != "data-quality check failed: ledger_balanced on goodreads_warehouse.users: "+want[1].Detail {
		t.Errorf("FirstFailure = %v", err)
	}
	if err := warehouse.FirstFailure(checks[:1]); err != nil {
		t.Errorf("FirstFailure of passing checks = %v", err)
	}
}

func TestTables(t *testing.T) {
	want := []string{"goodreads_warehouse.reviews", "goodreads_warehouse.users", "goodreads_warehouse.authors", "goodreads_warehouse.books",
		"goodreads_quality.rejected_rows",
		"goodreads_analytics.popular_authors_review_count", "goodreads_analytics.popular_authors_average_rating", "goodreads_analytics.best_authors",
		"goodreads_analytics.popular_books_review_count", "goodreads_analytics.popular_books_average_rating", "goodreads_analytics.best_books"}
	got := warehouse.Tables()
	if len(got) != len(want) {
		t.Fatalf("Tables() = %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Tables()[%d] = %s, want %s", i, got[i], want[i])
		}
	}
}
