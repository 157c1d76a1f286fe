package pipeline_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"strings"
	"testing"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/config"
	"github.com/grpipe/grpipe/internal/landing"
	"github.com/grpipe/grpipe/internal/postgres/pgtest"
	"github.com/grpipe/grpipe/internal/sample"
	"github.com/grpipe/grpipe/internal/testsupport"
)

// Invented lines of the UCSD Book Graph dumps' shape.
const (
	rdReview = `{"user_id": "0a1b2c3d4e5f60718293a4b5c6d7e8f9", "book_id": "90000001", "review_id": "f0e1d2c3b4a5968778695a4b3c2d1e0f", "rating": 4, "review_text": "Slow start, lovely ending. \n Would read the sequel.", "date_added": "Sun Jul 30 07:44:10 -0700 2017", "date_updated": "Wed Aug 30 00:00:26 -0700 2017", "read_at": "", "started_at": "", "n_votes": 3, "n_comments": 0}`
	rdBook   = `{"isbn": "", "text_reviews_count": "0", "series": [], "country_code": "US", "language_code": "", "popular_shelves": [], "asin": "", "is_ebook": "true", "average_rating": "3.50", "kindle_asin": "", "similar_books": [], "description": "A <b>quiet</b> sea.", "format": "", "link": "https://www.goodreads.com/book/show/90000001.Sea", "authors": [{"author_id": "9000001", "role": ""}, {"author_id": "9000002", "role": "Illustrator"}], "publisher": "", "num_pages": "288", "publication_day": "", "isbn13": "", "publication_month": "", "edition_information": "", "publication_year": "2011", "url": "", "image_url": "", "book_id": "90000001", "ratings_count": "3", "work_id": "", "title": "The Quiet Sea", "title_without_series": "The Quiet Sea"}`
	rdAuthor = `{"average_rating": "3.91", "author_id": "9000001", "text_reviews_count": "41", "name": "Mara Quill", "ratings_count": "512"}`
	rdExport = "Book Id,Title,Author,Author l-f,Additional Authors,ISBN,ISBN13,My Rating,Publisher,Binding,Number of Pages,Year Published,Original Publication Year,Date Read,Date Added,Bookshelves,Bookshelves with positions,Exclusive Shelf,My Review,Spoiler,Private Notes,Read Count,Owned Copies\n" +
		"90000001,The Quiet Sea,Mara Quill,\"Quill, Mara\",,\"=\"\"0123456789\"\"\",\"=\"\"\"\"\",4,,Paperback,,2011,,,2018/11/30,,,read,\"Lovely.<br/>Would reread.\",,,1,0\n" +
		"13667,The Farthest Shore,Ursula K. Le Guin,\"Le Guin, Ursula K.\",,\"=\"\"\"\"\",\"=\"\"\"\"\",5,,Paperback,,,,,2019/01/02,,,read,,,,1,0\n"
)

func rdReviewLine(repl ...string) string { return strings.NewReplacer(repl...).Replace(rdReview) }

func gz(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.String()
}

// landInputs writes files (name → content) and lands them, an export as the member exportUser's.
func landInputs(h *testsupport.Home, exportUser int64, files ...[2]string) ([]string, error) {
	h.T.Helper()
	return h.LandWith(&landing.Options{ExportUserID: exportUser}, files...)
}

