package pipeline_test

import (
	"bytes"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/config"
	"github.com/grpipe/grpipe/internal/objstore/s3test"
	"github.com/grpipe/grpipe/internal/postgres/pgtest"
	"github.com/grpipe/grpipe/internal/sample"
	"github.com/grpipe/grpipe/internal/testsupport"
	"github.com/grpipe/grpipe/internal/warehouse"
)

// The end-to-end conformance test: the same batches run through the whole
// pipeline on every warehouse backend (and on S3 zones) must give the rows
// written below as literal values (expectLiterals, worked out from the
// sample files independently of the pipeline), and identical results on
// every backend. PostgreSQL runs on GRPIPE_TEST_POSTGRES, in a fresh
// database. The per-backend contract itself is internal/warehouse/drivertest.

const reviewHeader = "review_id,user_id,book_id,author_id,review_text,review_rating,record_create_timestamp\n"

// conformanceBatches lands and runs two batches: the sample with one broken
// review row, then updates (a newer review and author, a stale older review,
// a new review) with a broken user row.
func conformanceBatches(h *testsupport.Home) []*grpipe.RunSummary {
	h.T.Helper()
	landBatch1(h)
	first := h.Run()
	h.MustSucceed(first)
	landBatch2(h)
	second := h.Run()
	h.MustSucceed(second)
	return []*grpipe.RunSummary{first, second}
}

// landBatch1 lands the sample with one broken review row.
func landBatch1(h *testsupport.Home) {
	h.T.Helper()
	var files [][2]string
	for _, n := range sample.Names {
		b, err := sample.Bytes(n)
		if err != nil {
			h.T.Fatal(err)
		}
		if n == "reviews.csv" {
			b = append(b, "not,a,review\n"...)
		}
		files = append(files, [2]string{n, string(b)})
	}
	h.Land(files...)
}

// landBatch2 lands updates: a newer review and author, a stale older
// review, new reviews and a new user, and a broken user row.
func landBatch2(h *testsupport.Home) {
	h.T.Helper()
	h.Land(
		[2]string{"reviews-b2.csv", reviewHeader +
			"3198455651,76206467,13667,874602,<b>Changed</b> my mind,1,2030-01-01 00:00:00\n" + // newer: replaces
			"9000000001,76206467,13667,585,A new review,4,2030-01-01 00:00:00\n" + // new
			"9000000002,76206467,13667,585,\"Quote \"\"inside\"\", comma\",3.5,2030-01-02 00:00:00\n" + // new
			"3198455651,76206467,13667,874602,Too old,2,2001-01-01 00:00:00\n"}, // older than the one above: superseded
		[2]string{"author-b2.csv", authorHeader + "585,John Steinbeck (updated),,u,3.95,10,20,2030-01-01 00:00:00\n"},
		[2]string{"user-b2.csv", "user_id,user_name,record_create_timestamp\n" +
			"76206467,Dan (renamed),2030-01-01 00:00:00\n" +
			"not-an-id,Broken,2030-01-01 00:00:00\n" +
			"1,New user,2030-01-01 00:00:00\n"},
	)
}

// result is what the suite compares between backends.
type conformanceResult struct {
	tables  map[string][][]any
	columns map[string][]string
	ledgers []map[string]grpipe.Ledger
	checks  [][]string
}

