package drivertest

import (
	"fmt"
	"reflect"
	"testing"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/warehouse"
)

// The analytics window of the suite: February 2020.
var february = warehouse.Window{Start: ts("2020-02-01 00:00:00"), End: ts("2020-03-01 00:00:00")}

// analyticsReviews are the reviews the analytics tests rank. In February:
//
//	author  ratings        count  rated  average      book  ratings                 count  rated  average
//	101     5 5 5          3      3      5            201   5 5 5 1 1 1             6      6      3
//	102     4 4 4          3      3      4            202   4 4 4 2 2 5             6      6      3.5
//	103     5              1      1      5            203   5 3 3 3                 4      4      3.5
//	104     5 3            2      2      4            204   1 3 4 2 1 - - 5 5       9      7      3
//	105     1 1 1 1        4      4      1
//	106     2 2            2      2      2
//	107     3              1      1      3
//	108     4              1      1      4
//	109     2              1      1      2
//	110     1              1      1      1
//	111     3 3            2      2      3
//	112     - - 5          3      1      5
//
// plus a February review without an author (book 204, rating 5), and two
// reviews of author 110 (book 201, rating 5) just outside the window: at its
// end (excluded) and just before its start. Review 1 is at the window's
// start (included).
func analyticsReviews() []row {
	feb := "2020-02-10 00:00:00"
	return []row{
		review(1, 101, 201, 5.0, "", "2020-02-01 00:00:00"),
		review(2, 101, 201, 5.0, "", feb),
		review(3, 101, 201, 5.0, "", feb),
		review(4, 105, 201, 1.0, "", feb),
		review(5, 105, 201, 1.0, "", feb),
		review(6, 105, 201, 1.0, "", feb),
		review(7, 105, 204, 1.0, "", feb),
		review(8, 102, 202, 4.0, "", feb),
		review(9, 102, 202, 4.0, "", feb),
		review(10, 102, 202, 4.0, "", feb),
		review(11, 106, 202, 2.0, "", feb),
		review(12, 106, 202, 2.0, "", feb),
		review(13, 111, 203, 3.0, "", feb),
		review(14, 111, 204, 3.0, "", feb),
		review(15, 103, 203, 5.0, "", feb),
		review(16, 104, 202, 5.0, "", feb),
		review(17, 104, 203, 3.0, "", feb),
		review(18, 107, 203, 3.0, "", feb),
		review(19, 108, 204, 4.0, "", feb),
		review(20, 109, 204, 2.0, "", feb),
		review(21, 110, 204, 1.0, "", feb),
		review(22, 112, 204, nil, "", feb),
		review(23, 112, 204, nil, "", feb),
		review(24, 112, 204, 5.0, "", feb),
		review(25, 0, 204, 5.0, "", feb),
		review(26, 110, 201, 5.0, "", "2020-03-01 00:00:00"),
		review(27, 110, 201, 5.0, "", "2020-01-31 23:59:59.999999"),
	}
}

// loadAnalyticsData loads the reviews, authors 101-111 (112 has no row)
// and books 201-203 (204 has none).
func loadAnalyticsData(t *testing.T, w *warehouse.Warehouse) {
	t.Helper()
	reviews := analyticsReviews()
	n := int64(len(reviews))
	load(t, w, "b1", grpipe.Reviews, parquetOf(t, grpipe.Reviews, reviews...), "", grpipe.Ledger{Read: n, Staged: n})
	var authors, books []row
	for id := int64(101); id <= 111; id++ {
		authors = append(authors, row{"author_id": id, "name": fmt.Sprintf("Author %d", id), "record_create_timestamp": ts("2020-01-01 00:00:00")})
	}
	for id := int64(201); id <= 203; id++ {
		books = append(books, row{"book_id": id, "title": fmt.Sprintf("Book %d", id), "record_create_timestamp": ts("2020-01-01 00:00:00")})
	}
	load(t, w, "b1", grpipe.Authors, parquetOf(t, grpipe.Authors, authors...), "", grpipe.Ledger{Read: 11, Staged: 11})
	load(t, w, "b1", grpipe.Books, parquetOf(t, grpipe.Books, books...), "", grpipe.Ledger{Read: 3, Staged: 3})
}

// buildAll creates and builds the six analytics tables over window, as the
// DAG does: each subject's review totals first, then its tables.
func buildAll(t *testing.T, w *warehouse.Warehouse, window warehouse.Window) map[string]int64 {
	t.Helper()
	return buildWith(t, w, window, window)
}

// buildWith is buildAll with the review totals built over totals (another
// window than the tables': the tables then aggregate the reviews themselves).
func buildWith(t *testing.T, w *warehouse.Warehouse, window, totals warehouse.Window) map[string]int64 {
	t.Helper()
	ctx := t.Context()
	if err := w.CreateAnalyticsSchema(ctx); err != nil {
		t.Fatal(err)
	}
	for _, s := range []warehouse.Subject{warehouse.AuthorSubject, warehouse.BookSubject} {
		if err := w.CreateAnalyticsTables(ctx, s); err != nil {
			t.Fatal(err)
		}
		if _, err := w.BuildReviewTotals(ctx, s, totals); err != nil {
			t.Fatal(err)
		}
	}
	return buildTables(t, w, window)
}