// realDataRuns lands the bundled CSV sample together with UCSD dumps (one
// bad line), then a library export and more dumps, and returns the two runs.
func realDataRuns(t *testing.T, h *testsupport.Home) [2]*grpipe.RunSummary {
	var sampleFiles [][2]string
	for _, n := range sample.Names {
		b, err := sample.Bytes(n)
		if err != nil {
			t.Fatal(err)
		}
		sampleFiles = append(sampleFiles, [2]string{n, string(b)})
	}
	reviews := strings.Join([]string{
		rdReview,
		// The same user, another book that arrives only in the second batch.
		rdReviewLine("f0e1d2c3b4a5968778695a4b3c2d1e0f", "1111d2c3b4a5968778695a4b3c2d1e0f", `"90000001"`, `"90000002"`, `"rating": 4`, `"rating": 2`),
		// A review of a book of the CSV sample: its author comes from the stored book.
		rdReviewLine("f0e1d2c3b4a5968778695a4b3c2d1e0f", "2222d2c3b4a5968778695a4b3c2d1e0f", `"90000001"`, `"13667"`),
		`{"user_id": "0a1b2c3d4e5f60718293a4b5c6d7e8f9", "book_id": "9000`, // cut in the middle
	}, "\n") + "\n"
	// A UCSD book with the id of a CSV sample book: its 2017 snapshot must
	// not replace the 2020 captured row.
	staleBook := strings.NewReplacer(`"90000001"`, `"13667"`, "The Quiet Sea", "Stale Title").Replace(rdBook)
	files := append(sampleFiles,
		[2]string{"goodreads_reviews_dedup.json.gz", gz(t, reviews)},
		[2]string{"goodreads_books.json.gz", gz(t, rdBook+"\n"+staleBook+"\n")},
		[2]string{"goodreads_book_authors.json", rdAuthor + "\n"},
	)
	if _, err := landInputs(h, 0, files...); err != nil {
		t.Fatal(err)
	}
	first := h.Run()

	// Second batch: the export (twice: the second landing under a batch name
	// changes nothing), the late book, and a review key colliding with a
	// stored one (same first 62 bits as f0e1...).
	late := strings.NewReplacer(`"90000001"`, `"90000002"`, "The Quiet Sea", "Tide Tables", `"9000001"`, `"9000003"`).Replace(rdBook)
	collide := rdReviewLine("f0e1d2c3b4a5968778695a4b3c2d1e0f", "f0e1d2c3b4a596870000000000000000", `"rating": 4`, `"rating": 1`)
	if _, err := landInputs(h, 12345,
		[2]string{"goodreads_library_export.csv", rdExport},
		[2]string{"goodreads_library_export-again.csv", rdExport},
		[2]string{"goodreads_books-late.json", late + "\n"},
		[2]string{"goodreads_reviews_dedup-2.json", collide + "\n" + rdReviewLine("f0e1d2c3b4a5968778695a4b3c2d1e0f", "3333d2c3b4a5968778695a4b3c2d1e0f") + "\n"},
	); err != nil {
		t.Fatal(err)
	}
	second := h.Run()
	return [2]*grpipe.RunSummary{first, second}
}

func checkRealData(t *testing.T, h *testsupport.Home, runs [2]*grpipe.RunSummary) {
	t.Helper()
	for i, sum := range runs {
		h.MustSucceed(sum)
		for name, l := range sum.Tables {
			if !l.Balanced() {
				t.Errorf("run %d: %s ledger %+v does not balance", i+1, name, l)
			}
		}
	}
	// Run 1: the sample's 500 reviews and 4 UCSD lines, one cut.
	if l := runs[0].Tables["reviews"]; l.Read != 504 || l.Rejected != 1 || l.Staged != 63 {
		t.Errorf("run 1 reviews ledger %+v, want 504 read, 1 rejected, 63 staged", l)
	}
	if l := runs[0].Tables["books"]; l.Read != 502 || l.Staged != 61 || l.Superseded != 441 {
		t.Errorf("run 1 books ledger %+v, want 502 read, 61 staged (the 2017 row of 13667 superseded by the 2020 captured ones)", l)
	}
	// Run 2: 4 export rows (2 per landing) and 2 review lines, one colliding.
	if l := runs[1].Tables["reviews"]; l.Read != 6 || l.Rejected != 1 || l.Superseded != 2 || l.Staged != 3 || l.Inserted != 3 {
		t.Errorf("run 2 reviews ledger %+v, want 6 read, 1 rejected (collision), 2 superseded, 3 staged and inserted", l)
	}

	q := func(sql string) string {
		t.Helper()
		rows := h.Query(sql)
		var out []string
		for _, r := range rows {
			out = append(out, strings.Join(r, "|"))
		}
		return strings.Join(out, "\n")
	}
	// UCSD reviews: hashed ids, UTC dates, cleaned text, authors from books
	// of the same batch, of the warehouse, and of a later batch.
	text := "Slow start, lovely ending. Would read the sequel.|2017-07-30 14:44:10|2017-08-30 07:00:26"
	if got := q(`SELECT review_id, book_id, author_id, review_rating, review_text, review_added_date, record_create_timestamp
		FROM goodreads_warehouse.reviews WHERE user_id = 4793742120069879836 ORDER BY review_id`); got !=
		"4919184996237403553|90000002|9000003|2|"+text+"\n"+ // its book came in the second batch
			"5226626039549617569|13667|874602|4|"+text+"\n"+ // its book is a captured (CSV) one
			"5534067082861831585|90000001|9000001|4|"+text+"\n"+
			"8951032562640840097|90000001|9000001|4|"+text { // not replaced by the colliding key's rating 1
		t.Errorf("UCSD reviews:\n%s", got)
	}
	// The user: the hashed id only, other columns NULL.
	if got := q(`SELECT user_id, user_name, location, has_image, record_create_timestamp FROM goodreads_warehouse.users WHERE user_id = 4793742120069879836`); got != "4793742120069879836|NULL|NULL|NULL|2017-12-01 00:00:00" {
		t.Errorf("UCSD user: %s", got)
	}
	// The 2020 captured book 13667 kept its title; the export's sparse row did not blank it.
	if got := q(`SELECT title, description IS NOT NULL FROM goodreads_warehouse.books WHERE book_id = 13667`); got != "The Farthest Shore (Earthsea Cycle, #3)|true" {
		t.Errorf("captured book: %s", got)
	}
	if got := q(`SELECT title, description, authors, published FROM goodreads_warehouse.books WHERE book_id = 90000001`); got != "The Quiet Sea|A quiet sea.|9000001|2011" {
		t.Errorf("UCSD book: %s", got)
	}
	// The export: one review per row, its id from (user, book), landing twice changes nothing.
	if got := q(`SELECT user_id, book_id, review_rating, review_text, review_read_count, record_create_timestamp FROM goodreads_warehouse.reviews WHERE user_id = 12345 ORDER BY book_id`); got !=
		"12345|13667|5|NULL|1|2019-01-02 00:00:00\n12345|90000001|4|Lovely. Would reread.|1|2018-11-30 00:00:00" {
		t.Errorf("export reviews:\n%s", got)
	}
	if got := q(`SELECT count(*) FROM goodreads_warehouse.users WHERE user_id = 12345`); got != "1" {
		t.Errorf("export user: %s", got)
	}
	// Source keys: one per derived id; the collision quarantined with its file and line.
	if got := q(`SELECT entity, source, count(*) FROM goodreads_warehouse.source_keys GROUP BY entity, source ORDER BY 1, 2`); got != "authors|export|2\nreviews|export|2\nreviews|ucsd|4\nusers|ucsd|1" {
		t.Errorf("source keys:\n%s", got)
	}
	if got := q(`SELECT source_key FROM goodreads_warehouse.source_keys WHERE id = 8951032562640840097`); got != "f0e1d2c3b4a5968778695a4b3c2d1e0f" {
		t.Errorf("key of the colliding id: %s", got)
	}
	if got := q(`SELECT entity, source_file, line, column_name, raw FROM goodreads_quality.rejected_rows ORDER BY source_file`); got !=
		"reviews|goodreads_reviews_dedup-2.json|1|review_id|f0e1d2c3b4a596870000000000000000\n"+
			"reviews|goodreads_reviews_dedup.json.gz|4|NULL|{\"user_id\": \"0a1b2c3d4e5f60718293a4b5c6d7e8f9\", \"book_id\": \"9000" {
		t.Errorf("rejected rows:\n%s", got)
	}
	// The analytics see the UCSD reviews under their authors.
	if got := q(`SELECT count(*) FROM goodreads_analytics.popular_authors_review_count WHERE author_id = 9000001`); got != "1" {
		t.Errorf("author 9000001 not in the analytics: %s", got)
	}
}