func conformanceSnapshot(h *testsupport.Home, runs []*grpipe.RunSummary) conformanceResult {
	h.T.Helper()
	r := conformanceResult{tables: map[string][][]any{}, columns: map[string][]string{}}
	queries := map[string]string{
		"rejected_rows":  "SELECT entity, source_file, line, column_name, reason, raw FROM goodreads_quality.rejected_rows",
		"loaded_batches": "SELECT entity, read_rows, rejected, superseded, staged, inserted, updated, stale FROM goodreads_quality.loaded_batches",
	}
	for _, e := range grpipe.Entities() {
		queries[e.Name] = "SELECT * FROM goodreads_warehouse." + e.Name
	}
	for _, t := range warehouse.AnalyticsTables() {
		queries[t.Table] = "SELECT * FROM goodreads_analytics." + t.Table
	}
	for name, q := range queries {
		rows, err := h.App.Warehouse.Query(h.T.Context(), q)
		if err != nil {
			h.T.Fatalf("%s: %v", q, err)
		}
		// Sorted here, not in SQL: text collations differ between servers.
		sort.Slice(rows.Values, func(i, j int) bool { return rowKey(rows.Values[i]) < rowKey(rows.Values[j]) })
		r.tables[name], r.columns[name] = rows.Values, rows.Columns
	}
	for _, s := range runs {
		r.ledgers = append(r.ledgers, s.Tables)
		var cs []string
		for _, c := range s.Checks {
			cs = append(cs, fmt.Sprintf("%s|%s|%v|%s", c.Name, c.Table, c.Passed, c.Detail))
		}
		sort.Strings(cs)
		r.checks = append(r.checks, cs)
	}
	return r
}

// rowKey orders rows: numbers zero-padded so that they sort numerically.
func rowKey(row []any) string {
	var b strings.Builder
	for _, v := range row {
		switch x := v.(type) {
		case int64:
			fmt.Fprintf(&b, "%020d|", x)
		case int32:
			fmt.Fprintf(&b, "%020d|", x)
		case int16:
			fmt.Fprintf(&b, "%020d|", x)
		case float64:
			fmt.Fprintf(&b, "%020.6f|", x)
		default:
			fmt.Fprintf(&b, "%v|", x)
		}
	}
	return b.String()
}

// sameValue compares two values across backends: integers whatever their
// width, floats within a relative 1e-9.
func sameValue(a, b any) bool {
	if fa, ok := a.(float64); ok {
		fb, ok := b.(float64)
		return ok && math.Abs(fa-fb) <= 1e-9*math.Max(1, math.Abs(fa))
	}
	if ia, ok := asInt(a); ok {
		ib, ok := asInt(b)
		return ok && ia == ib
	}
	return reflect.DeepEqual(a, b)
}

func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int32:
		return int64(x), true
	case int16:
		return int64(x), true
	case int8:
		return int64(x), true
	case int:
		return int64(x), true
	}
	return 0, false
}

func compareResults(t *testing.T, backend string, got, want conformanceResult) {
	t.Helper()
	for name, wrows := range want.tables {
		grows := got.tables[name]
		if !reflect.DeepEqual(got.columns[name], want.columns[name]) {
			t.Errorf("%s: %s columns %v, duckdb %v", name, backend, got.columns[name], want.columns[name])
			continue
		}
		if len(grows) != len(wrows) {
			t.Errorf("%s: %s has %d rows, duckdb %d", name, backend, len(grows), len(wrows))
			continue
		}
		for i := range wrows {
			for j := range wrows[i] {
				if !sameValue(grows[i][j], wrows[i][j]) {
					t.Errorf("%s row %d column %s: %s %#v, duckdb %#v", name, i, want.columns[name][j], backend, grows[i][j], wrows[i][j])
				}
			}
		}
	}
	if !reflect.DeepEqual(got.ledgers, want.ledgers) {
		t.Errorf("ledgers: %s %+v, duckdb %+v", backend, got.ledgers, want.ledgers)
	}
	if !reflect.DeepEqual(got.checks, want.checks) {
		t.Errorf("checks: %s %v, duckdb %v", backend, got.checks, want.checks)
	}
}

