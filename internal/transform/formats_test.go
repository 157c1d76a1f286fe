package transform_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/duckdb"
	"github.com/grpipe/grpipe/internal/transform"
)

// Invented lines of the real dumps' shape.
const (
	ucsdReview = `{"user_id": "0a1b2c3d4e5f60718293a4b5c6d7e8f9", "book_id": "90000001", "review_id": "f0e1d2c3b4a5968778695a4b3c2d1e0f", "rating": 4, "review_text": "Slow start, <b>lovely</b> ending. \n Would read the sequel.", "date_added": "Sun Jul 30 07:44:10 -0700 2017", "date_updated": "Wed Aug 30 00:00:26 -0700 2017", "read_at": "", "started_at": "", "n_votes": 3, "n_comments": 0}`
	ucsdBook   = `{"isbn": "", "text_reviews_count": "0", "series": [], "country_code": "US", "language_code": "", "popular_shelves": [], "asin": "", "is_ebook": "true", "average_rating": "3.50", "kindle_asin": "", "similar_books": [], "description": "A <p>map</p> &amp; a coast.", "format": "", "link": "https://www.goodreads.com/book/show/90000001.Tide", "authors": [{"author_id": "9000001", "role": ""}], "publisher": "", "num_pages": "", "publication_day": "", "isbn13": "", "publication_month": "", "edition_information": "", "publication_year": "2011", "url": "", "image_url": "", "book_id": "90000001", "ratings_count": "3", "work_id": "", "title": "Tide  Tables", "title_without_series": "Tide Tables"}`
	ucsdAuthor = `{"average_rating": "3.91", "author_id": "9000001", "text_reviews_count": "41", "name": "Mara  Quill", "ratings_count": "512"}`
)

// reviewLine returns ucsdReview with replacements (old, new pairs).
func reviewLine(repl ...string) string { return strings.NewReplacer(repl...).Replace(ucsdReview) }

// hexKey returns a 32-hex key from a 4-hex prefix: distinct prefixes give distinct ids.
func hexKey(prefix string) string { return prefix + "2c3d4e5f60718293a4b5c6d7e8f9" }

func gzipFile(t *testing.T, path, content string) {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(content))
	w.Close()
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func source(t *testing.T, dir, name string, content string, gz bool) transform.Source {
	t.Helper()
	in, err := grpipe.InputForFile(name)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if gz {
		gzipFile(t, path, content)
	} else if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return transform.Source{Entity: in.Entity, Input: in, Name: name, Path: path}
}

func openEngine(t *testing.T) *sql.DB {
	t.Helper()
	db, err := duckdb.Open(context.Background(), "", duckdb.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func query(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s sql.NullString
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s.String)
	}
	return out
}

func ledger(er *transform.EntityResult) grpipe.Ledger {
	return grpipe.Ledger{Read: er.Read, Rejected: er.Rejected, Superseded: er.Superseded, Staged: er.Staged}
}