func TestRealDataEndToEnd(t *testing.T) {
	tune := func(c *config.Config) { c.MaxRejectRatio = 0.5 }
	h := testsupport.NewHome(t, tune)
	checkRealData(t, h, realDataRuns(t, h))
	t.Run("postgres", func(t *testing.T) {
		dsn := pgtest.Database(t)
		h := testsupport.NewHome(t, func(c *config.Config) { tune(c); testsupport.Set(t, c, "warehouse", dsn) })
		checkRealData(t, h, realDataRuns(t, h))
	})
}

func TestLandRealDataNames(t *testing.T) {
	h := testsupport.NewHome(t, nil)
	_, err := landInputs(h, 0, [2]string{"goodreads_library_export.csv", rdExport})
	if !errors.Is(err, grpipe.ErrExportUserID) || !strings.Contains(err.Error(), "goodreads_library_export.csv") || !strings.Contains(err.Error(), "--export-user-id") {
		t.Fatalf("an export without a user id: %v", err)
	}
	for name, content := range map[string]string{
		"goodreads_interactions_dedup.json.gz": gz(t, "{}\n"),
		"goodreads_reviews_dedup.csv":          "x\n",
		"goodreads_books.json":                 "book_id,title\n1,x\n", // not JSON Lines
	} {
		if _, err := landInputs(h, 0, [2]string{name, content}); !errors.Is(err, grpipe.ErrBadInput) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v", name, err)
		}
	}
	landed, err := landInputs(h, 7, [2]string{"goodreads_library_export.csv", rdExport}, [2]string{"goodreads_reviews_poetry.json.gz", gz(t, rdReview+"\n")})
	if err != nil || len(landed) != 2 || landed[0] != "goodreads_library_export.user-7.csv" {
		t.Fatalf("landed %v, %v", landed, err)
	}
}

