package transform

import (
	"bytes"
	"encoding/csv"
	"testing"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/sample"
)

// sampleColumn returns every value of the named columns of a sample file:
// real inputs as seeds.
func sampleColumn(f *testing.F, file string, cols ...string) []string {
	f.Helper()
	b, err := sample.Bytes(file)
	if err != nil {
		f.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		f.Fatal(err)
	}
	var out []string
	for i, name := range recs[0] {
		for _, c := range cols {
			if name == c {
				for _, r := range recs[1:] {
					out = append(out, r[i])
				}
			}
		}
	}
	return out
}

// goodreadsLayouts are the forms of the Goodreads date the parser accepts:
// a two-digit, space-padded or one-digit day of the month.
var goodreadsLayouts = []string{"Mon Jan 02 15:04:05 -0700 2006", "Mon Jan _2 15:04:05 -0700 2006", "Mon Jan 2 15:04:05 -0700 2006"}

// FuzzGoodreadsTime checks the hand-written parser of "Wed Feb 19 18:36:17
// -0800 2020" against the standard library: what it accepts, time.Parse
// accepts, and both give the same instant in UTC; it accepts only offsets
// that exist (at most 14 hours, minutes below 60) and years 1 to 9999 in
// UTC; and it accepts every date written exactly as Goodreads writes them.
func FuzzGoodreadsTime(f *testing.F) {
	for _, s := range sampleColumn(f, "reviews.csv", "review_added_date", "review_updated_date") {
		f.Add(s)
	}
	for _, s := range []string{"Wed Feb 19 18:36:17 -0800 2020", "Sat Feb 29 23:00:00 -0100 2020", "Thu Dec 31 20:00:00 -0500 2020",
		"Mon Feb  3 01:00:00 +1400 2020", "Mon Feb 3 01:00:00 +0530 2020", "Wed Feb 19 18:36:17 +9999 2020", "Wed Feb 19 18:36:17 -0860 2020",
		"Fri Jan 01 00:00:00 +0100 0001", "Fri Dec 31 23:59:59 -1200 9999", "Wed Foo 19 18:36:17 -0800 2020", "Wed Feb 30 18:36:17 -0800 2020",
		"Wed Feb 19 24:00:00 -0800 2020", "2020-02-19 18:36:17", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, ok := appendGoodreadsTime(nil, []byte(in))
		var want string
		var parsed, canonical bool
		for _, layout := range goodreadsLayouts {
			if tm, err := time.Parse(layout, in); err == nil {
				canonical = tm.Format(layout) == in
				_, off := tm.Zone()
				if off > 14*3600 || off < -14*3600 || in[len(in)-7] >= '6' {
					continue // no place keeps such a time (time.Parse takes minute 60 of an offset)
				}
				want, parsed = tm.UTC().Format("2006-01-02 15:04:05"), true
				break
			}
		}
		if ok && !parsed {
			t.Fatalf("appendGoodreadsTime(%q) = %q, but time.Parse refuses it (or its offset does not exist)", in, got)
		}
		// A date in the exact form Goodreads writes must be accepted
		// (time.Parse also reads looser forms: "FeB", a one-digit hour).
		if !ok && parsed && canonical && tmYearOK(want) && validDayName(in) {
			t.Fatalf("appendGoodreadsTime(%q) refused a date time.Parse reads as %s", in, want)
		}
		if ok && string(got) != want {
			t.Fatalf("appendGoodreadsTime(%q) = %q, time.Parse gives %q", in, got, want)
		}
	})
}

// validDayName reports whether in starts with an English day name (time.Parse
// checks its form, not that it is one of seven).
func validDayName(in string) bool { return len(in) >= 3 && dayName([]byte(in[:3])) }

// tmYearOK reports whether a UTC result keeps a four-digit year from 0001
// to 9999 (a date at the edge shifted out of it by the offset is refused).
func tmYearOK(utc string) bool { return len(utc) == 19 && utc[:4] != "0000" }