func TestUCSDBatch(t *testing.T) {
	dir := t.TempDir()
	bigText := strings.Repeat("long review words ", 5<<20/18) // about 5 MB: loads
	good := []string{
		reviewLine(),
		reviewLine(`"f0e1d2c3b4a5968778695a4b3c2d1e0f"`, `"`+hexKey("0002")+`"`, `"rating": 4`, `"rating": 5`),
		reviewLine(`"f0e1d2c3b4a5968778695a4b3c2d1e0f"`, `"`+hexKey("0003")+`"`, `"90000001"`, `"90000002"`, `, "n_comments": 0`, `, "n_comments": 0, "shelf": "x"`), // unknown key
		reviewLine(`"f0e1d2c3b4a5968778695a4b3c2d1e0f"`, `"`+hexKey("0004")+`"`, `"review_text": "Slow start, <b>lovely</b> ending. \n Would read the sequel."`, `"review_text": null`),
		reviewLine(`"f0e1d2c3b4a5968778695a4b3c2d1e0f"`, `"`+hexKey("0005")+`"`, `Slow start, <b>lovely</b> ending. \n Would read the sequel.`, bigText),
		reviewLine(`"f0e1d2c3b4a5968778695a4b3c2d1e0f"`, `"`+hexKey("0006")+`"`, `, "n_votes": 3`, ``), // missing optional key
		// The first line again, updated later: supersedes it.
		reviewLine(`Wed Aug 30 00:00:26 -0700 2017`, `Thu Aug 31 00:00:26 -0700 2017`, `"rating": 4`, `"rating": 2`),
	}
	bad := map[string]string{ // line -> the reason's start
		`not json at all`: "the line is not a JSON object",
		ucsdReview[:120]:  "the line ends",
		reviewLine("f0e1d2c3b4a5968778695a4b3c2d1e0f", "x0e1d2c3b4a5968778695a4b3c2d1e0f"): `review_id "x0e1d2c3b4a5968778695a4b3c2d1e0f": not a 32-digit hex id`,
		reviewLine(`"0a1b2c3d4e5f60718293a4b5c6d7e8f9"`, `""`):                             `user_id "": not a 32-digit hex id: it is empty`,
		reviewLine(`"90000001"`, `"9x"`):                                                   `book_id "9x" is not an integer`,
		reviewLine(`"rating": 4`, `"rating": 7`):                                           `review_rating 7 out of range [0, 5]`,
		reviewLine(`"n_votes": 3`, `"n_votes": 3.5`):                                       `review_votes "3.5" is not an integer`,
		reviewLine(`Sun Jul 30 07:44:10 -0700 2017`, `Sun Jul 32 07:44:10 -0700 2017`):     `review_added_date "Sun Jul 32`,
		reviewLine(`"review_id": "f0e1d2c3b4a5968778695a4b3c2d1e0f", `, ``):                `review_id is missing`,
	}
	var lines []string
	lines = append(lines, good...)
	for l := range bad {
		lines = append(lines, l)
	}
	// The bad lines are 9 of 16: allow them.
	srcs := []transform.Source{
		source(t, dir, "goodreads_reviews_dedup.json.gz", strings.Join(lines, "\n")+"\n", true),
		source(t, dir, "goodreads_books.json.gz", ucsdBook+"\n", true),
		source(t, dir, "goodreads_book_authors.json", ucsdAuthor+"\n", false),
	}
	db := openEngine(t)
	res, err := transform.Run(context.Background(), db, srcs, transform.Options{WorkDir: filepath.Join(dir, "out"), MaxRejectRatio: 0.9})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.FileErrors) != 0 {
		t.Fatalf("refused: %v", res.FileErrors[0])
	}
	want := map[string]grpipe.Ledger{
		"reviews": {Read: 16, Rejected: 9, Superseded: 1, Staged: 6},
		"users":   {Read: 7, Rejected: 0, Superseded: 6, Staged: 1},
		"books":   {Read: 1, Staged: 1},
		"authors": {Read: 1, Staged: 1},
	}
	for name, w := range want {
		er := res.Entities[name]
		if er == nil {
			t.Fatalf("no %s", name)
		}
		if got := ledger(er); got != w || got.Read != got.Rejected+got.Superseded+got.Staged {
			t.Errorf("%s ledger %+v, want %+v", name, got, w)
		}
	}
	rv := res.Entities["reviews"].Parquet
	got := query(t, db, `SELECT concat_ws('|', review_id, user_id, author_id IS NULL, review_rating, review_text, review_added_date, record_create_timestamp, spoiler_flag)
		FROM read_parquet('`+rv+`') WHERE review_id = 8951032562640840097`)
	if len(got) != 1 || got[0] != "8951032562640840097|4793742120069879836|true|2.0|Slow start, lovely ending. Would read the sequel.|2017-07-30 14:44:10|2017-08-31 07:00:26|false" {
		t.Fatalf("review row: %q", got)
	}
	if got := query(t, db, `SELECT length(review_text)::VARCHAR FROM read_parquet('`+rv+`') WHERE length(review_text) > 1000000`); len(got) != 1 {
		t.Fatalf("the 5 MB review: %v", got)
	}
	if got := query(t, db, `SELECT concat_ws('|', user_id, user_name IS NULL, has_image IS NULL, record_create_timestamp) FROM read_parquet('`+res.Entities["users"].Parquet+`')`); len(got) != 1 || got[0] != "4793742120069879836|true|true|2017-12-01 00:00:00" {
		t.Fatalf("user row: %q", got)
	}
	if got := query(t, db, `SELECT concat_ws('|', title, description, authors, published, book_url) FROM read_parquet('`+res.Entities["books"].Parquet+`')`); len(got) != 1 || got[0] != "Tide Tables|A map & a coast.|9000001|2011|https://www.goodreads.com/book/show/90000001.Tide" {
		t.Fatalf("book row: %q", got)
	}
	// Every bad line is in the rejects with its file, line and reason.
	rejects := query(t, db, `SELECT concat_ws('|', source_file, line, reason) FROM read_parquet('`+res.Entities["reviews"].Rejects+`') ORDER BY line`)
	if len(rejects) != len(bad) {
		t.Fatalf("%d rejects, want %d: %v", len(rejects), len(bad), rejects)
	}
	for i, r := range rejects {
		line := lines[len(good)+i]
		wantPrefix := "goodreads_reviews_dedup.json.gz|" + strconv.Itoa(len(good)+i+1) + "|" + bad[line]
		if !strings.HasPrefix(r, wantPrefix) {
			t.Errorf("reject %d: %q, want prefix %q", i, r, wantPrefix)
		}
	}
	// The keys of the derived ids, once each.
	keys := query(t, db, `SELECT concat_ws('|', entity, source, source_key, id, source_file, line) FROM read_parquet('`+res.SourceKeys["users"]+`')`)
	if len(keys) != 1 || keys[0] != "users|ucsd|0a1b2c3d4e5f60718293a4b5c6d7e8f9|4793742120069879836|goodreads_reviews_dedup.json.gz|1" {
		t.Fatalf("user keys: %v", keys)
	}
	if n := query(t, db, `SELECT count(*)::VARCHAR FROM read_parquet('`+res.SourceKeys["reviews"]+`')`); n[0] != "6" {
		t.Fatalf("review keys: %v", n)
	}
	noScratch(t, filepath.Join(dir, "out"))
}

