package bookgraph

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	grpipe "github.com/grpipe/grpipe"
)

func TestHashedIDVectors(t *testing.T) {
	for key, want := range map[string]int64{
		"0a1b2c3d4e5f60718293a4b5c6d7e8f9": 4793742120069879836,
		"f0e1d2c3b4a5968778695a4b3c2d1e0f": 8951032562640840097,
		"F0E1D2C3B4A5968778695A4B3C2D1E0F": 8951032562640840097,
		"00000000000000000000000000000000": 1 << 62,
		"ffffffffffffffffffffffffffffffff": 1<<63 - 1,
	} {
		got, err := HashedID([]byte(key))
		if err != nil || got != want {
			t.Errorf("HashedID(%s) = %d, %v; want %d", key, got, err, want)
		}
	}
	for _, key := range []string{"", "0a1b", "0a1b2c3d4e5f60718293a4b5c6d7e8fg", "0a1b2c3d4e5f60718293a4b5c6d7e8f9a", " a1b2c3d4e5f60718293a4b5c6d7e8f9"} {
		if _, err := HashedID([]byte(key)); !errors.Is(err, ErrHashedID) {
			t.Errorf("HashedID(%q): %v, want ErrHashedID", key, err)
		}
	}
}

func TestGoodreadsTime(t *testing.T) {
	for in, want := range map[string]string{
		"Sun Jul 30 07:44:10 -0700 2017": "2017-07-30 14:44:10",
		"Tue Oct 03 23:30:00 -0800 2017": "2017-10-04 07:30:00",
		"Tue Oct  3 23:30:00 +0000 2017": "2017-10-03 23:30:00",
		"Tue Oct 3 23:30:00 +0530 2017":  "2017-10-03 18:00:00",
		"Sun Dec 31 20:00:00 -0500 2017": "2018-01-01 01:00:00",
	} {
		got, ok := goodreadsTime([]byte(in))
		if !ok || string(AppendTimestamp(nil, got)) != want {
			t.Errorf("goodreadsTime(%q) = %v, %v; want %s", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "2017-07-30", "Sun Jul 30 07:44:10 2017", "Sun Jxl 30 07:44:10 -0700 2017",
		"Sun Feb 30 07:44:10 -0700 2017", "Sun Jul 30 25:44:10 -0700 2017", "Sun Jul 30 07:44:10 -0700 17", "Xyz Jul 30 07:44:10 -0700 2017"} {
		if _, ok := goodreadsTime([]byte(in)); ok {
			t.Errorf("goodreadsTime(%q) accepted", in)
		}
	}
	if got := string(AppendGoodreadsTime(nil, time.Date(2018, 11, 30, 0, 0, 0, 0, time.UTC))); got != "Fri Nov 30 00:00:00 +0000 2018" {
		t.Errorf("AppendGoodreadsTime = %q", got)
	}
}

// readAll reads every record of data in format, returning copies.
func readAll(t *testing.T, data []byte, opts Options) ([]grpipe.InputRecord, error) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(data), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []grpipe.InputRecord
	var rec grpipe.InputRecord
	for r.Next(&rec) {
		out = append(out, copyRecord(rec))
	}
	return out, r.Err()
}

func copyRecord(rec grpipe.InputRecord) grpipe.InputRecord {
	c := grpipe.InputRecord{Line: rec.Line, Raw: bytes.Clone(rec.Raw), Column: rec.Column, Reason: rec.Reason}
	for _, row := range rec.Rows {
		f := make([][]byte, len(row.Fields))
		for i, v := range row.Fields {
			if v != nil {
				f[i] = bytes.Clone(v)
			}
		}
		c.Rows = append(c.Rows, grpipe.InputRow{Entity: row.Entity, Fields: f})
	}
	for _, k := range rec.Keys {
		k.Key = bytes.Clone(k.Key)
		c.Keys = append(c.Keys, k)
	}
	return c
}

// field is a row's value of column name; "NULL" for nil.
func field(t *testing.T, row grpipe.InputRow, name string) string {
	t.Helper()
	v := row.Fields[col(row.Entity, name)]
	if v == nil {
		return "NULL"
	}
	return string(v)
}

func check(t *testing.T, row grpipe.InputRow, want map[string]string) {
	t.Helper()
	for name, w := range want {
		if got := field(t, row, name); got != w {
			t.Errorf("%s.%s = %q, want %q", row.Entity.Name, name, got, w)
		}
	}
	if len(row.Fields) != len(row.Entity.Columns) {
		t.Errorf("%s row has %d fields for %d columns", row.Entity.Name, len(row.Fields), len(row.Entity.Columns))
	}
}

func testdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReviews(t *testing.T) {
	for _, compressed := range []bool{false, true} {
		data := testdata(t, "reviews.json")
		if compressed {
			data = gz(t, data)
		}
		recs, err := readAll(t, data, Options{Format: grpipe.FormatUCSDReviews})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 2 || recs[0].Reason != "" || recs[1].Reason != "" {
			t.Fatalf("records: %+v", recs)
		}
		r := recs[0]
		if r.Line != 1 || len(r.Rows) != 2 || r.Rows[0].Entity.Name != "reviews" || r.Rows[1].Entity.Name != "users" {
			t.Fatalf("record 1: line %d, rows %v", r.Line, r.Rows)
		}
		check(t, r.Rows[0], map[string]string{
			"review_id": "8951032562640840097", "user_id": "4793742120069879836", "book_id": "90000001", "author_id": "NULL",
			"review_text": "Slow start, lovely ending. \n Would read the sequel.", "review_rating": "4", "review_votes": "3",
			"spoiler_flag": "false", "spoiler_state": "NULL", "review_added_date": "Sun Jul 30 07:44:10 -0700 2017",
			"review_updated_date": "Wed Aug 30 00:00:26 -0700 2017", "review_read_count": "NULL", "comments_count": "0",
			"review_url": "NULL", "record_create_timestamp": "2017-08-30 07:00:26",
		})
		check(t, r.Rows[1], map[string]string{"user_id": "4793742120069879836", "user_name": "NULL", "has_image": "NULL",
			"location": "NULL", "record_create_timestamp": "2017-12-01 00:00:00"})
		if len(r.Keys) != 2 || string(r.Keys[0].Key) != "f0e1d2c3b4a5968778695a4b3c2d1e0f" || r.Keys[0].Entity != "reviews" ||
			r.Keys[0].ID != 8951032562640840097 || r.Keys[1].Entity != "users" || r.Keys[1].Source != grpipe.SourceUCSD {
			t.Fatalf("keys: %+v", r.Keys)
		}
		check(t, recs[1].Rows[0], map[string]string{"spoiler_flag": "true", "review_rating": "0", "record_create_timestamp": "2017-11-14 02:22:40"})
	}
}

func TestSpoiler(t *testing.T) {
	recs, err := readAll(t, testdata(t, "spoiler.json"), Options{Format: grpipe.FormatUCSDSpoiler})
	if err != nil || len(recs) != 1 || recs[0].Reason != "" {
		t.Fatalf("%v %+v", err, recs)
	}
	check(t, recs[0].Rows[0], map[string]string{"review_id": "8951032562640840097", "spoiler_flag": "true",
		"review_text": "Slow start, lovely ending. The keeper drew the map himself.", "record_create_timestamp": "2017-08-30 00:00:00",
		"review_added_date": "NULL"})
}

func TestBooksAndAuthors(t *testing.T) {
	snap := time.Date(2017, 10, 1, 12, 0, 0, 0, time.UTC)
	recs, err := readAll(t, testdata(t, "books.json"), Options{Format: grpipe.FormatUCSDBooks, Snapshot: snap})
	if err != nil || len(recs) != 2 {
		t.Fatalf("%v %+v", err, recs)
	}
	check(t, recs[0].Rows[0], map[string]string{"book_id": "90000001", "title": "The Quiet Sea (Lanterns, #1)",
		"title_without_series": "The Quiet Sea", "book_url": "https://www.goodreads.com/book/show/90000001-the-quiet-sea",
		"num_pages": "288", "format": "Paperback", "edition_information": "", "publisher": "Harbor & Pine",
		"publication_day": "14", "publication_month": "3", "publication_year": "2011", "published": "2011",
		"average_rating": "3.87", "ratings_count": "154", "authors": "9000001",
		"description":             "A lighthouse keeper finds a map that redraws the coast.",
		"record_create_timestamp": "2017-10-01 12:00:00"})
	check(t, recs[1].Rows[0], map[string]string{"book_id": "90000002", "num_pages": "", "published": "", "authors": "9000001",
		"book_url": "https://www.goodreads.com/book/show/90000002.Tide_Tables"})
	if len(recs[0].Keys) != 0 {
		t.Fatalf("books have real ids, no source keys: %+v", recs[0].Keys)
	}

	recs, err = readAll(t, testdata(t, "authors.json"), Options{Format: grpipe.FormatUCSDAuthors})
	if err != nil || len(recs) != 2 {
		t.Fatalf("%v %+v", err, recs)
	}
	check(t, recs[0].Rows[0], map[string]string{"author_id": "9000001", "name": "Mara Quill", "role": "NULL", "profile_url": "NULL",
		"average_rating": "3.91", "rating_count": "512", "text_review_count": "41", "record_create_timestamp": "2017-12-01 00:00:00"})
	check(t, recs[1].Rows[0], map[string]string{"name": "Ivo  Penn é"})
}

const goodReview = `{"user_id": "0a1b2c3d4e5f60718293a4b5c6d7e8f9", "book_id": "90000001", "review_id": "f0e1d2c3b4a5968778695a4b3c2d1e0f", "rating": 4, "review_text": "ok", "date_added": "Sun Jul 30 07:44:10 -0700 2017", "date_updated": "Wed Aug 30 00:00:26 -0700 2017", "read_at": "", "started_at": "", "n_votes": 3, "n_comments": 0}`

// review returns goodReview with the replacements applied (old, new pairs).
func review(repl ...string) string { return strings.NewReplacer(repl...).Replace(goodReview) }

func TestBadReviewLines(t *testing.T) {
	cases := []struct {
		name, line, column, reason string
	}{
		{"not JSON", `this is not json`, "", "not a JSON object"},
		{"a JSON array", `[1, 2]`, "", "not a JSON object"},
		{"cut in the middle", goodReview[:100], "", "cut short"},
		{"cut inside a string", goodReview[:60], "", "ends inside a string"},
		{"two objects", goodReview + goodReview, "", "text after the end"},
		{"trailing comma", review(`, "n_comments": 0}`, `, "n_comments": 0,}`), "", "a key in quotes"},
		{"bad escape", review(`"ok"`, `"o\k"`), "", `unknown escape \k`},
		{"raw control character", review(`"ok"`, "\"o\x01k\""), "", "control character"},
		{"non-hex review id", review("f0e1d2c3b4a5968778695a4b3c2d1e0f", "z0e1d2c3b4a5968778695a4b3c2d1e0f"), "review_id", "not a hex digit"},
		{"short user id", review("0a1b2c3d4e5f60718293a4b5c6d7e8f9", "0a1b"), "user_id", "4 characters"},
		{"empty review id", review("f0e1d2c3b4a5968778695a4b3c2d1e0f", ""), "review_id", "it is empty"},
		{"null review id", review(`"f0e1d2c3b4a5968778695a4b3c2d1e0f"`, "null"), "review_id", "review_id is null"},
		{"missing review id", review(`"review_id": "f0e1d2c3b4a5968778695a4b3c2d1e0f", `, ""), "review_id", "review_id is missing"},
		{"numeric user id", review(`"0a1b2c3d4e5f60718293a4b5c6d7e8f9"`, "12"), "user_id", "user_id is a number"},
		{"missing book id", review(`"book_id": "90000001", `, ""), "book_id", "book_id is missing"},
		{"empty book id", review(`"90000001"`, `""`), "book_id", "book_id is empty"},
		{"rating is a list", review(`"rating": 4`, `"rating": [4]`), "review_rating", "rating is an array"},
		{"text is an object", review(`"ok"`, `{"a": 1}`), "review_text", "review_text is an object"},
		{"bad date_updated", review("Wed Aug 30 00:00:26 -0700 2017", "2017-08-30"), "review_updated_date", "is not a date like"},
		{"bad date_added without date_updated", review(`"Wed Aug 30 00:00:26 -0700 2017"`, `""`, "Sun Jul 30", "Sun Jxl 30"), "review_added_date", "is not a date like"},
		{"number with a leading zero", review(`"n_votes": 3`, `"n_votes": 03`), "", "not valid JSON"},
		{"nested too deep", review(`"started_at": ""`, `"started_at": `+strings.Repeat("[", 70)+strings.Repeat("]", 70)), "", "nested more than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			recs, err := readAll(t, []byte(c.line+"\n"+goodReview+"\n"), Options{Format: grpipe.FormatUCSDReviews})
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 2 {
				t.Fatalf("%d records", len(recs))
			}
			bad := recs[0]
			if bad.Reason == "" || !strings.Contains(bad.Reason, c.reason) || bad.Column != c.column || len(bad.Rows) != 0 || len(bad.Keys) != 0 {
				t.Fatalf("got column %q reason %q rows %d, want column %q reason containing %q", bad.Column, bad.Reason, len(bad.Rows), c.column, c.reason)
			}
			if bad.Line != 1 || string(bad.Raw) != c.line {
				t.Fatalf("line %d raw %q", bad.Line, bad.Raw)
			}
			if recs[1].Reason != "" || recs[1].Line != 2 {
				t.Fatalf("the next line is not read whole: %+v", recs[1])
			}
		})
	}
}

