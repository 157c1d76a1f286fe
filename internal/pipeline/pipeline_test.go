package pipeline_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/sample"
	"github.com/grpipe/grpipe/internal/testsupport"
)

// sampleLatest parses a sample file independently of the pipeline and
// returns, per id, the row with the latest record_create_timestamp.
func sampleLatest(t *testing.T, name, key string) map[string]map[string]string {
	t.Helper()
	b, err := sample.Bytes(name)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	hdr := recs[0]
	out := map[string]map[string]string{}
	for _, r := range recs[1:] {
		row := map[string]string{}
		for i, h := range hdr {
			row[h] = r[i]
		}
		cur, ok := out[row[key]]
		if !ok || row["record_create_timestamp"] > cur["record_create_timestamp"] {
			out[row[key]] = row
		}
	}
	return out
}

func TestSampleEndToEnd(t *testing.T) {
	h := testsupport.NewHome(t, nil)
	h.LandSample()
	sum := h.Run()
	h.MustSucceed(sum)

	if len(sum.Tasks) != 15 {
		t.Fatalf("%d tasks, want the original's 15", len(sum.Tasks))
	}
	for _, task := range sum.Tasks {
		if task.State != grpipe.StateSuccess {
			t.Errorf("task %s: %s", task.TaskID, task.State)
		}
	}
	want := map[string]grpipe.Ledger{
		"reviews": {Read: 500, Superseded: 440, Staged: 60, Inserted: 60},
		"users":   {Read: 500, Superseded: 444, Staged: 56, Inserted: 56},
		"authors": {Read: 500, Superseded: 445, Staged: 55, Inserted: 55},
		"books":   {Read: 500, Superseded: 440, Staged: 60, Inserted: 60},
	}
	if !reflect.DeepEqual(sum.Tables, want) {
		t.Fatalf("ledger %+v, want %+v", sum.Tables, want)
	}
	for name, n := range map[string]int{"reviews": 60, "users": 56, "authors": 55, "books": 60} {
		if got := h.Count("goodreads_warehouse." + name); got != n {
			t.Errorf("%s: %d rows, want %d", name, got, n)
		}
	}
	for _, c := range sum.Checks {
		if !c.Passed {
			t.Errorf("check %s on %s failed: %s", c.Name, c.Table, c.Detail)
		}
	}
	if len(sum.Checks) < 4*3+1+4 {
		t.Errorf("only %d checks ran", len(sum.Checks))
	}

	t.Run("latest version wins", func(t *testing.T) {
		authors := sampleLatest(t, "author.csv", "author_id")
		for _, r := range h.Query("SELECT author_id, rating_count, text_review_count, average_rating FROM goodreads_warehouse.authors") {
			w := authors[r[0]]
			if r[1] != w["rating_count"] || r[2] != w["text_review_count"] {
				t.Errorf("author %s: stored %v, latest version has %s, %s", r[0], r[1:], w["rating_count"], w["text_review_count"])
			}
		}
		books := sampleLatest(t, "book.csv", "book_id")
		for _, r := range h.Query("SELECT book_id, ratings_count, record_create_timestamp FROM goodreads_warehouse.books") {
			w := books[r[0]]
			if r[1] != w["ratings_count"] || !strings.HasPrefix(r[2], w["record_create_timestamp"][:19]) {
				t.Errorf("book %s: stored %v, latest version has %s at %s", r[0], r[1:], w["ratings_count"], w["record_create_timestamp"])
			}
		}
	})

	t.Run("dates in UTC", func(t *testing.T) {
		got := h.Query("SELECT strftime(review_added_date, '%Y-%m-%d %H:%M:%S'), strftime(review_updated_date, '%Y-%m-%d %H:%M:%S') FROM goodreads_warehouse.reviews WHERE review_id = 3198455651")
		if len(got) != 1 || got[0][0] != "2020-02-20 02:36:17" || got[0][1] != "2020-02-20 02:36:52" {
			t.Fatalf("review 3198455651 dates %v, want 2020-02-20 02:36:17 and 02:36:52 UTC (Wed Feb 19 18:36:17 -0800 2020)", got)
		}
	})

	t.Run("analytics agree with the warehouse", func(t *testing.T) {
		byCount := h.Query(`SELECT author_id, count(*) AS n FROM goodreads_warehouse.reviews GROUP BY author_id ORDER BY n DESC, author_id LIMIT 10`)
		got := h.Query(`SELECT author_id, review_count FROM goodreads_analytics.popular_authors_review_count ORDER BY rank`)
		if !reflect.DeepEqual(got, byCount) {
			t.Errorf("popular_authors_review_count %v, warehouse says %v", got, byCount)
		}
		byRating := h.Query(`SELECT book_id, avg(review_rating) AS a, count(*) AS n FROM goodreads_warehouse.reviews GROUP BY book_id ORDER BY a DESC, n DESC, book_id LIMIT 10`)
		got = h.Query(`SELECT book_id, average_review_rating, review_count FROM goodreads_analytics.popular_books_average_rating ORDER BY rank`)
		if !reflect.DeepEqual(got, byRating) {
			t.Errorf("popular_books_average_rating %v, warehouse says %v", got, byRating)
		}
		best := h.Query(`SELECT author_id FROM goodreads_analytics.popular_authors_review_count
			INTERSECT SELECT author_id FROM goodreads_analytics.popular_authors_average_rating ORDER BY 1`)
		gotBest := h.Query(`SELECT author_id FROM goodreads_analytics.best_authors ORDER BY 1`)
		if !reflect.DeepEqual(best, gotBest) || len(best) == 0 {
			t.Errorf("best_authors %v, intersection of the two lists %v", gotBest, best)
		}
		name := h.Query(`SELECT a.name FROM goodreads_analytics.popular_authors_review_count p JOIN goodreads_warehouse.authors a USING (author_id) WHERE p.name = a.name`)
		if len(name) != 10 {
			t.Errorf("only %d of 10 popular authors carry their name from the authors table", len(name))
		}
	})

	t.Run("landing zone emptied, working cleaned, processed written", func(t *testing.T) {
		objs, err := h.App.Zones.List(context.Background(), "")
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, o := range objs {
			keys = append(keys, o.Key)
		}
		sort.Strings(keys)
		want := []string{
			"processed/" + sum.RunID + "/authors/part-0.parquet",
			"processed/" + sum.RunID + "/books/part-0.parquet",
			"processed/" + sum.RunID + "/reviews/part-0.parquet",
			"processed/" + sum.RunID + "/users/part-0.parquet",
		}
		if !reflect.DeepEqual(keys, want) {
			t.Fatalf("zone objects %v, want %v", keys, want)
		}
	})
}