// buildTables builds the six analytics tables over window (created before).
func buildTables(t *testing.T, w *warehouse.Warehouse, window warehouse.Window) map[string]int64 {
	t.Helper()
	ctx := t.Context()
	built := map[string]int64{}
	for _, at := range warehouse.AnalyticsTables() {
		n, err := w.BuildAnalytics(ctx, at, window)
		if err != nil {
			t.Fatalf("build %s: %v", at.Table, err)
		}
		built[at.Table] = n
	}
	return built
}

func analyticsTable(t *testing.T, name string) warehouse.AnalyticsTable {
	t.Helper()
	at, ok := warehouse.AnalyticsTableByName(name)
	if !ok {
		t.Fatalf("no analytics table %s", name)
	}
	return at
}

// testAnalytics: the six tables hold the top 10 of the window, ranked with
// the documented tie-breaks (count, then id; average, then count of rated
// reviews, then id), with the dimension columns (NULL where the author or
// book has no row); building again replaces the rows; Top reads them in
// rank order.
func testAnalytics(t *testing.T, h Harness) {
	w := setUp(t, h)
	loadAnalyticsData(t, w)
	built := buildAll(t, w, february)
	wantBuilt := map[string]int64{
		"popular_authors_review_count": 10, "popular_authors_average_rating": 10, "best_authors": 9,
		"popular_books_review_count": 4, "popular_books_average_rating": 4, "best_books": 4,
	}
	if !reflect.DeepEqual(built, wantBuilt) {
		t.Errorf("rows built %v, want %v", built, wantBuilt)
	}
	expectFebruary := func() {
		t.Helper()
		expect(t, w, "SELECT rank, author_id, review_count, name FROM goodreads_analytics.popular_authors_review_count ORDER BY rank", [][]any{
			{1, 105, 4, "Author 105"},
			{2, 101, 3, "Author 101"},
			{3, 102, 3, "Author 102"},
			{4, 112, 3, nil},
			{5, 104, 2, "Author 104"},
			{6, 106, 2, "Author 106"},
			{7, 111, 2, "Author 111"},
			{8, 103, 1, "Author 103"},
			{9, 107, 1, "Author 107"},
			{10, 108, 1, "Author 108"},
		})
		expect(t, w, "SELECT rank, author_id, average_review_rating, review_count, name FROM goodreads_analytics.popular_authors_average_rating ORDER BY rank", [][]any{
			{1, 101, 5.0, 3, "Author 101"},
			{2, 103, 5.0, 1, "Author 103"},
			{3, 112, 5.0, 1, nil},
			{4, 102, 4.0, 3, "Author 102"},
			{5, 104, 4.0, 2, "Author 104"},
			{6, 108, 4.0, 1, "Author 108"},
			{7, 111, 3.0, 2, "Author 111"},
			{8, 107, 3.0, 1, "Author 107"},
			{9, 106, 2.0, 2, "Author 106"},
			{10, 109, 2.0, 1, "Author 109"},
		})
		expect(t, w, "SELECT author_id, review_count, average_review_rating, count_rank, rating_rank, name FROM goodreads_analytics.best_authors ORDER BY author_id", [][]any{
			{101, 3, 5.0, 2, 1, "Author 101"},
			{102, 3, 4.0, 3, 4, "Author 102"},
			{103, 1, 5.0, 8, 2, "Author 103"},
			{104, 2, 4.0, 5, 5, "Author 104"},
			{106, 2, 2.0, 6, 9, "Author 106"},
			{107, 1, 3.0, 9, 8, "Author 107"},
			{108, 1, 4.0, 10, 6, "Author 108"},
			{111, 2, 3.0, 7, 7, "Author 111"},
			{112, 3, 5.0, 4, 3, nil},
		})
		expect(t, w, "SELECT rank, book_id, review_count, title FROM goodreads_analytics.popular_books_review_count ORDER BY rank", [][]any{
			{1, 204, 9, nil},
			{2, 201, 6, "Book 201"},
			{3, 202, 6, "Book 202"},
			{4, 203, 4, "Book 203"},
		})
		expect(t, w, "SELECT rank, book_id, average_review_rating, review_count, title FROM goodreads_analytics.popular_books_average_rating ORDER BY rank", [][]any{
			{1, 202, 3.5, 6, "Book 202"},
			{2, 203, 3.5, 4, "Book 203"},
			{3, 204, 3.0, 7, nil},
			{4, 201, 3.0, 6, "Book 201"},
		})
		expect(t, w, "SELECT book_id, review_count, average_review_rating, count_rank, rating_rank, title FROM goodreads_analytics.best_books ORDER BY book_id", [][]any{
			{201, 6, 3.0, 2, 4, "Book 201"},
			{202, 6, 3.5, 3, 1, "Book 202"},
			{203, 4, 3.5, 4, 2, "Book 203"},
			{204, 9, 3.0, 1, 3, nil},
		})
	}
	expectFebruary()

	// Built again: the same rows, not twice as many.
	buildAll(t, w, february)
	expectFebruary()
	// With review totals of another window, each table aggregates the
	// reviews itself: the same rows.
	if built := buildWith(t, w, february, warehouse.AllTime); !reflect.DeepEqual(built, wantBuilt) {
		t.Errorf("rows built aggregating per table %v, want %v", built, wantBuilt)
	}
	expectFebruary()

	ctx := t.Context()
	top, err := w.Top(ctx, analyticsTable(t, "popular_authors_review_count"), 3)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"rank", "author_id", "review_count", "name", "role", "profile_url", "average_rating", "rating_count", "text_review_count"}; !reflect.DeepEqual(top.Columns, want) {
		t.Errorf("Top columns %v, want %v", top.Columns, want)
	}
	if got, want := normalize(top.Values), [][]any{
		{1, 105, 4, "Author 105", nil, nil, nil, nil, nil},
		{2, 101, 3, "Author 101", nil, nil, nil, nil, nil},
		{3, 102, 3, "Author 102", nil, nil, nil, nil, nil},
	}; !sameRows(got, want) {
		t.Errorf("Top(popular_authors_review_count, 3):%s\nwant%s", show(got), show(normalize(want)))
	}
	top, err = w.Top(ctx, analyticsTable(t, "best_books"), 2)
	if err != nil {
		t.Fatal(err)
	}
	if got := normalize(top.Values); len(got) != 2 || got[0][0] != int64(204) || got[1][0] != int64(201) {
		t.Errorf("Top(best_books, 2) = %s, want books 204 and 201 (count_rank order)", show(got))
	}

	// Over all time, author 110's two reviews outside February count: it
	// moves up to rank 4 by count, and to rank 7 by an average of 11/3.
	buildAll(t, w, warehouse.AllTime)
	expect(t, w, "SELECT rank, author_id, review_count FROM goodreads_analytics.popular_authors_review_count WHERE rank <= 5 ORDER BY rank", [][]any{
		{1, 105, 4}, {2, 101, 3}, {3, 102, 3}, {4, 110, 3}, {5, 112, 3},
	})
	expect(t, w, "SELECT rank, author_id, average_review_rating, review_count FROM goodreads_analytics.popular_authors_average_rating WHERE rank BETWEEN 6 AND 8 ORDER BY rank", [][]any{
		{6, 108, 4.0, 1}, {7, 110, 11.0 / 3, 3}, {8, 111, 3.0, 2},
	})

	// Reviews loaded after the totals were built: the tables built next
	// (without new totals) count them. Author 109 gets four more reviews
	// in February and leads by count.
	buildAll(t, w, february)
	more := []row{
		review(31, 109, 201, 4.0, "", "2020-02-11 00:00:00"), review(32, 109, 201, 4.0, "", "2020-02-11 00:00:00"),
		review(33, 109, 201, 4.0, "", "2020-02-11 00:00:00"), review(34, 109, 201, 4.0, "", "2020-02-11 00:00:00"),
	}
	load(t, w, "b2", grpipe.Reviews, parquetOf(t, grpipe.Reviews, more...), "", grpipe.Ledger{Read: 4, Staged: 4})
	buildTables(t, w, february)
	expect(t, w, "SELECT rank, author_id, review_count FROM goodreads_analytics.popular_authors_review_count WHERE rank <= 2 ORDER BY rank", [][]any{
		{1, 109, 5}, {2, 105, 4},
	})
	expect(t, w, "SELECT rank, book_id, review_count FROM goodreads_analytics.popular_books_review_count WHERE rank <= 2 ORDER BY rank", [][]any{
		{1, 201, 10}, {2, 204, 9},
	})
}