// Lenient cases: the line loads, with the documented value.
func TestLenientReviewLines(t *testing.T) {
	cases := []struct {
		name, line string
		want       map[string]string
	}{
		{"unknown key ignored", review(`"n_comments": 0`, `"n_comments": 0, "shelf": {"x": [1, true, null]}`), map[string]string{"comments_count": "0"}},
		{"missing optional key", review(`"n_votes": 3, `, ""), map[string]string{"review_votes": "NULL"}},
		{"null text", review(`"ok"`, "null"), map[string]string{"review_text": "NULL"}},
		{"rating as a string", review(`"rating": 4`, `"rating": "4"`), map[string]string{"review_rating": "4"}},
		{"rating out of range passes to validation", review(`"rating": 4`, `"rating": 7`), map[string]string{"review_rating": "7"}},
		{"escapes decoded", review(`"ok"`, `"caf\u00e9 \"x\" \ud83d\ude00 \ud800 a\/b"`), map[string]string{"review_text": "café \"x\" 😀 \uFFFD a/b"}},
		{"no date_updated: date_added", review(`"Wed Aug 30 00:00:26 -0700 2017"`, `""`), map[string]string{"record_create_timestamp": "2017-07-30 14:44:10"}},
		{"no dates: snapshot", review(`"date_added": "Sun Jul 30 07:44:10 -0700 2017", "date_updated": "Wed Aug 30 00:00:26 -0700 2017", `, ""), map[string]string{"record_create_timestamp": "2017-12-01 00:00:00", "review_added_date": "NULL"}},
		{"duplicate key: last wins", review(`"rating": 4`, `"rating": 4, "rating": 2`), map[string]string{"review_rating": "2"}},
		{"white space around", " \t" + goodReview + " \r", map[string]string{"review_rating": "4"}},
		{"upper-case hex key", review("f0e1d2c3b4a5968778695a4b3c2d1e0f", "F0E1D2C3B4A5968778695A4B3C2D1E0F"), map[string]string{"review_id": "8951032562640840097"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			recs, err := readAll(t, []byte(c.line), Options{Format: grpipe.FormatUCSDReviews})
			if err != nil || len(recs) != 1 {
				t.Fatalf("%v %d records", err, len(recs))
			}
			if recs[0].Reason != "" {
				t.Fatalf("rejected: %s %s", recs[0].Column, recs[0].Reason)
			}
			check(t, recs[0].Rows[0], c.want)
			if string(recs[0].Keys[0].Key) != "f0e1d2c3b4a5968778695a4b3c2d1e0f" {
				t.Fatalf("key %q not lower case", recs[0].Keys[0].Key)
			}
		})
	}
}

