package transform

import (
	"bytes"
	"encoding/csv"
	"log/slog"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/sample"
)

func TestAppendValue(t *testing.T) {
	text := grpipe.Column{Name: "t", Type: grpipe.Text}
	htmlText := grpipe.Column{Name: "review_text", Type: grpipe.Text, HTML: true}
	id := grpipe.Column{Name: "review_id", Type: grpipe.BigInt, Required: true}
	num := grpipe.Column{Name: "review_votes", Type: grpipe.Int}
	small := grpipe.Column{Name: "publication_day", Type: grpipe.SmallInt}
	rating := grpipe.Column{Name: "review_rating", Type: grpipe.Double}
	dbl := grpipe.Column{Name: "average_rating", Type: grpipe.Double}
	flag := grpipe.Column{Name: "has_image", Type: grpipe.Boolean}
	rct := grpipe.Column{Name: "record_create_timestamp", Type: grpipe.Timestamp, Required: true}
	grts := grpipe.Column{Name: "review_added_date", Type: grpipe.GoodreadsTS}

	tests := []struct {
		name    string
		col     grpipe.Column
		in      string
		want    string
		wantErr bool
	}{
		{"text kept", text, "Chicago, IL", "Chicago, IL", false},
		{"text collapsed", text, "  a \t b\r\n\nc  ", "a b c", false},
		{"text empty is null", text, "", "", false},
		{"text only spaces", text, "   ", "", false},
		{"text invalid utf8", text, "a\xffb", "", true},
		{"html tags removed", htmlText, "THIS <b>book</b> &amp; that", "THIS book & that", false},
		{"html br separates", htmlText, "Cycle<br />Darkness", "Cycle Darkness", false},
		{"html numeric entities", htmlText, "can&#8217;t &#x41;", "can\u2019t A", false},
		{"html lone lt kept", htmlText, "a < b", "a < b", false},
		{"html encoded tag stays text", htmlText, "&lt;b&gt;", "<b>", false},
		{"html nbsp collapses", htmlText, "a&nbsp;&nbsp;b", "a b", false},
		{"plain text keeps entities", text, "a &amp; b", "a &amp; b", false},
		{"id", id, "3198455651", "3198455651", false},
		{"id spaces trimmed", id, " 42 ", "42", false},
		{"id empty", id, "", "", true},
		{"id not integer", id, "12a", "", true},
		{"id negative", id, "-5", "", true},
		{"id out of range", id, "99999999999999999999", "", true},
		{"int out of range", num, "3000000000", "", true},
		{"smallint out of range", small, "70000", "", true},
		{"int empty null", num, "", "", false},
		{"rating", rating, "4", "4", false},
		{"rating out of range", rating, "7", "", true},
		{"rating negative", rating, "-1", "", true},
		{"double", dbl, "4.12", "4.12", false},
		{"double nan", dbl, "NaN", "", true},
		{"double inf", dbl, "Inf", "", true},
		{"double hex", dbl, "0x1p3", "", true},
		{"double junk", dbl, "four", "", true},
		{"bool false", flag, "false", "false", false},
		{"bool python", flag, "True", "true", false},
		{"bool junk", flag, "maybe", "", true},
		{"ts micros", rct, "2020-02-19 21:38:16.690535", "2020-02-19 21:38:16.690535", false},
		{"ts no fraction", rct, "2020-02-19 21:38:16", "2020-02-19 21:38:16.000000", false},
		{"ts short fraction", rct, "2020-02-19 21:38:16.5", "2020-02-19 21:38:16.500000", false},
		{"ts T and Z", rct, "2020-02-19T21:38:16Z", "2020-02-19 21:38:16.000000", false},
		{"ts five-digit fraction and Z", rct, "2020-02-19 21:38:16.69053Z", "2020-02-19 21:38:16.690530", false},
		{"ts canonical kept", rct, "2020-02-19 21:38:16.690535", "2020-02-19 21:38:16.690535", false},
		{"ts offset", rct, "2020-02-19T23:38:16+02:00", "2020-02-19 21:38:16.000000", false},
		{"ts bad day", rct, "2020-02-30 21:38:16", "", true},
		{"ts junk", rct, "yesterday", "", true},
		{"ts empty required", rct, "", "", true},
		{"goodreads date", grts, "Wed Feb 19 18:36:17 -0800 2020", "2020-02-20 02:36:17", false},
		{"goodreads date positive offset", grts, "Thu Jan 01 01:30:00 +0200 2020", "2019-12-31 23:30:00", false},
		{"goodreads date leap day", grts, "Sat Feb 29 23:00:00 -0100 2020", "2020-03-01 00:00:00", false},
		{"goodreads date year end", grts, "Thu Dec 31 20:00:00 -0500 2020", "2021-01-01 01:00:00", false},
		{"goodreads date utc", grts, "Wed Feb 19 18:36:17 +0000 2020", "2020-02-19 18:36:17", false},
		{"goodreads date bad month", grts, "Wed Foo 19 18:36:17 -0800 2020", "", true},
		{"goodreads date iso", grts, "2020-02-19 18:36:17", "", true},
		{"goodreads date empty", grts, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, why := appendValue(nil, tt.col, []byte(tt.in))
			if (why != "") != tt.wantErr {
				t.Fatalf("appendValue(%q) reason %q, want error %v", tt.in, why, tt.wantErr)
			}
			if why == "" && string(got) != tt.want {
				t.Fatalf("appendValue(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// appendRowRef is rowCleaner.appendRow without its fast paths: every value
// through appendValue, the key and timestamp parsed back from the clean row.
func (c *rowCleaner) appendRowRef(dst []byte, fields [][]byte) (row []byte, id, ts int64, reason, column string) {
	for i, col := range c.cols {
		if i > 0 {
			dst = append(dst, '\t')
		}
		var in []byte
		if src := c.mapping[i]; src >= 0 {
			in = fields[src]
		}
		at := len(dst)
		var why string
		dst, why = appendValue(dst, col, in)
		if why != "" {
			return dst, 0, 0, why, col.Name
		}
		if c.predup {
			switch i {
			case c.keyCol:
				id = parseDigits(dst[at:])
			case c.tsCol:
				ts = packTimestamp(dst[at:])
			}
		}
	}
	return dst, id, ts, "", ""
}

// TestAppendRowFastPaths compares appendRow with appendRowRef on the rows
// of every entity's sample file, each value also replaced by variants that
// leave or miss the fast paths (spaces around, signs, leading zeros, bounds,
// timestamps off by one field, invalid UTF-8, HTML).
func TestAppendRowFastPaths(t *testing.T) {
	variants := []string{"", " ", "0", "00", "007", "-1", "+1", " 42", "42 ", "32767", "32768", "2147483647", "2147483648",
		"999999999999999999", "9223372036854775807", "9223372036854775808", "1.5", "true", "a\xffb", "<b>x</b>", "a  b", " é ",
		"2020-02-19 21:38:16.690956", "2020-02-30 21:38:16.690956", "2020-02-19 24:38:16.690956", "2020-02-19 21:60:16.690956",
		"2020-02-19 21:38:60.690956", "2020-13-19 21:38:16.690956", "1899-12-31 23:59:59.999999", "1900-01-01 00:00:00.000000",
		"2100-12-31 23:59:59.999999", "2101-01-01 00:00:00.000000", "2020-02-19T21:38:16.690956", "2020-02-19 21:38:16.69095a",
		"2020-02-19 21:38:16.6909560", "2020-02-19 21:38:16.690956Z", "2024-02-29 00:00:00.000000", "2023-02-29 00:00:00.000000",
		"2020-02-19 21:38:16", "Wed Feb 19 18:36:17 -0800 2020", "x020-02-19 21:38:16.690956",
		"Wed Feb 19 18:36:17 -0800 1899", "Mon Jan 01 00:30:00 +0100 1900", "Fri Dec 31 23:30:00 -0100 2100", " Wed Feb 19 18:36:17 -0800 2020",
		"Wed Feb 19 18:36:17 -0800 2020 ", "Wed Feb  9 18:36:17 -0800 2020", "Wed Feb 9 18:36:17 +1400 2020", "Wed Feb 19 18:3a:17 -0800 2020",
		"Wed Feb 19 18:36:17 -08a0 2020", "Wed Feb 19 18:36:17 -0800 20/0",
		"5", "6", "9", "5.0", "5.01", "4.99", "0.5", ".5", "5.", "05", "1e3", "0x1p3", "NaN", "Inf", "4..5", "4.5.", " 4.5", "4.5 ", "-0", "3,5"}
	rng := rand.New(rand.NewPCG(6, 14))
	for _, e := range grpipe.Entities() {
		data, err := sample.Bytes(e.FilePrefix + ".csv")
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		mapping, err := mapHeader(slog.New(slog.DiscardHandler), e, "sample", toBytes(recs[0]))
		if err != nil {
			t.Fatal(err)
		}
		c := newRowCleaner(e, mapping)
		for n := 0; n < 3000; n++ {
			fields := toBytes(recs[1+n%(len(recs)-1)])
			for k := rng.IntN(3); k > 0; k-- {
				fields[rng.IntN(len(fields))] = []byte(variants[rng.IntN(len(variants))])
			}
			got, gid, gts, gwhy, gcol := c.appendRow([]byte("x"), fields)
			want, wid, wts, wwhy, wcol := c.appendRowRef([]byte("x"), fields)
			if gwhy != wwhy || gcol != wcol || (wwhy == "" && (string(got) != string(want) || gid != wid || gts != wts)) {
				t.Fatalf("%s %q:\n got %q %d %d %q %q\nwant %q %d %d %q %q", e.Name, fields, got, gid, gts, gwhy, gcol, want, wid, wts, wwhy, wcol)
			}
		}
	}
}

func toBytes(rec []string) [][]byte {
	out := make([][]byte, len(rec))
	for i, s := range rec {
		out[i] = []byte(s)
	}
	return out
}

// TestAppendDec checks appendDec against strconv at the digit-count edges,
// with and without room in the buffer.
func TestAppendDec(t *testing.T) {
	vals := []int64{0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 12345, 99999999, 1 << 40, 4<<40 + 123456789, math.MaxInt64, -1, -10, math.MinInt64}
	for p := int64(1); p > 0 && p <= math.MaxInt64/10; p *= 10 {
		vals = append(vals, p-1, p, p+1, 10*p-1)
	}
	for _, v := range vals {
		for _, room := range []int{0, 19, 20, 64} {
			dst := make([]byte, 3, 3+room)
			copy(dst, "ab\t")
			if got, want := string(appendDec(dst, v)), "ab\t"+strconv.FormatInt(v, 10); got != want {
				t.Errorf("appendDec(%d) with room %d = %q, want %q", v, room, got, want)
			}
		}
	}
}

// TestCleanTimestamp compares cleanTimestamp with the general path
// (appendISOTimestamp, the year bounds, packTimestamp) on a clean
// timestamp with each byte replaced by every byte value.
func TestCleanTimestamp(t *testing.T) {
	rct := grpipe.Column{Name: grpipe.TimestampColumn, Type: grpipe.Timestamp, Required: true}
	for _, base := range []string{"2020-02-19 21:38:16.690956", "2024-02-29 23:59:59.999999", "1900-01-01 00:00:00.000000", "2100-12-31 23:59:59.000001"} {
		for i := 0; i < len(base); i++ {
			for c := 0; c < 256; c++ {
				in := []byte(base)
				in[i] = byte(c)
				packed, ok := cleanTimestamp(in)
				out, why := appendValue(nil, rct, in)
				wantOK := why == "" && string(out) == string(in)
				if ok != wantOK || ok && packed != packTimestamp(out) {
					t.Fatalf("cleanTimestamp(%q) = %d, %v; appendValue gives %q %q (packed %d)", in, packed, ok, out, why, packTimestamp(out))
				}
			}
		}
		// Two neighbouring bytes replaced: a byte that is not a digit
		// must not make its neighbour's check pass (the digits are checked
		// eight bytes at a time).
		odd := []byte{0, 0x09, ' ', '-', '.', '/', '0', '5', '9', ':', ';', '?', 'A', 0x7f, 0x80, 0xc3, 0xf0, 0xf9, 0xfa, 0xff}
		for i := 0; i+1 < len(base); i++ {
			for _, a := range odd {
				for _, b := range odd {
					in := []byte(base)
					in[i], in[i+1] = a, b
					packed, ok := cleanTimestamp(in)
					out, why := appendValue(nil, rct, in)
					wantOK := why == "" && string(out) == string(in)
					if ok != wantOK || ok && packed != packTimestamp(out) {
						t.Fatalf("cleanTimestamp(%q) = %d, %v; appendValue gives %q %q", in, packed, ok, out, why)
					}
				}
			}
		}
	}
}