func TestCollisionQuarantined(t *testing.T) {
	dir := t.TempDir()
	// Two review keys with the same first 62 bits: the same derived id.
	first := "f0e1d2c3b4a5968778695a4b3c2d1e0f"
	second := "f0e1d2c3b4a59687" + "0000000000000000"
	third := "f0e1d2c3b4a59686" + "ffffffffffffffff" // differs in the 2 low bits of the first 16 digits only
	lines := []string{
		reviewLine(),
		reviewLine(first, second),
		reviewLine(first, third, `"rating": 4`, `"rating": 1`),
		reviewLine(first, hexKey("0009")),
	}
	srcs := []transform.Source{source(t, dir, "goodreads_reviews_dedup.json", strings.Join(lines, "\n"), false)}
	db := openEngine(t)
	res, err := transform.Run(context.Background(), db, srcs, transform.Options{WorkDir: filepath.Join(dir, "out"), MaxRejectRatio: 0.9})
	if err != nil {
		t.Fatal(err)
	}
	er := res.Entities["reviews"]
	if got := ledger(er); got != (grpipe.Ledger{Read: 4, Rejected: 2, Superseded: 0, Staged: 2}) {
		t.Fatalf("ledger %+v", got)
	}
	if got := query(t, db, `SELECT review_rating::VARCHAR FROM read_parquet('`+er.Parquet+`') WHERE review_id = 8951032562640840097`); len(got) != 1 || got[0] != "4.0" {
		t.Fatalf("the first key's row must stay: %v", got)
	}
	rejects := query(t, db, `SELECT concat_ws('|', line, column_name, raw, reason) FROM read_parquet('`+er.Rejects+`') ORDER BY line`)
	if len(rejects) != 2 || !strings.HasPrefix(rejects[0], "2|review_id|"+second+"|ucsd key "+second+" maps to id 8951032562640840097, already taken by key "+first) ||
		!strings.HasPrefix(rejects[1], "3|review_id|"+third) {
		t.Fatalf("rejects %v", rejects)
	}
	if keys := query(t, db, `SELECT source_key FROM read_parquet('`+res.SourceKeys["reviews"]+`') ORDER BY line`); len(keys) != 2 || keys[0] != first {
		t.Fatalf("keys %v", keys)
	}
	// The users of the colliding lines still load (one user).
	if got := ledger(res.Entities["users"]); got != (grpipe.Ledger{Read: 4, Superseded: 3, Staged: 1}) {
		t.Fatalf("users %+v", got)
	}
	noScratch(t, filepath.Join(dir, "out"))
}

