package bookgraph

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	grpipe "github.com/grpipe/grpipe"
)

var fuzzFormats = []grpipe.Format{grpipe.FormatUCSDReviews, grpipe.FormatUCSDSpoiler, grpipe.FormatUCSDBooks, grpipe.FormatUCSDAuthors}

func addSeeds(f *testing.F) {
	for i, name := range []string{"reviews.json", "spoiler.json", "books.json", "authors.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(i), false)
		f.Add(b, uint8(i), true)
		for _, line := range bytes.Split(b, []byte("\n")) {
			if len(line) > 40 {
				f.Add(line[:len(line)/2], uint8(i), false)
			}
		}
	}
	f.Add([]byte(`{"a": [1, -0.5e+3, true, false, null, {"b": "\u00e9\ud83d\ude00\n"}]}`), uint8(0), false)
	f.Add([]byte("{\"review_id\": \"\\ud800\"}\n\n{}\r\n"), uint8(0), false)
}

// FuzzReader checks, for any input, that the reader never fails or hangs,
// that every record either yields rows of the right width or a reason, that
// line numbers increase, and that gzip framing changes nothing.
func FuzzReader(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, format uint8, compress bool) {
		opts := Options{Format: fuzzFormats[int(format)%len(fuzzFormats)], MaxLineBytes: 1 << 16}
		in := data
		if compress {
			in = gz(t, data)
		}
		r, err := NewReader(bytes.NewReader(in), opts)
		if err != nil {
			if compress {
				t.Fatalf("a gzip we wrote is refused: %v", err)
			}
			return // a plain input that starts like gzip
		}
		defer r.Close()
		var rec grpipe.InputRecord
		last := int64(0)
		n := 0
		for r.Next(&rec) {
			n++
			if rec.Line <= last {
				t.Fatalf("line %d after line %d", rec.Line, last)
			}
			last = rec.Line
			if rec.Reason == "" {
				if len(rec.Rows) == 0 {
					t.Fatalf("line %d: neither rows nor a reason", rec.Line)
				}
				for _, row := range rec.Rows {
					if len(row.Fields) != len(row.Entity.Columns) {
						t.Fatalf("line %d: %s row of %d fields", rec.Line, row.Entity.Name, len(row.Fields))
					}
					if row.Fields[0] == nil {
						t.Fatalf("line %d: %s row without an id", rec.Line, row.Entity.Name)
					}
				}
				for _, k := range rec.Keys {
					if k.ID < 1<<62 || len(k.Key) != 32 {
						t.Fatalf("line %d: key %+v", rec.Line, k)
					}
				}
				if !json.Valid(rec.Raw) {
					t.Fatalf("line %d accepted, but encoding/json finds it invalid: %q", rec.Line, rec.Raw)
				}
			} else if len(rec.Rows) != 0 || len(rec.Keys) != 0 {
				t.Fatalf("line %d rejected with rows", rec.Line)
			}
		}
		if compress && r.Err() != nil {
			t.Fatalf("a gzip we wrote reads with an error: %v", r.Err())
		}
		if r.Err() == nil && int64(n) > r.Lines() {
			t.Fatalf("%d records from %d lines", n, r.Lines())
		}
	})
}

// FuzzJSONSyntax compares the line parser's verdict with encoding/json's on
// any input: an object one accepts, the other accepts, and the values of
// known keys agree with encoding/json's decoding.
func FuzzJSONSyntax(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, _ uint8, _ bool) {
		var p parser
		vals := make([]value, len(reviewKeys))
		ok := p.object(data, vals, reviewSlot)
		var m map[string]any
		err := json.Unmarshal(data, &m)
		isObject := err == nil && m != nil
		if ok != isObject {
			// encoding/json also accepts what this parser refuses only in one
			// case: nesting deeper than maxDepth.
			if !ok && isObject && bytes.Count(data, []byte("["))+bytes.Count(data, []byte("{")) > maxDepth {
				return
			}
			t.Fatalf("parser ok=%v (%s), encoding/json object=%v (%v) for %q", ok, p.err, isObject, err, data)
		}
		if !ok {
			return
		}
		for i, key := range reviewKeys {
			want, present := m[key]
			v := vals[i]
			if !present {
				if v.kind != absent {
					t.Fatalf("%s: found %v, encoding/json finds no such key", key, v.kind)
				}
				continue
			}
			if s, isString := want.(string); isString {
				if v.kind != jString || validPerByte(v.b) != s {
					t.Fatalf("%s: %q (%v), encoding/json %q", key, v.b, v.kind, s)
				}
			}
		}
	})
}

// validPerByte replaces each invalid UTF-8 byte by U+FFFD, as encoding/json does.
func validPerByte(b []byte) string {
	var sb strings.Builder
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			sb.WriteRune(utf8.RuneError)
		} else {
			sb.Write(b[:n])
		}
		b = b[n:]
	}
	return sb.String()
}
