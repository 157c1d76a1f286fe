package drivertest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/warehouse"
)

// tm parses a minute-precision UTC time.
func tm(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

// fill writes the test rows and builds the analytics tables.
func fillExplore(t *testing.T, w *warehouse.Warehouse) {
	ctx := t.Context()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := w.DB().ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for _, r := range []struct {
		id, user, book, author int64
		rating                 any
		at                     string
	}{
		{1, 10, 100, 1000, 5.0, "2020-02-01 10:00"},
		{2, 11, 100, 1000, 4.0, "2020-02-01 12:00"},
		{3, 12, 101, 1001, 3.0, "2020-02-03 09:00"},
		{4, 13, 101, 1001, 0.0, "2020-02-03 23:59"},
		{5, 14, 102, 1000, nil, "2020-02-05 08:00"},
		{6, 15, 100, 1000, 4.5, "2020-02-07 00:00"},
		{7, 16, 103, 1001, 2.0, "2019-12-31 23:00"}, // before the window
	} {
		exec(`INSERT INTO goodreads_warehouse.reviews (review_id, user_id, book_id, author_id, review_rating, review_text, record_create_timestamp)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, r.id, r.user, r.book, r.author, r.rating, reviewText(r.id), tm(r.at))
	}
	for _, b := range []struct {
		id           int64
		title, image any
	}{
		{100, "Cannery Row", "https://images.gr-assets.com/books/1327882219m/4799.jpg"},
		{101, `O'Brien's "Quotes" <b>bold</b>`, "https://s.gr-assets.com/assets/nophoto/book/111x148.png"},
		{102, nil, nil},
		{103, "100% Pure_Fun", nil},
	} {
		exec(`INSERT INTO goodreads_warehouse.books (book_id, title, image_url, book_url, record_create_timestamp) VALUES ($1, $2, $3, $4, $5)`,
			b.id, b.title, b.image, fmt.Sprintf("https://www.goodreads.com/book/show/%d", b.id), tm("2020-02-01 00:00"))
	}
	for _, a := range []struct {
		id   int64
		name string
	}{{1000, "Ursula K. Le Guin"}, {1001, "Jennifer Rayes"}} {
		exec(`INSERT INTO goodreads_warehouse.authors (author_id, name, profile_url, record_create_timestamp) VALUES ($1, $2, $3, $4)`,
			a.id, a.name, fmt.Sprintf("https://www.goodreads.com/author/show/%d", a.id), tm("2020-02-01 00:00"))
	}
	if err := w.CreateAnalyticsSchema(ctx); err != nil {
		t.Fatal(err)
	}
	for _, s := range []warehouse.Subject{warehouse.AuthorSubject, warehouse.BookSubject} {
		if err := w.CreateAnalyticsTables(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	for _, at := range warehouse.AnalyticsTables() {
		if _, err := w.BuildAnalytics(ctx, at, warehouse.Window{Start: tm("2020-02-01 00:00"), End: tm("2020-03-01 00:00")}); err != nil {
			t.Fatal(err)
		}
	}
}

// reviewText is the text of a test review: the odd ones are "good", for
// a search that keeps rows from all over the views.
func reviewText(id int64) string {
	if id%2 == 1 {
		return fmt.Sprintf("review %d, a good one", id)
	}
	return fmt.Sprintf("review %d", id)
}

// collect runs QueryEach or BrowseEach and returns the rows as text.
func collectRows(t *testing.T, run func(fn func([]string, []any) error) error) ([]string, [][]string, error) {
	t.Helper()
	var cols []string
	var rows [][]string
	err := run(func(c []string, vals []any) error {
		cols = c
		if vals == nil {
			return nil
		}
		var r []string
		for _, v := range vals {
			if v == nil {
				r = append(r, "NULL")
			} else {
				r = append(r, fmt.Sprint(v))
			}
		}
		rows = append(rows, r)
		return nil
	})
	return cols, rows, err
}

// testExplore: the reads of the web UI — the distributions the analytics
// dashboard draws, the analytics tables' rows, the explorer's sorted,
// searched and paged table views, and the SQL box's statements with their
// pages, refusals and deadline — on rows written here, read in a read-only
// session.
func testExplore(t *testing.T, h Harness) {
	ctx := t.Context()
	rw := setUp(t, h)
	fillExplore(t, rw)
	if err := rw.Close(); err != nil {
		t.Fatal(err)
	}
	w := open(t, h, true)
	win := warehouse.Window{Start: tm("2020-02-01 00:00"), End: tm("2020-03-01 00:00")}

	t.Run("ratings and per day", func(t *testing.T) {
		ratings, days, err := w.ReviewDistributions(ctx, win)
		if err != nil {
			t.Fatal(err)
		}
		want := []warehouse.RatingCount{{Rating: 0, Reviews: 1}, {Rating: 3, Reviews: 1}, {Rating: 4, Reviews: 2}, {Rating: 5, Reviews: 1}} // 4.5 counts under 4; no rating left out
		if !reflect.DeepEqual(ratings, want) {
			t.Errorf("ratings %v, want %v", ratings, want)
		}
		wantDays := []warehouse.DayCount{{Day: tm("2020-02-01 00:00"), Reviews: 2}, {Day: tm("2020-02-03 00:00"), Reviews: 2}, {Day: tm("2020-02-05 00:00"), Reviews: 1}, {Day: tm("2020-02-07 00:00"), Reviews: 1}}
		if !reflect.DeepEqual(days, wantDays) {
			t.Errorf("per day %v, want %v", days, wantDays)
		}
		all, _, err := w.ReviewDistributions(ctx, warehouse.AllTime)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 5 || all[1] != (warehouse.RatingCount{Rating: 2, Reviews: 1}) {
			t.Errorf("all-time ratings %v", all)
		}
	})
	t.Run("analytics rows", func(t *testing.T) {
		for _, tc := range []struct {
			table string
			want  []warehouse.Ranked
		}{
			{"popular_books_review_count", []warehouse.Ranked{
				{Rank: 1, ID: 100, Name: "Cannery Row", URL: "https://www.goodreads.com/book/show/100", ImageURL: "https://images.gr-assets.com/books/1327882219m/4799.jpg", ReviewCount: 3},
				{Rank: 2, ID: 101, Name: `O'Brien's "Quotes" <b>bold</b>`, URL: "https://www.goodreads.com/book/show/101", ImageURL: "https://s.gr-assets.com/assets/nophoto/book/111x148.png", ReviewCount: 2},
				{Rank: 3, ID: 102, URL: "https://www.goodreads.com/book/show/102", ReviewCount: 1}}},
			{"popular_authors_average_rating", []warehouse.Ranked{
				{Rank: 1, ID: 1000, Name: "Ursula K. Le Guin", URL: "https://www.goodreads.com/author/show/1000", ReviewCount: 3, AverageRating: 4.5},
				{Rank: 2, ID: 1001, Name: "Jennifer Rayes", URL: "https://www.goodreads.com/author/show/1001", ReviewCount: 2, AverageRating: 1.5}}},
			{"best_books", []warehouse.Ranked{
				{Rank: 1, RatingRank: 1, ID: 100, Name: "Cannery Row", URL: "https://www.goodreads.com/book/show/100", ImageURL: "https://images.gr-assets.com/books/1327882219m/4799.jpg", ReviewCount: 3, AverageRating: 4.5},
				{Rank: 2, RatingRank: 2, ID: 101, Name: `O'Brien's "Quotes" <b>bold</b>`, URL: "https://www.goodreads.com/book/show/101", ImageURL: "https://s.gr-assets.com/assets/nophoto/book/111x148.png", ReviewCount: 2, AverageRating: 1.5}}},
		} {
			at, _ := warehouse.AnalyticsTableByName(tc.table)
			got, err := w.AnalyticsRows(ctx, at)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s:\n got %+v\nwant %+v", tc.table, got, tc.want)
			}
		}
	})
	t.Run("existing tables", func(t *testing.T) {
		ex, err := w.ExistingTables(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range w.BrowseTables() {
			if !ex[d.Table.String()] {
				t.Errorf("%s missing from %v", d.Table, ex)
			}
		}
	})
	t.Run("browse", func(t *testing.T) {
		page := func(b warehouse.Browse) [][]string {
			t.Helper()
			_, rows, err := collectRows(t, func(fn func([]string, []any) error) error { return w.BrowseEach(ctx, b, fn) })
			if err != nil {
				t.Fatalf("%+v: %v", b, err)
			}
			var ids [][]string
			for _, r := range rows {
				ids = append(ids, r[:2])
			}
			return ids
		}
		books := "goodreads_warehouse.books"
		for _, tc := range []struct {
			b     warehouse.Browse
			want  string
			count int64
		}{
			{warehouse.Browse{Table: books}, "100 Cannery Row|101 O'Brien's \"Quotes\" <b>bold</b>|102 NULL|103 100% Pure_Fun", 4},
			{warehouse.Browse{Table: books, OrderBy: "title", Desc: true}, "101 O'Brien's \"Quotes\" <b>bold</b>|100 Cannery Row|103 100% Pure_Fun|102 NULL", 4},
			{warehouse.Browse{Table: books, OrderBy: "title"}, "103 100% Pure_Fun|100 Cannery Row|101 O'Brien's \"Quotes\" <b>bold</b>|102 NULL", 4},
			{warehouse.Browse{Table: books, Offset: 1, Limit: 2}, "101 O'Brien's \"Quotes\" <b>bold</b>|102 NULL", 4},
			{warehouse.Browse{Table: books, Search: "QUOTES"}, "101 O'Brien's \"Quotes\" <b>bold</b>", 1},
			{warehouse.Browse{Table: books, Search: "gr-assets"}, "100 Cannery Row|101 O'Brien's \"Quotes\" <b>bold</b>", 2}, // any text column
			{warehouse.Browse{Table: books, Search: "0%"}, "103 100% Pure_Fun", 1},                                           // % is a character, not a wildcard
			{warehouse.Browse{Table: books, Search: "e_F"}, "103 100% Pure_Fun", 1},
			{warehouse.Browse{Table: books, Search: `'; DROP TABLE x; --`}, "", 0},
			{warehouse.Browse{Table: books, OrderBy: "title", Desc: true, Search: "o", Offset: 1, Limit: 1}, "100 Cannery Row", 4}, // every book_url holds an o
			{warehouse.Browse{Table: "goodreads_quality.loaded_batches", Limit: 5}, "", 0},                                         // no unique key: paged directly
		} {
			var got []string
			for _, r := range page(tc.b) {
				got = append(got, strings.Join(r, " "))
			}
			if g := strings.Join(got, "|"); g != tc.want {
				t.Errorf("%+v:\n got %s\nwant %s", tc.b, g, tc.want)
			}
			if n, err := w.BrowseCount(ctx, tc.b); err != nil || n != tc.count {
				t.Errorf("count %+v = %d, %v; want %d", tc.b, n, err, tc.count)
			}
		}
		for _, b := range []warehouse.Browse{{Table: "goodreads_warehouse.nope"}, {Table: books, OrderBy: "nope"}, {Table: "pg_catalog.pg_user"},
			{Table: books, OrderBy: `title" DESC; DROP TABLE x; --`}} {
			if err := w.BrowseEach(ctx, b, func([]string, []any) error { return nil }); !errors.Is(err, grpipe.ErrNotFound) {
				t.Errorf("%+v: %v, want not found", b, err)
			}
		}
		if err := w.BrowseEach(ctx, warehouse.Browse{Table: "goodreads_analytics.best_books", Search: "x"}, func([]string, []any) error { return nil }); err != nil {
			t.Errorf("search in an analytics table: %v", err)
		}
	})
	t.Run("keyset pages", func(t *testing.T) { testKeyset(t, w) })
	t.Run("query", func(t *testing.T) {
		q := func(sql string, offset, limit int) ([]string, string, error) {
			cols, rows, err := collectRows(t, func(fn func([]string, []any) error) error { return w.QueryEach(ctx, sql, offset, limit, fn) })
			var out []string
			for _, r := range rows {
				out = append(out, strings.Join(r, ","))
			}
			return cols, strings.Join(out, "|"), err
		}
		for _, tc := range []struct {
			sql           string
			offset, limit int
			cols, want    string
		}{
			{"SELECT review_id, review_rating FROM goodreads_warehouse.reviews ORDER BY review_id; -- the end", 2, 3, "review_id,review_rating", "3,3|4,0|5,NULL"},
			{"select review_id from goodreads_warehouse.reviews order by review_id desc -- no terminator", 0, 2, "review_id", "7|6"},
			{"WITH b AS (SELECT book_id, count(*) AS n FROM goodreads_warehouse.reviews GROUP BY book_id) SELECT book_id, n FROM b ORDER BY n DESC, book_id", 0, 0, "book_id,n", "100,3|101,2|102,1|103,1"},
			{"VALUES (1, 'a'), (2, 'b')", 1, 5, "", "2,b"},
			{"/* a comment; with a semicolon */ SELECT 'x;y' AS s;", 0, 5, "s", "x;y"},
		} {
			cols, got, err := q(tc.sql, tc.offset, tc.limit)
			if err != nil {
				t.Errorf("%s: %v", tc.sql, err)
				continue
			}
			if got != tc.want || (tc.cols != "" && strings.Join(cols, ",") != tc.cols) {
				t.Errorf("%s: columns %v rows %s, want %s %s", tc.sql, cols, got, tc.cols, tc.want)
			}
		}
		// The guard refuses writes before they reach the warehouse.
		for _, sql := range []string{"DELETE FROM goodreads_warehouse.reviews", "SELECT 1; DROP TABLE goodreads_warehouse.books", "UPDATE goodreads_warehouse.books SET title = 'x'"} {
			if _, _, err := q(sql, 0, 5); !errors.Is(err, grpipe.ErrBadInput) {
				t.Errorf("%s: %v, want refused", sql, err)
			}
		}
		// The read-only session refuses what the guard lets through.
		for _, sql := range []string{"WITH d AS (DELETE FROM goodreads_warehouse.reviews RETURNING *) SELECT count(*) FROM d"} {
			if _, got, err := q(sql, 0, 5); err == nil {
				t.Errorf("%s ran in the read-only session: %s", sql, got)
			}
		}
		if n, err := w.Count(ctx, "goodreads_warehouse.reviews"); err != nil || n != 7 {
			t.Errorf("reviews after the refusals: %d, %v", n, err)
		}
		// A statement past its deadline is stopped.
		tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		slow := "SELECT count(*) FROM generate_series(1, 200000) AS a(x), generate_series(1, 200000) AS b(y) WHERE a.x + b.y = 7"
		err := w.QueryEach(tctx, slow, 0, 5, func([]string, []any) error { return nil })
		if err == nil || tctx.Err() == nil {
			t.Errorf("the slow statement: %v", err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("the slow statement ran %s past a 300ms deadline", d)
		}
	})
}

// testKeyset walks table views two rows a page, forwards from the first
// page with After cursors and backwards from the last row with Before
// cursors, and checks each page's rows (their keys), in views with ties in
// the sort column, NULLs in it, timestamps, text and a search.
func testKeyset(t *testing.T, w *warehouse.Warehouse) {
	ctx := t.Context()
	reviews, books := "goodreads_warehouse.reviews", "goodreads_warehouse.books"
	keys := func(p *warehouse.Page) string {
		var ks []string
		for _, r := range p.Values {
			ks = append(ks, fmt.Sprint(r[0]))
		}
		return strings.Join(ks, ",")
	}
	for _, tc := range []struct {
		name string
		b    warehouse.Browse
		// pages is the view two rows a page, forwards; back the pages
		// walking backwards from the last row (which is not in them): the
		// rows before it, two a page counted from the end.
		pages, back string
	}{
		{"by key", warehouse.Browse{Table: reviews}, "1,2|3,4|5,6|7", "5,6|3,4|1,2"},
		{"by key, descending", warehouse.Browse{Table: reviews, Desc: true}, "7,6|5,4|3,2|1", "3,2|5,4|7,6"},
		// book_id 100 has reviews 1, 2 and 6; 101 has 3 and 4: ties broken by the key.
		{"ties", warehouse.Browse{Table: reviews, OrderBy: "book_id"}, "1,2|6,3|4,5|7", "4,5|6,3|1,2"},
		{"ties, descending", warehouse.Browse{Table: reviews, OrderBy: "book_id", Desc: true}, "7,5|4,3|6,2|1", "6,2|4,3|7,5"},
		// Review 5 has no rating: last in both directions.
		{"a NULL", warehouse.Browse{Table: reviews, OrderBy: "review_rating"}, "4,7|3,2|6,1|5", "6,1|3,2|4,7"},
		{"a NULL, descending", warehouse.Browse{Table: reviews, OrderBy: "review_rating", Desc: true}, "1,6|2,3|7,4|5", "7,4|2,3|1,6"},
		// Books 102 and 103 have no cover: NULLs tied, broken by the key.
		{"NULLs tied", warehouse.Browse{Table: books, OrderBy: "image_url"}, "100,101|102,103", "101,102|100"},
		{"NULLs tied, descending", warehouse.Browse{Table: books, OrderBy: "image_url", Desc: true}, "101,100|103,102", "100,103|101"},
		{"text", warehouse.Browse{Table: books, OrderBy: "title"}, "103,100|101,102", "100,101|103"},
		{"a timestamp", warehouse.Browse{Table: reviews, OrderBy: "record_create_timestamp", Desc: true}, "6,5|4,3|2,1|7", "2,1|4,3|6,5"},
		// The good reviews are 1, 3, 5 and 7; authors 1000 (1, 5) and 1001 (3, 7).
		{"search, ties", warehouse.Browse{Table: reviews, OrderBy: "author_id", Search: "GOOD"}, "1,5|3,7", "5,3|1"},
		{"search, ties, descending", warehouse.Browse{Table: reviews, OrderBy: "author_id", Desc: true, Search: "good"}, "7,3|5,1", "3,5|7"},
		{"search, a NULL", warehouse.Browse{Table: reviews, OrderBy: "review_rating", Desc: true, Search: "good"}, "1,3|7,5", "3,7|1"},
		{"analytics", warehouse.Browse{Table: "goodreads_analytics.best_books", OrderBy: "average_review_rating"}, "101,100", "101"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.b
			b.Limit = 2
			var pages []string
			var last *warehouse.Cursor
			for i := 0; ; i++ {
				p, err := w.BrowsePage(ctx, b)
				if err != nil {
					t.Fatalf("page %d: %v", i+1, err)
				}
				pages = append(pages, keys(p))
				if p.Prev != (i > 0) {
					t.Errorf("page %d (%s): Prev %v", i+1, keys(p), p.Prev)
				}
				if !p.Next {
					last = p.Last
					break
				}
				if i > 10 {
					t.Fatalf("no last page after %v", pages)
				}
				b.After = p.Last
			}
			if got := strings.Join(pages, "|"); got != tc.pages {
				t.Errorf("forwards %s, want %s", got, tc.pages)
			}
			b.After = nil
			b.Before = last
			pages = nil
			for i := 0; ; i++ {
				p, err := w.BrowsePage(ctx, b)
				if err != nil {
					t.Fatalf("page %d back: %v", i+1, err)
				}
				if len(p.Values) == 0 {
					break
				}
				pages = append(pages, keys(p))
				if !p.Next {
					t.Errorf("page %d back (%s): no Next", i+1, keys(p))
				}
				if !p.Prev {
					break
				}
				if i > 10 {
					t.Fatalf("no first page after %v", pages)
				}
				b.Before = p.First
			}
			if got := strings.Join(pages, "|"); got != tc.back {
				t.Errorf("backwards %s, want %s", got, tc.back)
			}
		})
	}
	t.Run("cursors", func(t *testing.T) {
		p, err := w.BrowsePage(ctx, warehouse.Browse{Table: reviews, OrderBy: "review_rating", Limit: 7})
		if err != nil {
			t.Fatal(err)
		}
		if want := (warehouse.Cursor{Value: "0", Key: "4"}); p.First == nil || *p.First != want {
			t.Errorf("first %+v, want %+v", p.First, want)
		}
		if want := (warehouse.Cursor{Null: true, Key: "5"}); p.Last == nil || *p.Last != want {
			t.Errorf("last %+v, want %+v", p.Last, want)
		}
		if p.Prev || p.Next || keys(p) != "4,7,3,2,6,1,5" {
			t.Errorf("the whole view: %s, prev %v next %v", keys(p), p.Prev, p.Next)
		}
		p, err = w.BrowsePage(ctx, warehouse.Browse{Table: reviews, OrderBy: "review_rating", Limit: 3, After: &warehouse.Cursor{Value: "4.5", Key: "6"}})
		if err != nil || keys(p) != "1,5" || !p.Prev || p.Next {
			t.Errorf("after (4.5, 6): %v %v", keys(p), err)
		}
		p, err = w.BrowsePage(ctx, warehouse.Browse{Table: reviews, Limit: 3, After: &warehouse.Cursor{Key: "7"}})
		if err != nil || len(p.Values) != 0 || !p.Prev || p.Next || p.First != nil {
			t.Errorf("after the last row: %+v %v", p, err)
		}
		// A page of a table without a key is found by its offset.
		p, err = w.BrowsePage(ctx, warehouse.Browse{Table: "goodreads_quality.loaded_batches", Offset: 5, Limit: 5})
		if err != nil || len(p.Values) != 0 || !p.Prev || p.Next || p.First != nil {
			t.Errorf("loaded_batches: %+v %v", p, err)
		}
		for _, b := range []warehouse.Browse{
			{Table: "goodreads_quality.loaded_batches", Limit: 5, After: &warehouse.Cursor{Key: "1"}},
			{Table: reviews, Limit: 5, Offset: 5, After: &warehouse.Cursor{Key: "1"}},
			{Table: reviews, Limit: 5, After: &warehouse.Cursor{Key: "1"}, Before: &warehouse.Cursor{Key: "3"}},
		} {
			if _, err := w.BrowsePage(ctx, b); !errors.Is(err, grpipe.ErrBadInput) {
				t.Errorf("%+v: %v, want bad input", b, err)
			}
		}
		// A key that is no number is refused by the warehouse, not read as one.
		if p, err := w.BrowsePage(ctx, warehouse.Browse{Table: reviews, Limit: 5, After: &warehouse.Cursor{Key: "1 OR 1=1"}}); err == nil {
			t.Errorf("a key of text: %+v", p)
		}
		// The row count ignores the cursor.
		if n, err := w.BrowseCount(ctx, warehouse.Browse{Table: reviews, Search: "good", After: &warehouse.Cursor{Key: "3"}}); err != nil || n != 4 {
			t.Errorf("count: %d, %v", n, err)
		}
	})
}
