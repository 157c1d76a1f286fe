package pipeline_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/config"
	"github.com/grpipe/grpipe/internal/sample"
	"github.com/grpipe/grpipe/internal/testsupport"
	"github.com/grpipe/grpipe/internal/transform"
)

const goodReview = "3198455651,76206467,13667,874602,text,5,0,false,none,Wed Feb 19 18:36:17 -0800 2020,Wed Feb 19 18:36:52 -0800 2020,1,0,https://x,2030-01-01 00:00:00"

// TestBadRowsQuarantined appends one broken row of each kind to the real
// reviews file: the row lands in quarantine with its file, line and reason,
// and every good row is loaded.
func TestBadRowsQuarantined(t *testing.T) {
	cases := []struct {
		name   string
		row    string
		reason string
		column string
	}{
		{"too few fields", "1,2,3", "expected 15 fields as in the header, found 3", ""},
		{"too many fields", goodReview + ",extra", "found 16", ""},
		{"id not an integer", strings.Replace(goodReview, "3198455651", "abc", 1), `review_id "abc" is not an integer`, "review_id"},
		{"id out of range", strings.Replace(goodReview, "3198455651", "99999999999999999999", 1), "out of range", "review_id"},
		{"id missing", strings.Replace(goodReview, "3198455651", "", 1), "review_id is empty", "review_id"},
		{"date does not parse", strings.Replace(goodReview, "Wed Feb 19 18:36:17 -0800 2020", "19/02/2020", 1), "review_added_date", "review_added_date"},
		{"timestamp does not parse", strings.Replace(goodReview, "2030-01-01 00:00:00", "not-a-time", 1), "record_create_timestamp", "record_create_timestamp"},
		{"number does not parse", strings.Replace(goodReview, ",5,0,false", ",five,0,false", 1), `review_rating "five" is not a number`, "review_rating"},
		{"rating out of range", strings.Replace(goodReview, ",5,0,false", ",9,0,false", 1), "out of range [0, 5]", "review_rating"},
		{"boolean does not parse", strings.Replace(goodReview, "false,none", "nope,none", 1), "spoiler_flag", "spoiler_flag"},
		{"unterminated quote", strings.Replace(goodReview, ",text,", `,"text,`, 1), "unterminated quoted field", ""},
		{"text after closing quote", strings.Replace(goodReview, ",text,", `,"text"x,`, 1), "after a closing quote", ""},
		{"invalid UTF-8", strings.Replace(goodReview, ",text,", ",t\xffxt,", 1), "not valid UTF-8", "review_text"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := testsupport.NewHome(t, nil)
			reviews := testsupport.SampleText(t, "reviews.csv")
			badLine := strings.Count(reviews, "\n") + 1
			h.Land([2]string{"reviews.csv", reviews + tc.row + "\n"})
			sum := h.Run()
			// Only reviews were landed: the other warehouse tables are empty,
			// so the row-count checks fail; the ETL itself must succeed.
			if sum.Tasks[1].State != grpipe.StateSuccess {
				t.Fatalf("ETL task %s: %s", sum.Tasks[1].State, sum.Tasks[1].Error)
			}
			l := sum.Tables["reviews"]
			if l.Read != 501 || l.Rejected != 1 || l.Staged != 60 || !l.Balanced() {
				t.Fatalf("ledger %+v, want 501 read, 1 rejected, 60 staged", l)
			}
			got := h.Query("SELECT run_id, entity, source_file, line, column_name, reason, raw FROM goodreads_quality.rejected_rows")
			if len(got) != 1 {
				t.Fatalf("rejected_rows %v, want one row", got)
			}
			r := got[0]
			if r[0] != sum.RunID || r[1] != "reviews" || r[2] != "reviews.csv" || r[3] != itoa(badLine) {
				t.Errorf("rejected row %v: want run %s, reviews, reviews.csv, line %d", r[:4], sum.RunID, badLine)
			}
			if !strings.Contains(r[5], tc.reason) {
				t.Errorf("reason %q, want it to mention %q", r[5], tc.reason)
			}
			if tc.column != "" && r[4] != tc.column {
				t.Errorf("column %q, want %q", r[4], tc.column)
			}
			if !strings.HasPrefix(r[6], strings.ToValidUTF8(strings.SplitN(tc.row, "\n", 2)[0][:5], "\uFFFD")) {
				t.Errorf("raw %q does not hold the row's text", r[6])
			}
			q, err := h.App.Zones.ReadAll(context.Background(), "quarantine/"+sum.RunID+"/reviews.csv.rejects.csv")
			if err != nil || !strings.Contains(string(q), "reviews.csv,"+itoa(badLine)+",") {
				t.Errorf("quarantine file: %v\n%s", err, q)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestFileOverRejectBound: a file whose rejected share exceeds the bound is
// not loaded at all, the run fails naming the file, the count and the bound,
// and the file stays in working; the other files load.
func TestFileOverRejectBound(t *testing.T) {
	h := testsupport.NewHome(t, nil)
	reviews := testsupport.SampleText(t, "reviews.csv")
	bad := strings.Repeat("x,y\n", 10)
	h.Land([2]string{"reviews.csv", reviews + bad}, [2]string{"user.csv", testsupport.SampleText(t, "user.csv")})
	sum := h.Run()
	if sum.State != grpipe.StateFailed {
		t.Fatalf("run %s, want failed", sum.State)
	}
	for _, want := range []string{"reviews.csv", "10 of 510 rows rejected", "1.00%", "max_reject_ratio", "working/" + sum.RunID} {
		if !strings.Contains(sum.Error, want) {
			t.Errorf("error %q does not mention %q", sum.Error, want)
		}
	}
	if n := h.Count("goodreads_warehouse.reviews"); n != 0 {
		t.Errorf("%d reviews loaded from a refused file", n)
	}
	if n := h.Count("goodreads_warehouse.users"); n != 56 {
		t.Errorf("%d users loaded, want 56: the other files must load", n)
	}
	if _, err := h.App.Zones.Stat(context.Background(), "working/"+sum.RunID+"/reviews.csv"); err != nil {
		t.Errorf("refused file not kept in working: %v", err)
	}
	if l := sum.Tables["reviews"]; l != (grpipe.Ledger{}) {
		t.Errorf("refused file counted in the ledger: %+v", l)
	}
	// The next run leaves the held file alone and does not fail on it again.
	h.LandSample()
	next := h.Run()
	h.MustSucceed(next)
	if _, err := h.App.Zones.Stat(context.Background(), "working/"+sum.RunID+"/reviews.csv"); err != nil {
		t.Errorf("held file gone after the next run: %v", err)
	}
}

func TestRaisedBoundAcceptsFile(t *testing.T) {
	h := testsupport.NewHome(t, func(c *config.Config) { c.MaxRejectRatio = 0.05 })
	h.Land([2]string{"reviews.csv", testsupport.SampleText(t, "reviews.csv") + strings.Repeat("x,y\n", 10)})
	sum := h.Run()
	if l := sum.Tables["reviews"]; l.Rejected != 10 || l.Staged != 60 {
		t.Fatalf("ledger %+v, want 10 rejected and 60 staged under a 5%% bound", l)
	}
}

func TestFileRefusedWhole(t *testing.T) {
	reviews := testsupport.SampleText(t, "reviews.csv")
	cases := []struct {
		name, content, want string
	}{
		{"missing required column", strings.Replace(reviews, "review_id,", "rid,", 1), "required column review_id missing"},
		{"empty file", "", "the file is empty"},
		{"duplicate column", strings.Replace(reviews, "user_id,book_id", "user_id,user_id", 1), `column "user_id" appears twice`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := testsupport.NewHome(t, nil)
			// Land through the zone API: `grpipe land` itself refuses files without the key column.
			if _, err := h.App.Zones.Put(context.Background(), "landing/reviews.csv", strings.NewReader(tc.content)); err != nil {
				t.Fatal(err)
			}
			sum := h.Run()
			if sum.State != grpipe.StateFailed || !strings.Contains(sum.Error, "reviews.csv") || !strings.Contains(sum.Error, tc.want) {
				t.Fatalf("run %s: %q, want a failure naming reviews.csv and %q", sum.State, sum.Error, tc.want)
			}
		})
	}
}

func TestHeaderVariationsLoadTheSame(t *testing.T) {
	base := testsupport.NewHome(t, nil)
	base.LandSample()
	base.MustSucceed(base.Run())
	want := base.Snapshot()

	reorder := func(csvText string) string {
		// Move the first column to the end of every line (no quoted newlines in the sample's user.csv).
		var out []string
		for _, line := range strings.Split(strings.TrimSuffix(csvText, "\n"), "\n") {
			i := strings.Index(line, ",")
			out = append(out, line[i+1:]+","+line[:i])
		}
		return strings.Join(out, "\n") + "\n"
	}
	cases := []struct {
		name string
		file string
		edit func(string) string
	}{
		{"bom and crlf", "book.csv", func(s string) string { return "\ufeff" + strings.ReplaceAll(s, "\n", "\r\n") }},
		{"columns in another order", "user.csv", reorder},
		{"unknown extra column", "author.csv", func(s string) string {
			lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
			for i := range lines {
				if i == 0 {
					lines[i] += ",extra_column"
				} else {
					lines[i] += ",whatever"
				}
			}
			return strings.Join(lines, "\n") + "\n"
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := testsupport.NewHome(t, nil)
			var files [][2]string
			for _, n := range sample.Names {
				text := testsupport.SampleText(t, n)
				if n == tc.file {
					text = tc.edit(text)
				}
				files = append(files, [2]string{n, text})
			}
			h.Land(files...)
			h.MustSucceed(h.Run())
			got := h.Snapshot()
			for table := range want {
				if len(got[table]) != len(want[table]) {
					t.Fatalf("%s: %d rows, want %d", table, len(got[table]), len(want[table]))
				}
				for i := range want[table] {
					if strings.Join(got[table][i], "|") != strings.Join(want[table][i], "|") {
						t.Fatalf("%s row %d:\n got %v\nwant %v", table, i, got[table][i], want[table][i])
					}
				}
			}
		})
	}
}

// TestLongFields: a 3 MiB text field (longer than DuckDB's default line
// limit) loads; a row over transform.MaxRowBytes is quarantined with a
// reason, and the run goes on.
func TestLongFields(t *testing.T) {
	h := testsupport.NewHome(t, func(c *config.Config) { c.MaxRejectRatio = 0.05 })
	reviews := testsupport.SampleText(t, "reviews.csv")
	long := strings.Replace(goodReview, ",text,", ","+strings.Repeat("x", 3<<20)+",", 1)
	tooLong := strings.Replace(strings.Replace(goodReview, "3198455651", "42", 1), ",text,", ","+strings.Repeat("y", transform.MaxRowBytes+10)+",", 1)
	h.Land([2]string{"reviews.csv", reviews + long + "\n" + tooLong + "\n"})
	sum := h.Run()
	if sum.Tasks[1].State != grpipe.StateSuccess {
		t.Fatalf("ETL task %s: %.300s", sum.Tasks[1].State, sum.Tasks[1].Error)
	}
	if l := sum.Tables["reviews"]; l.Read != 502 || l.Rejected != 1 || !l.Balanced() {
		t.Fatalf("ledger %+v, want 502 read and 1 rejected", l)
	}
	got := h.Query("SELECT length(review_text) FROM goodreads_warehouse.reviews WHERE review_id = 3198455651")
	if len(got) != 1 || got[0][0] != strconv.Itoa(3<<20) {
		t.Fatalf("the 3 MiB review was not loaded whole: %v", got)
	}
	rej := h.Query("SELECT line, reason FROM goodreads_quality.rejected_rows")
	if len(rej) != 1 || rej[0][0] != "503" || !strings.Contains(rej[0][1], "over the limit") {
		t.Fatalf("rejected rows %v, want line 503 over the row limit", rej)
	}
}