func TestBadBookAndAuthorLines(t *testing.T) {
	book := string(bytes.SplitN(testdata(t, "books.json"), []byte("\n"), 2)[0])
	cases := []struct {
		name   string
		format grpipe.Format
		line   string
		column string
		reason string
	}{
		{"book without id", grpipe.FormatUCSDBooks, strings.Replace(book, `"book_id": "90000001", `, "", 1), "book_id", "book_id is missing"},
		{"authors not a list", grpipe.FormatUCSDBooks, strings.Replace(book, `"authors": [`, `"authors": "x", "a": [`, 1), "authors", "authors is a string"},
		{"authors of strings", grpipe.FormatUCSDBooks, strings.Replace(book, `"authors": [`, `"authors": ["1", `, 1), "authors", "not a list of"},
		{"title is a list", grpipe.FormatUCSDBooks, strings.Replace(book, `"title": "The Quiet Sea (Lanterns, #1)"`, `"title": ["a"]`, 1), "title", "title is an array"},
		{"author id null", grpipe.FormatUCSDAuthors, `{"author_id": null, "name": "x"}`, "author_id", "author_id is null"},
		{"author name object", grpipe.FormatUCSDAuthors, `{"author_id": "1", "name": {}}`, "name", "name is an object"},
		{"spoiler sentences wrong", grpipe.FormatUCSDSpoiler, strings.Replace(string(testdata(t, "spoiler.json")), `[[0, "Slow`, `[["0", "Slow`, 1), "review_text", "not a list of [flag, sentence] pairs"},
		{"spoiler bad date", grpipe.FormatUCSDSpoiler, strings.Replace(string(testdata(t, "spoiler.json")), `2017-08-30`, `2017-02-30`, 1), "record_create_timestamp", "not a date"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			recs, err := readAll(t, []byte(c.line), Options{Format: c.format})
			if err != nil || len(recs) != 1 {
				t.Fatalf("%v %d records", err, len(recs))
			}
			if !strings.Contains(recs[0].Reason, c.reason) || recs[0].Column != c.column {
				t.Fatalf("got %q %q, want %q %q", recs[0].Column, recs[0].Reason, c.column, c.reason)
			}
		})
	}
	// Lenient book values: empty authors list, author ids as numbers, link missing.
	line := strings.Replace(strings.Replace(book, `"link": "https://www.goodreads.com/book/show/90000001-the-quiet-sea", `, "", 1),
		`[{"author_id": "9000001", "role": ""}, {"author_id": "9000002", "role": "Illustrator"}]`, `[{"role": "", "author_id": 9000003}]`, 1)
	recs, _ := readAll(t, []byte(line+"\n"+strings.Replace(book, `"authors": [{"author_id": "9000001", "role": ""}, {"author_id": "9000002", "role": "Illustrator"}]`, `"authors": []`, 1)), Options{Format: grpipe.FormatUCSDBooks})
	if len(recs) != 2 || recs[0].Reason != "" || recs[1].Reason != "" {
		t.Fatalf("%+v", recs)
	}
	check(t, recs[0].Rows[0], map[string]string{"authors": "9000003", "book_url": "https://www.goodreads.com/book/show/90000001-the-quiet-sea"})
	check(t, recs[1].Rows[0], map[string]string{"authors": "NULL"})
}