// noScratch fails t when the transform left clean or keys files in dir
// (only its Parquet and quarantine files are read after it).
func noScratch(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		if strings.HasSuffix(e.Name(), ".tsv") || strings.HasSuffix(e.Name(), ".keys") {
			t.Errorf("scratch file %s left in the work dir", e.Name())
		}
	}
	if len(names) == 0 {
		t.Errorf("the work dir is empty: the Parquet files are missing")
	}
}

func TestExportBatch(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("../libexport/testdata/export24.csv")
	if err != nil {
		t.Fatal(err)
	}
	content := string(data) + "90000003,Bad Row,Someone,,,,,9,,,,,,,,2020/01/01,,,read,,,,1,0\n" // rating 9: rejected
	srcs := []transform.Source{source(t, dir, "goodreads_library_export.user-12345.csv", content, false)}
	db := openEngine(t)
	res, err := transform.Run(context.Background(), db, srcs, transform.Options{WorkDir: filepath.Join(dir, "out"), MaxRejectRatio: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]grpipe.Ledger{
		"reviews": {Read: 3, Rejected: 1, Staged: 2},
		"users":   {Read: 2, Superseded: 1, Staged: 1},
		"books":   {Read: 2, Staged: 2},
		"authors": {Read: 2, Superseded: 1, Staged: 1},
	}
	for name, w := range want {
		if got := ledger(res.Entities[name]); got != w {
			t.Errorf("%s ledger %+v, want %+v", name, got, w)
		}
	}
	got := query(t, db, `SELECT concat_ws('|', user_id, review_rating, review_text, review_added_date, record_create_timestamp, review_read_count) FROM read_parquet('`+res.Entities["reviews"].Parquet+`') ORDER BY book_id`)
	if len(got) != 2 || got[0] != "12345|4.0|Slow start, lovely ending. Would reread.|2018-11-30 00:00:00|2018-11-30 00:00:00|1" {
		t.Fatalf("reviews %v", got)
	}
	if got := query(t, db, `SELECT concat_ws('|', name, record_create_timestamp) FROM read_parquet('`+res.Entities["authors"].Parquet+`')`); len(got) != 1 || got[0] != "Mara Quill|1970-01-01 00:00:00" {
		t.Fatalf("authors %v", got)
	}
	if r := query(t, db, `SELECT concat_ws('|', line, column_name, reason) FROM read_parquet('`+res.Entities["reviews"].Rejects+`')`); len(r) != 1 || r[0] != "4|review_rating|review_rating 9 out of range [0, 5]" {
		t.Fatalf("rejects %v", r)
	}
	noScratch(t, filepath.Join(dir, "out"))
}

func TestFormatFileRefused(t *testing.T) {
	dir := t.TempDir()
	var many strings.Builder
	for i := 0; i < 3000; i++ {
		many.WriteString(reviewLine() + "\n")
	}
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(many.String()))
	w.Close()
	truncated := filepath.Join(dir, "goodreads_reviews_dedup.json.gz")
	os.WriteFile(truncated, b.Bytes()[:b.Len()/2], 0o644)
	in, _ := grpipe.InputForFile(truncated)
	mostlyBad := source(t, dir, "goodreads_book_authors.json", ucsdAuthor+"\nnot json\nnot json\n", false)
	db := openEngine(t)
	res, err := transform.Run(context.Background(), db, []transform.Source{
		{Entity: in.Entity, Input: in, Name: "goodreads_reviews_dedup.json.gz", Path: truncated}, mostlyBad,
	}, transform.Options{WorkDir: filepath.Join(dir, "out"), MaxRejectRatio: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.FileErrors) != 2 {
		t.Fatalf("%d files refused", len(res.FileErrors))
	}
	for _, fe := range res.FileErrors {
		if !errors.Is(fe, grpipe.ErrBadInput) {
			t.Fatalf("%v", fe)
		}
		switch fe.Source {
		case "goodreads_reviews_dedup.json.gz":
			if !strings.Contains(fe.Reason, "ends early") {
				t.Errorf("truncated: %s", fe.Reason)
			}
		default:
			if !strings.Contains(fe.Reason, "2 of 3 records rejected") {
				t.Errorf("bound: %s", fe.Reason)
			}
		}
	}
	if res.RejectFiles["goodreads_book_authors.json"] == "" {
		t.Fatal("the refused file's rejects are not kept for the quarantine zone")
	}
}
