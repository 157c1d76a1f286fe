package libexport

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	grpipe "github.com/grpipe/grpipe"
)

func readAll(t testing.TB, data []byte, user int64) ([]grpipe.InputRecord, *Reader, error) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(data), Options{UserID: user})
	if err != nil {
		return nil, nil, err
	}
	var out []grpipe.InputRecord
	var rec grpipe.InputRecord
	for r.Next(&rec) {
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
		out = append(out, c)
	}
	return out, r, r.Err()
}

func field(row grpipe.InputRow, name string) string {
	v := row.Fields[col(row.Entity, name)]
	if v == nil {
		return "NULL"
	}
	return string(v)
}

func rowOf(t *testing.T, rec grpipe.InputRecord, entity string) grpipe.InputRow {
	t.Helper()
	for _, r := range rec.Rows {
		if r.Entity.Name == entity {
			return r
		}
	}
	t.Fatalf("line %d has no %s row", rec.Line, entity)
	return grpipe.InputRow{}
}

func check(t *testing.T, row grpipe.InputRow, want map[string]string) {
	t.Helper()
	for name, w := range want {
		if got := field(row, name); got != w {
			t.Errorf("%s.%s = %q, want %q", row.Entity.Name, name, got, w)
		}
	}
}

func TestDerivedID(t *testing.T) {
	a := DerivedID("reviews", grpipe.SourceExport, []byte("12345:90000001"))
	if a != DerivedID("reviews", grpipe.SourceExport, []byte("12345:90000001")) {
		t.Fatal("not deterministic")
	}
	if a < 1<<62 {
		t.Fatalf("%d below 2^62", a)
	}
	// A fixed vector, so that a change of the derivation (which would orphan
	// every id already in a warehouse) fails here.
	if a != 7087196204304115764 {
		t.Fatalf("DerivedID changed: %d", a)
	}
	if DerivedID("authors", grpipe.SourceExport, []byte("12345:90000001")) == a {
		t.Fatal("entities share ids")
	}
	if !bytes.Equal(AuthorKey([]byte(" Mara   Quill ")), AuthorKey([]byte("mara quill"))) || string(AuthorKey([]byte("Brinkmann &amp; Bose"))) != "brinkmann & bose" {
		t.Fatal("AuthorKey does not normalise")
	}
	for in, want := range map[string]string{`="0441013597"`: "0441013597", `=""`: "", "0441013597": "0441013597", `="`: `="`} {
		if got := string(Unwrap([]byte(in))); got != want {
			t.Errorf("Unwrap(%s) = %q, want %q", in, got, want)
		}
	}
}