func TestLinesAndFraming(t *testing.T) {
	// Blank lines are not records but count as lines; CRLF and a last line
	// without '\n' read; a long review text (5 MB) reads whole.
	long := strings.Repeat("word ", 1<<20)
	data := "\n" + goodReview + "\r\n\n  \n" + review(`"ok"`, `"`+long+`"`) + "\n" + goodReview
	recs, err := readAll(t, gz(t, []byte(data)), Options{Format: grpipe.FormatUCSDReviews})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[0].Line != 2 || recs[1].Line != 5 || recs[2].Line != 6 {
		t.Fatalf("lines: %d records", len(recs))
	}
	for _, r := range recs {
		if r.Reason != "" {
			t.Fatalf("line %d rejected: %s", r.Line, r.Reason)
		}
	}
	if got := field(t, recs[1].Rows[0], "review_text"); got != long {
		t.Fatalf("long text: %d bytes, want %d", len(got), len(long))
	}

	// A line over the bound is rejected without being held whole.
	recs, err = readAll(t, []byte(goodReview+"\n"+review(`"ok"`, `"`+long+`"`)+"\n"+goodReview), Options{Format: grpipe.FormatUCSDReviews, MaxLineBytes: 1 << 20})
	if err != nil || len(recs) != 3 || recs[0].Reason != "" || recs[2].Reason != "" || recs[2].Line != 3 {
		t.Fatalf("%v %+v", err, recs)
	}
	if !strings.Contains(recs[1].Reason, "longer than 1048576 bytes") || len(recs[1].Raw) != 1<<20 {
		t.Fatalf("long line: %q, raw %d bytes", recs[1].Reason, len(recs[1].Raw))
	}
}