// FuzzISOTimestamp checks the parser of record_create_timestamp against the
// standard library in the same way.
func FuzzISOTimestamp(f *testing.F) {
	for _, s := range sampleColumn(f, "reviews.csv", grpipe.TimestampColumn) {
		f.Add(s)
	}
	for _, s := range []string{"2020-02-19 21:38:16.690535", "2020-02-19T21:38:16Z", "2020-02-19T23:38:16+02:00", "2020-02-19 21:38:16.5",
		"2020-02-19 21:38:16.1234567", "2020-02-30 21:38:16", "2020-02-19 21:38:16+99:99", "0001-01-01 00:00:00+01:00", "9999-12-31 23:59:59-01:00",
		"2020-02-19 21:38:16+0200", "2020-02-19 21:38:16.", ""} {
		f.Add(s)
	}
	layouts := []string{"2006-01-02 15:04:05.999999999Z07:00", "2006-01-02T15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999-0700",
		"2006-01-02T15:04:05.999999999-0700", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999"}
	f.Fuzz(func(t *testing.T, in string) {
		got, ok := appendISOTimestamp(nil, []byte(in))
		if !ok {
			return
		}
		var want string
		for _, layout := range layouts {
			if tm, err := time.Parse(layout, in); err == nil {
				_, off := tm.Zone()
				if off > 14*3600 || off < -14*3600 {
					continue
				}
				want = tm.UTC().Truncate(time.Microsecond).Format("2006-01-02 15:04:05.000000")
				break
			}
		}
		if want == "" {
			t.Fatalf("appendISOTimestamp(%q) = %q, but time.Parse refuses it (or its offset does not exist)", in, got)
		}
		if string(got) != want {
			t.Fatalf("appendISOTimestamp(%q) = %q, time.Parse gives %q", in, got, want)
		}
	})
}

// The fuzz targets' first findings, kept as cases: a one-digit day was
// refused by a length check; offsets no place has, and dates shifted past
// year 9999 (printed as year 0000), were accepted.
func TestDateBounds(t *testing.T) {
	grts := grpipe.Column{Name: "review_added_date", Type: grpipe.GoodreadsTS}
	rct := grpipe.Column{Name: grpipe.TimestampColumn, Type: grpipe.Timestamp, Required: true}
	cases := []struct {
		name string
		col  grpipe.Column
		in   string
		want string // "" for a refusal
	}{
		{"one-digit day", grts, "Mon Feb 3 01:00:00 +0530 2020", "2020-02-02 19:30:00"},
		{"space-padded day", grts, "Mon Feb  3 01:00:00 +0530 2020", "2020-02-02 19:30:00"},
		{"UTC+14", grts, "Mon Feb 03 01:00:00 +1400 2020", "2020-02-02 11:00:00"},
		{"UTC-12", grts, "Mon Feb 03 01:00:00 -1200 2020", "2020-02-03 13:00:00"},
		{"offset +9999", grts, "Wed Feb 19 18:36:17 +9999 2020", ""},
		{"offset hours 15", grts, "Wed Feb 19 18:36:17 +1500 2020", ""},
		{"offset minutes 60", grts, "Wed Feb 19 18:36:17 -0860 2020", ""},
		{"past year 9999", grts, "Fri Dec 31 23:59:59 -1200 9999", ""},
		{"before year 1", grts, "Mon Jan 01 00:00:00 +0100 0001", ""},
		{"iso offset +99:99", rct, "2020-02-19 21:38:16+99:99", ""},
		{"iso offset +14:00", rct, "2020-02-19 21:38:16+14:00", "2020-02-19 07:38:16.000000"},
		{"iso past year 9999", rct, "9999-12-31 23:59:59-01:00", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, why := appendValue(nil, tc.col, []byte(tc.in))
			if tc.want == "" {
				if why == "" {
					t.Fatalf("%q accepted as %q", tc.in, got)
				}
				return
			}
			if why != "" || string(got) != tc.want {
				t.Fatalf("%q = %q (%s), want %q", tc.in, got, why, tc.want)
			}
		})
	}
}

// Defect 17: accept-but-suspicious values get a bound: a negative count,
// and a timestamp outside the years 1900 to 2100 (a version stamped 9999
// would win every later upsert of its id), reject their row.
func TestSuspiciousValues(t *testing.T) {
	votes := grpipe.Reviews.Columns[6]
	rct := grpipe.Column{Name: grpipe.TimestampColumn, Type: grpipe.Timestamp, Required: true}
	grts := grpipe.Column{Name: "review_added_date", Type: grpipe.GoodreadsTS}
	cases := []struct {
		name string
		col  grpipe.Column
		in   string
		ok   bool
	}{
		{"votes", votes, "12", true},
		{"negative votes", votes, "-3", false},
		{"timestamp 9999", rct, "9999-12-31 23:59:59", false},
		{"timestamp 1899", rct, "1899-12-31 23:59:59", false},
		{"timestamp 2100", rct, "2100-12-31 23:59:59", true},
		{"review date 9999", grts, "Fri Dec 31 23:59:59 +0000 9999", false},
		{"review date 2007", grts, "Mon Jan 01 00:00:00 +0000 2007", true},
	}
	if votes.Name != "review_votes" || !votes.NonNegative {
		t.Fatalf("column 6 of reviews is %+v", votes)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, why := appendValue(nil, tc.col, []byte(tc.in))
			if (why == "") != tc.ok {
				t.Fatalf("%q: reason %q, want ok=%v", tc.in, why, tc.ok)
			}
		})
	}
}

// A campaign's finding: "....00.1+0000" is as long as the clean form and
// was copied as it is, offset included, into the staging file.
func TestCleanTimestampFastPath(t *testing.T) {
	rct := grpipe.Column{Name: grpipe.TimestampColumn, Type: grpipe.Timestamp, Required: true}
	for in, want := range map[string]string{
		"2020-02-19 21:38:16.1+0000": "2020-02-19 21:38:16.100000",
		"2020-02-19 21:38:16.690535": "2020-02-19 21:38:16.690535",
		"2020-02-19 21:38:16.1-0100": "2020-02-19 22:38:16.100000",
	} {
		got, why := appendValue(nil, rct, []byte(in))
		if why != "" || string(got) != want {
			t.Errorf("%q = %q (%s), want %q", in, got, why, want)
		}
	}
}