// expectLiterals checks what the two conformance batches must leave in the
// warehouse of h, whatever the backend: the ledgers, the checks, the
// updated and new rows, the rejected rows, loaded_batches and the rankings.
// The counts and rankings come from the sample files (60 reviews, 56 users,
// 55 authors, 60 books after dedup), plus the second batch's two new reviews
// (author 585, book 13667) and one new user.
func expectLiterals(t *testing.T, backend string, h *testsupport.Home, runs []*grpipe.RunSummary) {
	t.Helper()
	wantLedgers := []map[string]grpipe.Ledger{
		{
			"reviews": {Read: 501, Rejected: 1, Superseded: 440, Staged: 60, Inserted: 60},
			"users":   {Read: 500, Superseded: 444, Staged: 56, Inserted: 56},
			"authors": {Read: 500, Superseded: 445, Staged: 55, Inserted: 55},
			"books":   {Read: 500, Superseded: 440, Staged: 60, Inserted: 60},
		},
		{
			"reviews": {Read: 4, Superseded: 1, Staged: 3, Inserted: 2, Updated: 1},
			"users":   {Read: 3, Rejected: 1, Staged: 2, Inserted: 1, Updated: 1},
			"authors": {Read: 1, Staged: 1, Updated: 1},
			"books":   {}, // no file of books in the batch
		},
	}
	for i, run := range runs {
		if !reflect.DeepEqual(run.Tables, wantLedgers[i]) {
			t.Errorf("%s: batch %d ledgers %+v, want %+v", backend, i+1, run.Tables, wantLedgers[i])
		}
		for _, c := range run.Checks {
			if !c.Passed {
				t.Errorf("%s: batch %d check %s on %s failed: %s", backend, i+1, c.Name, c.Table, c.Detail)
			}
		}
	}
	reviews, err := sample.Bytes("reviews.csv")
	if err != nil {
		t.Fatal(err)
	}
	brokenLine := strconv.Itoa(bytes.Count(reviews, []byte("\n")) + 1)
	for q, want := range map[string][][]string{
		"SELECT count(*) FROM goodreads_warehouse.reviews": {{"62"}},
		"SELECT count(*) FROM goodreads_warehouse.users":   {{"57"}},
		"SELECT count(*) FROM goodreads_warehouse.authors": {{"55"}},
		"SELECT count(*) FROM goodreads_warehouse.books":   {{"60"}},
		"SELECT review_id, author_id, book_id, review_text, review_rating, record_create_timestamp FROM goodreads_warehouse.reviews WHERE review_id IN (3198455651, 9000000001, 9000000002) ORDER BY review_id": {
			{"3198455651", "874602", "13667", "Changed my mind", "1", "2030-01-01 00:00:00"},
			{"9000000001", "585", "13667", "A new review", "4", "2030-01-01 00:00:00"},
			{"9000000002", "585", "13667", `Quote "inside", comma`, "3.5", "2030-01-02 00:00:00"},
		},
		"SELECT author_id, name, average_rating, rating_count, text_review_count FROM goodreads_warehouse.authors WHERE author_id = 585": {
			{"585", "John Steinbeck (updated)", "3.95", "10", "20"},
		},
		"SELECT user_id, user_name, user_display_name FROM goodreads_warehouse.users WHERE user_id IN (1, 76206467) ORDER BY user_id": {
			{"1", "New user", "NULL"},
			{"76206467", "Dan (renamed)", "NULL"},
		},
		"SELECT run_id, entity, source_file, line, column_name, reason, raw FROM goodreads_quality.rejected_rows ORDER BY run_id": {
			{runs[0].RunID, "reviews", "reviews.csv", brokenLine, "NULL", "expected 15 fields as in the header, found 3", "not,a,review"},
			{runs[1].RunID, "users", "user-b2.csv", "3", "user_id", `user_id "not-an-id" is not an integer`, "not-an-id,Broken,2030-01-01 00:00:00"},
		},
		"SELECT entity, read_rows, rejected, superseded, staged, inserted, updated, stale FROM goodreads_quality.loaded_batches WHERE batch_id = '" + runs[1].RunID + "' ORDER BY entity": {
			{"authors", "1", "0", "0", "1", "0", "1", "0"},
			{"reviews", "4", "0", "1", "3", "2", "1", "0"},
			{"users", "3", "1", "0", "2", "1", "1", "0"},
		},
		"SELECT rank, author_id, review_count FROM goodreads_analytics.popular_authors_review_count ORDER BY rank": {
			{"1", "585", "4"}, {"2", "25864", "2"}, {"3", "33280", "2"}, {"4", "9222070", "2"}, {"5", "13531492", "2"},
			{"6", "1439", "1"}, {"7", "2238", "1"}, {"8", "4738", "1"}, {"9", "5951", "1"}, {"10", "9325", "1"},
		},
		"SELECT rank, author_id, average_review_rating, review_count FROM goodreads_analytics.popular_authors_average_rating WHERE rank <= 3 ORDER BY rank": {
			{"1", "25864", "5", "2"}, {"2", "13531492", "5", "2"}, {"3", "15292", "5", "1"},
		},
		"SELECT author_id, review_count, average_review_rating, count_rank, rating_rank FROM goodreads_analytics.best_authors ORDER BY author_id": {
			{"25864", "2", "5", "2", "1"}, {"13531492", "2", "5", "5", "2"},
		},
		"SELECT rank, book_id, review_count FROM goodreads_analytics.popular_books_review_count WHERE rank <= 2 ORDER BY rank": {
			{"1", "13667", "3"}, {"2", "4799", "1"},
		},
		"SELECT rank, book_id, average_review_rating, review_count FROM goodreads_analytics.popular_books_average_rating WHERE rank <= 3 ORDER BY rank": {
			{"1", "4799", "5", "1"}, {"2", "27266", "5", "1"}, {"3", "46227", "5", "1"},
		},
		"SELECT book_id, review_count, average_review_rating, count_rank, rating_rank FROM goodreads_analytics.best_books ORDER BY book_id": {
			{"4799", "1", "5", "2", "1"}, {"27266", "1", "5", "4", "2"}, {"46227", "1", "5", "6", "3"}, {"496634", "1", "5", "9", "4"},
		},
	} {
		if got := h.Query(q); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %s\n got  %q\n want %q", backend, q, got, want)
		}
	}
}