func TestDamagedGzip(t *testing.T) {
	var many strings.Builder
	for range 20000 {
		many.WriteString(goodReview + "\n")
	}
	full := gz(t, []byte(many.String()))
	t.Run("truncated", func(t *testing.T) {
		recs, err := readAll(t, full[:len(full)/2], Options{Format: grpipe.FormatUCSDReviews})
		if !errors.Is(err, grpipe.ErrBadInput) || !strings.Contains(err.Error(), "ends early") {
			t.Fatalf("err %v", err)
		}
		if len(recs) == 0 || len(recs) >= 20000 {
			t.Fatalf("%d records before the truncation", len(recs))
		}
	})
	t.Run("no trailer", func(t *testing.T) {
		_, err := readAll(t, full[:len(full)-4], Options{Format: grpipe.FormatUCSDReviews})
		if !errors.Is(err, grpipe.ErrBadInput) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("corrupt", func(t *testing.T) {
		bad := bytes.Clone(full)
		for i := 100; i < 200; i++ {
			bad[i] ^= 0x5a
		}
		_, err := readAll(t, bad, Options{Format: grpipe.FormatUCSDReviews})
		if !errors.Is(err, grpipe.ErrBadInput) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("bad header", func(t *testing.T) {
		_, err := NewReader(bytes.NewReader([]byte{0x1f, 0x8b, 0, 0}), Options{Format: grpipe.FormatUCSDReviews})
		if !errors.Is(err, grpipe.ErrBadInput) {
			t.Fatalf("err %v", err)
		}
	})
}

func TestCloseEarly(t *testing.T) {
	var many strings.Builder
	for range 50000 {
		many.WriteString(goodReview + "\n")
	}
	r, err := NewReader(bytes.NewReader(gz(t, []byte(many.String()))), Options{Format: grpipe.FormatUCSDReviews})
	if err != nil {
		t.Fatal(err)
	}
	var rec grpipe.InputRecord
	if !r.Next(&rec) {
		t.Fatal("no record")
	}
	r.Close() // must not hang with the inflating goroutine blocked
	r.Close()
	if r.BytesRead() == 0 {
		t.Fatal("no bytes counted")
	}
}