func TestLayouts(t *testing.T) {
	for _, name := range []string{"export23.csv", "export24.csv", "export31.csv"} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			recs, r, err := readAll(t, data, 12345)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Unknown) != 0 {
				t.Fatalf("unknown columns in a published layout: %v", r.Unknown)
			}
			if len(recs) != 2 || recs[0].Line != 2 || recs[1].Line != 3 {
				t.Fatalf("%d records", len(recs))
			}
			for _, rec := range recs {
				if rec.Reason != "" {
					t.Fatalf("line %d rejected: %s", rec.Line, rec.Reason)
				}
				if len(rec.Rows) != 4 {
					t.Fatalf("line %d: %d rows", rec.Line, len(rec.Rows))
				}
			}
			reviewID := DerivedID("reviews", grpipe.SourceExport, []byte("12345:90000001"))
			authorID := DerivedID("authors", grpipe.SourceExport, []byte("mara quill"))
			rv := rowOf(t, recs[0], "reviews")
			check(t, rv, map[string]string{
				"review_id": strconv.FormatInt(reviewID, 10), "user_id": "12345", "book_id": "90000001",
				"author_id": strconv.FormatInt(authorID, 10), "review_rating": "4", "review_read_count": "1",
				"review_text": "Slow start, lovely ending.<br/><br/>Would reread.", "spoiler_flag": "false",
				"review_added_date": "Fri Nov 30 00:00:00 +0000 2018", "record_create_timestamp": "2018-11-30 00:00:00",
				"review_votes": "NULL", "comments_count": "NULL", "review_updated_date": "NULL",
			})
			bk := rowOf(t, recs[0], "books")
			avg := "3.87"
			if name == "export23.csv" {
				avg = "NULL"
			}
			check(t, bk, map[string]string{"book_id": "90000001", "title": "The Quiet Sea (Lanterns, #1)", "num_pages": "288",
				"format": "Paperback", "publisher": "Harbor & Pine", "publication_year": "2011", "published": "2011",
				"average_rating": avg, "authors": strconv.FormatInt(authorID, 10), "description": "NULL", "image_url": "NULL",
				"record_create_timestamp": "1970-01-01 00:00:00"})
			check(t, rowOf(t, recs[0], "authors"), map[string]string{"author_id": strconv.FormatInt(authorID, 10), "name": "Mara Quill",
				"record_create_timestamp": "1970-01-01 00:00:00"})
			check(t, rowOf(t, recs[0], "users"), map[string]string{"user_id": "12345", "user_name": "NULL", "has_image": "NULL",
				"record_create_timestamp": "1970-01-01 00:00:00"})
			// Row 2: "Mara  Quill" is the same author; rating 0, sparse book.
			check(t, rowOf(t, recs[1], "reviews"), map[string]string{"review_rating": "0", "author_id": strconv.FormatInt(authorID, 10),
				"review_text": "NULL", "record_create_timestamp": "2021-01-05 00:00:00"})
			check(t, rowOf(t, recs[1], "books"), map[string]string{"num_pages": "NULL", "publisher": "NULL", "format": "Kindle Edition"})
			if k := recs[0].Keys; len(k) != 2 || string(k[0].Key) != "12345:90000001" || k[0].ID != reviewID || string(k[1].Key) != "mara quill" || k[1].Entity != "authors" {
				t.Fatalf("keys %+v", k)
			}
		})
	}
}

const header = "Book Id,Title,Author,My Rating,Date Added,Number of Pages,Spoiler,My Review\n"

func TestBadRows(t *testing.T) {
	cases := []struct {
		name, row, column, reason string
	}{
		{"field count", "1,T,A,4,2018/11/30,10\n", "", "expected 8 fields as in the header, found 6"},
		{"book id not an integer", "x1,T,A,4,2018/11/30,10,,\n", "book_id", "not a Goodreads book id"},
		{"book id empty", ",T,A,4,2018/11/30,10,,\n", "book_id", "Book Id is empty"},
		{"bad date", "1,T,A,4,30/11/2018,10,,\n", "review_added_date", "not a date like 2018/11/30"},
		{"impossible date", "1,T,A,4,2018/02/30,10,,\n", "review_added_date", "not a date"},
		{"unterminated quote", "1,\"T,A,4,2018/11/30,10,,\n", "", "unterminated quoted field"},
		{"text after a quote", "1,\"T\"x,A,4,2018/11/30,10,,\n", "", "after a closing quote"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			recs, _, err := readAll(t, []byte(header+c.row+"2,T2,B,5,2018/12/01,,,ok\n"), 7)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 2 {
				t.Fatalf("%d records", len(recs))
			}
			if !strings.Contains(recs[0].Reason, c.reason) || recs[0].Column != c.column || len(recs[0].Rows) != 0 || recs[0].Line != 2 {
				t.Fatalf("got %q %q rows %d line %d, want %q %q", recs[0].Column, recs[0].Reason, len(recs[0].Rows), recs[0].Line, c.column, c.reason)
			}
			if recs[1].Reason != "" || recs[1].Line != 3 {
				t.Fatalf("next row: %+v", recs[1])
			}
		})
	}
	// Values the transform validates pass through as they are: a rating of 7,
	// pages "many", a spoiler flag "maybe".
	recs, _, _ := readAll(t, []byte(header+"1,T,,7,2018/11/30,many,maybe,\n"), 7)
	if recs[0].Reason != "" || len(recs[0].Rows) != 3 {
		t.Fatalf("%+v", recs[0])
	}
	check(t, rowOf(t, recs[0], "reviews"), map[string]string{"review_rating": "7", "spoiler_flag": "maybe", "author_id": "NULL"})
	check(t, rowOf(t, recs[0], "books"), map[string]string{"num_pages": "many", "authors": "NULL"})
}