func TestLandingTwiceGivesSameWarehouse(t *testing.T) {
	h := testsupport.NewHome(t, nil)
	h.LandSample()
	h.MustSucceed(h.Run())
	first := h.Snapshot()
	h.LandSample()
	sum := h.Run()
	h.MustSucceed(sum)
	if second := h.Snapshot(); !reflect.DeepEqual(first, second) {
		t.Fatalf("warehouse differs after landing the same files again")
	}
	// Same versions again: every staged row replaces an equal one.
	if l := sum.Tables["reviews"]; l.Inserted != 0 || l.Updated != 60 || l.Stale != 0 {
		t.Fatalf("second run reviews ledger %+v, want 0 inserted, 60 updated", l)
	}
	runs, err := h.App.Store.RunIDs(context.Background(), 10)
	if err != nil || len(runs) != 2 {
		t.Fatalf("run history %v (%v), want 2 runs", runs, err)
	}
}

const authorHeader = "author_id,name,role,profile_url,average_rating,rating_count,text_review_count,record_create_timestamp\n"

func TestNewerWinsAcrossBatches(t *testing.T) {
	h := testsupport.NewHome(t, nil)
	h.LandSample()
	h.MustSucceed(h.Run())

	// A newer version of author 585 arrives, then an older one processed late.
	h.Land([2]string{"author-b1.csv", authorHeader + "585,John Steinbeck,,u,3.93,1,1,2030-01-01 00:00:00\n"})
	sum := h.Run()
	h.MustSucceed(sum)
	if l := sum.Tables["authors"]; l.Updated != 1 || l.Inserted != 0 {
		t.Fatalf("newer batch ledger %+v, want 1 updated", l)
	}
	h.Land([2]string{"author-b0.csv", authorHeader + "585,Old Name,,u,3.93,2,2,2021-01-01 00:00:00\n"})
	sum = h.Run()
	h.MustSucceed(sum)
	if l := sum.Tables["authors"]; l.Stale != 1 || l.Updated != 0 {
		t.Fatalf("older batch ledger %+v, want 1 stale", l)
	}
	got := h.Query("SELECT name, rating_count FROM goodreads_warehouse.authors WHERE author_id = 585")
	if !reflect.DeepEqual(got, [][]string{{"John Steinbeck", "1"}}) {
		t.Fatalf("author 585 = %v: the older batch overwrote the newer row", got)
	}
}

func TestTieBreakLaterRowWins(t *testing.T) {
	h := testsupport.NewHome(t, nil)
	h.LandSample()
	h.MustSucceed(h.Run())
	ts := "2031-01-01 00:00:00"
	// Same id, same timestamp: within a file the later line wins ...
	h.Land([2]string{"author-t1.csv", authorHeader + "585,First,,u,1,1,1," + ts + "\n585,Second,,u,1,1,1," + ts + "\n"})
	h.MustSucceed(h.Run())
	if got := h.Query("SELECT name FROM goodreads_warehouse.authors WHERE author_id = 585"); got[0][0] != "Second" {
		t.Fatalf("within a file: %v won, want the later line", got)
	}
	// ... and across files of one batch, the later-landed file wins.
	h.Land([2]string{"author-t3.csv", authorHeader + "585,Third,,u,1,1,1," + ts + "\n"})
	time.Sleep(20 * time.Millisecond) // landing order is told by modification time
	h.Land([2]string{"author-t2.csv", authorHeader + "585,Fourth,,u,1,1,1," + ts + "\n"})
	h.MustSucceed(h.Run())
	if got := h.Query("SELECT name FROM goodreads_warehouse.authors WHERE author_id = 585"); got[0][0] != "Fourth" {
		t.Fatalf("across files: %v won, want the later-landed file", got)
	}
}