// testAnalyticsChecks: a ranking table with rows passes, an empty one
// fails; a best_* table passes even empty, and says how many rows it has.
func testAnalyticsChecks(t *testing.T, h Harness) {
	w := setUp(t, h)
	loadAnalyticsData(t, w)
	buildAll(t, w, february)
	ctx := t.Context()
	checks, err := w.AnalyticsChecks(ctx, warehouse.AuthorSubject)
	if err != nil {
		t.Fatal(err)
	}
	expectChecks(t, checks, []string{
		"goodreads_analytics.popular_authors_review_count row_count true: 10 rows (at least 1 expected)",
		"goodreads_analytics.popular_authors_average_rating row_count true: 10 rows (at least 1 expected)",
		"goodreads_analytics.best_authors row_count true: 9 rows (may be empty: no author in both top-10 lists)",
	})
	// A window without reviews: every table is emptied.
	buildAll(t, w, warehouse.Window{Start: ts("1990-01-01 00:00:00"), End: ts("1990-02-01 00:00:00")})
	checks, err = w.AnalyticsChecks(ctx, warehouse.BookSubject)
	if err != nil {
		t.Fatal(err)
	}
	expectChecks(t, checks, []string{
		"goodreads_analytics.popular_books_review_count row_count false: 0 rows (at least 1 expected)",
		"goodreads_analytics.popular_books_average_rating row_count false: 0 rows (at least 1 expected)",
		"goodreads_analytics.best_books row_count true: 0 rows (may be empty: no book in both top-10 lists)",
	})
}