func TestFramingAndRefusals(t *testing.T) {
	// BOM, CRLF, a review with a quoted newline, blank lines.
	data := "\xef\xbb\xbf" + strings.ReplaceAll(header, "\n", "\r\n") + "\r\n1,T,A,4,2018/11/30,10,,\"line one\r\nline two\"\r\n\r\n2,T,A,4,2018/11/30,10,,\r\n"
	recs, _, err := readAll(t, []byte(data), 7)
	if err != nil || len(recs) != 2 || recs[0].Line != 3 || recs[1].Line != 6 {
		t.Fatalf("%v %+v", err, recs)
	}
	check(t, rowOf(t, recs[0], "reviews"), map[string]string{"review_text": "line one\r\nline two"})

	for name, c := range map[string]struct {
		data string
		user int64
		want error
	}{
		"empty":        {"", 7, grpipe.ErrBadInput},
		"no Book Id":   {"Title,Author\nT,A\n", 7, ErrNoBookID},
		"twice":        {"Book Id,book id\n1,1\n", 7, grpipe.ErrBadInput},
		"no user":      {header, 0, grpipe.ErrExportUserID},
		"bad header":   {"Book Id,\"Title\n", 7, grpipe.ErrBadInput},
		"header only":  {header, 7, nil},
		"unknown cols": {"Book Id,Mood\n1,happy\n", 7, nil},
	} {
		t.Run(name, func(t *testing.T) {
			recs, r, err := readAll(t, []byte(c.data), c.user)
			if c.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if name == "unknown cols" && (len(r.Unknown) != 1 || r.Unknown[0] != "mood" || len(recs) != 1 || recs[0].Reason != "") {
					t.Fatalf("%v %+v", r.Unknown, recs)
				}
				return
			}
			if !errors.Is(err, c.want) || !errors.Is(err, grpipe.ErrBadInput) {
				t.Fatalf("err %v, want %v", err, c.want)
			}
		})
	}
	if _, err := NewReader(strings.NewReader(header+strings.Repeat("x", 100)), Options{UserID: 1, MaxBytes: 50}); !errors.Is(err, grpipe.ErrBadInput) {
		t.Fatalf("too large: %v", err)
	}
}

func FuzzExport(f *testing.F) {
	for _, name := range []string{"export23.csv", "export24.csv", "export31.csv"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(header + "1,\"T\"\"x\",A,4,2018/11/30,10,,\"a\nb\"\n\"2,T\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data), Options{UserID: 42})
		if err != nil {
			if !errors.Is(err, grpipe.ErrBadInput) {
				t.Fatalf("refusal is not ErrBadInput: %v", err)
			}
			return
		}
		var rec grpipe.InputRecord
		last := int64(1)
		for r.Next(&rec) {
			if rec.Line <= last {
				t.Fatalf("line %d after %d", rec.Line, last)
			}
			last = rec.Line
			if rec.Reason != "" {
				if len(rec.Rows) != 0 {
					t.Fatal("rejected with rows")
				}
				continue
			}
			if len(rec.Rows) < 3 {
				t.Fatalf("line %d: %d rows", rec.Line, len(rec.Rows))
			}
			for _, row := range rec.Rows {
				if len(row.Fields) != len(row.Entity.Columns) || row.Fields[0] == nil {
					t.Fatalf("line %d: bad %s row", rec.Line, row.Entity.Name)
				}
			}
			if !bytes.Contains(data, rec.Raw) {
				t.Fatalf("raw %q is not from the input", rec.Raw)
			}
		}
		if r.Lines() > int64(bytes.Count(data, []byte("\n"))+1) {
			t.Fatalf("%d lines from %d newlines", r.Lines(), bytes.Count(data, []byte("\n")))
		}
	})
}