// TestBadDumpLinesQuarantined lands a reviews dump with one bad line of
// each kind the issue lists (and the lenient cases, which load): the line
// lands in goodreads_quality.rejected_rows and the quarantine zone with its
// file, line and reason, the good lines load, and every ledger balances.
func TestBadDumpLinesQuarantined(t *testing.T) {
	good := []string{
		rdReview,
		rdReviewLine("f0e1d2c3b4a5968778695a4b3c2d1e0f", "1111d2c3b4a5968778695a4b3c2d1e0f", `"0a1b2c3d4e5f60718293a4b5c6d7e8f9"`, `"5c6d7e8f90a1b2c3d4e5f60718293a4b"`),
	}
	other := "2222d2c3b4a5968778695a4b3c2d1e0f"
	line := func(repl ...string) string {
		return strings.NewReplacer(repl...).Replace(rdReviewLine("f0e1d2c3b4a5968778695a4b3c2d1e0f", other))
	}
	cases := []struct {
		name, line, column, reason string // reason "" : the line loads
	}{
		{"not JSON", "this is not JSON", "", "not a JSON object"},
		{"cut in the middle", line()[:150], "", "the line ends inside a string"},
		{"non-hex id", line(other, "zz22d2c3b4a5968778695a4b3c2d1e0f"), "review_id", "not a hex digit"},
		{"empty id", line(`"`+other+`"`, `""`), "review_id", "it is empty"},
		{"id not an integer", line(`"90000001"`, `"90000001x"`), "book_id", "is not an integer"},
		{"number does not parse", line(`"n_votes": 3`, `"n_votes": 3e`), "", "not valid JSON"},
		{"count not an integer", line(`"n_votes": 3`, `"n_votes": 3.5`), "review_votes", "is not an integer"},
		{"date does not parse", line("Wed Aug 30 00:00:26 -0700 2017", "2017-08-30T00:00:26Z"), "review_updated_date", "is not a date like"},
		{"rating outside [0, 5]", line(`"rating": 4`, `"rating": 6`), "review_rating", "out of range [0, 5]"},
		{"a list where a string was expected", line(`"review_text": "Slow`, `"review_text": ["Slow"], "x": "`), "review_text", "review_text is an array"},
		{"missing id", line(`"review_id": "`+other+`", `, ""), "review_id", "review_id is missing"},
		{"null id", line(`"`+other+`"`, "null"), "review_id", "review_id is null"},
		{"null where a string was expected (NULL)", line(`"review_text": "Slow start, lovely ending. \n Would read the sequel."`, `"review_text": null`), "", ""},
		{"unknown key (ignored)", line(`"n_comments": 0`, `"n_comments": 0, "mood": {"a": [1]}`), "", ""},
		{"missing optional key (NULL)", line(`, "n_votes": 3`, ""), "", ""},
		{"a 5 MB review text (loads)", line("Slow start, lovely ending. \\n Would read the sequel.", strings.Repeat("word ", 1<<20)), "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := testsupport.NewHome(t, func(c *config.Config) { c.MaxRejectRatio = 0.5 })
			dump := strings.Join(append(append([]string{}, good...), tc.line), "\n") + "\n"
			if _, err := landInputs(h, 0, [2]string{"goodreads_reviews_dedup.json.gz", gz(t, dump)},
				[2]string{"goodreads_books.json", rdBook + "\n"}, [2]string{"goodreads_book_authors.json", rdAuthor + "\n"}); err != nil {
				t.Fatal(err)
			}
			sum := h.Run()
			h.MustSucceed(sum)
			for name, l := range sum.Tables {
				if !l.Balanced() || l.Read != l.Rejected+l.Superseded+l.Staged {
					t.Errorf("%s ledger %+v does not balance", name, l)
				}
			}
			l := sum.Tables["reviews"]
			rejected := h.Query("SELECT entity, source_file, line, column_name, reason FROM goodreads_quality.rejected_rows")
			if tc.reason == "" {
				if l.Read != 3 || l.Rejected != 0 || l.Staged != 3 || len(rejected) != 0 {
					t.Fatalf("ledger %+v, rejected %v: the line should load", l, rejected)
				}
				return
			}
			if l.Read != 3 || l.Rejected != 1 || l.Staged != 2 {
				t.Fatalf("reviews ledger %+v, want 3 read, 1 rejected, 2 staged", l)
			}
			col := tc.column
			if col == "" {
				col = "NULL"
			}
			if len(rejected) != 1 || rejected[0][0] != "reviews" || rejected[0][1] != "goodreads_reviews_dedup.json.gz" || rejected[0][2] != "3" ||
				rejected[0][3] != col || !strings.Contains(rejected[0][4], tc.reason) {
				t.Fatalf("rejected rows %v, want reviews, the file, line 3, column %s, a reason with %q", rejected, col, tc.reason)
			}
			// The quarantine zone holds the same row.
			q, err := h.App.Zones.ReadAll(context.Background(), "quarantine/"+sum.RunID+"/goodreads_reviews_dedup.json.gz.rejects.csv")
			if err != nil || !strings.Contains(string(q), tc.reason) {
				t.Fatalf("quarantine file: %v\n%.300s", err, q)
			}
		})
	}
}