func TestConformance(t *testing.T) {
	tune := func(c *config.Config) { c.MaxRejectRatio = 0.5 }
	ref := testsupport.NewHome(t, tune)
	refRuns := conformanceBatches(ref)
	expectLiterals(t, "duckdb", ref, refRuns)
	want := conformanceSnapshot(ref, refRuns)

	t.Run("postgres", func(t *testing.T) {
		dsn := pgtest.Database(t)
		h := testsupport.NewHome(t, func(c *config.Config) { tune(c); testsupport.Set(t, c, "warehouse", dsn) })
		runs := conformanceBatches(h)
		expectLiterals(t, "postgres", h, runs)
		compareResults(t, "postgres", conformanceSnapshot(h, runs), want)
	})
}

// TestS3ZonesSameWarehouse runs the batches with the zones on an S3-protocol
// server: the warehouse must equal the one built from local zones.
func TestS3ZonesSameWarehouse(t *testing.T) {
	tune := func(c *config.Config) { c.MaxRejectRatio = 0.5 }
	ref := testsupport.NewHome(t, tune)
	want := conformanceSnapshot(ref, conformanceBatches(ref))

	srv := s3test.Start(t, "lake")
	h := testsupport.NewHome(t, func(c *config.Config) { tune(c); c.Zones = srv.ZonesURL("lake", "goodreads/zones") })
	runs := conformanceBatches(h)
	expectLiterals(t, "s3 zones", h, runs)
	compareResults(t, "s3 zones", conformanceSnapshot(h, runs), want)

	objs, err := h.App.Zones.List(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range objs {
		keys = append(keys, o.Key)
	}
	for _, run := range runs {
		for _, e := range grpipe.Entities() {
			if run.Tables[e.Name].Staged == 0 {
				continue // the batch had no file of e
			}
			k := "processed/" + run.RunID + "/" + e.Name + "/part-0.parquet"
			if !slices.Contains(keys, k) {
				t.Errorf("%s missing from the S3 zones %v", k, keys)
			}
		}
	}
	for _, k := range keys {
		if strings.HasPrefix(k, "landing/") || strings.HasPrefix(k, "working/") {
			t.Errorf("%s left in the S3 zones", k)
		}
	}
	if srv.Requests("CopyObject") != 7 {
		t.Errorf("%d server-side copies, want 7 (one claim per landed file)", srv.Requests("CopyObject"))
	}
	if _, err := os.Stat(filepath.Join(h.Dir, "zones")); !os.IsNotExist(err) {
		t.Errorf("a local zones folder exists: %v", err)
	}
}

// TestS3TransientFaultsDuringRun is the fault matrix's S3 cells, one
// subtest each: 503 replies, reset connections and downloads cut midway
// through an object, injected while the files are landed (503s, resets)
// and spread over the run as it claims, fetches and publishes them (one
// fault after every few requests). Each is retried: the run succeeds, its
// ledgers balance, and the warehouse, the rejected rows, the ledgers and the
// checks equal those of a run on local zones.
func TestS3TransientFaultsDuringRun(t *testing.T) {
	ref := testsupport.NewHome(t, nil)
	ref.LandSample()
	refRun := ref.Run()
	ref.MustSucceed(refRun)
	want := conformanceSnapshot(ref, []*grpipe.RunSummary{refRun})

	for _, tc := range []struct {
		name, kind string
		inject     func(srv *s3test.Server)
		atLand     bool // inject faults while the files are landed too
		min        int  // faults the run must have met at least
	}{
		{"503", s3test.FaultStatus, func(srv *s3test.Server) { srv.FailNext(1, http.StatusServiceUnavailable) }, true, 3},
		{"connection reset", s3test.FaultReset, func(srv *s3test.Server) { srv.ResetNext(1) }, true, 3},
		{"download cut midway", s3test.FaultCutDownload, func(srv *s3test.Server) { srv.CutNextDownload(1) }, false, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := s3test.Start(t, "lake")
			h := testsupport.NewHome(t, func(c *config.Config) { c.Zones = srv.ZonesURL("lake", "zones") + "&max_backoff=20ms" })
			if tc.atLand {
				tc.inject(srv)
				tc.inject(srv)
			}
			h.LandSample()
			landed := srv.Injected(tc.kind)
			if tc.atLand && landed != 2 {
				t.Fatalf("%d %s faults met while landing, want 2", landed, tc.kind)
			}
			// Spread over the run: once the previous fault was met, another
			// one five requests later (never two in a row on one object, so
			// that no request exhausts its tries).
			before := srv.Total()
			stop, done := make(chan struct{}), make(chan struct{})
			go func() {
				defer close(done)
				next := before + 5
				for {
					select {
					case <-stop:
						return
					case <-time.After(2 * time.Millisecond):
					}
					if srv.Total() < next || srv.Pending() > 0 {
						continue
					}
					tc.inject(srv)
					next = srv.Total() + 5
				}
			}()
			sum := h.Run()
			close(stop)
			<-done
			srv.ClearFaults()
			h.MustSucceed(sum)
			met := srv.Injected(tc.kind) - landed
			if met < tc.min {
				t.Fatalf("the run met %d %s faults, want at least %d", met, tc.kind, tc.min)
			}
			for name, l := range sum.Tables {
				if !l.Balanced() {
					t.Errorf("ledger of %s does not balance: %+v", name, l)
				}
			}
			compareResults(t, "S3 zones with "+tc.name+" faults", conformanceSnapshot(h, []*grpipe.RunSummary{sum}), want)
			t.Logf("%d requests to S3 during the run (%d GET), %d %s faults met", srv.Total()-before, srv.Requests("GET"), met, tc.kind)
		})
	}
}
