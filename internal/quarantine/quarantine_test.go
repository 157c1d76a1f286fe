package quarantine_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/objstore"
	"github.com/grpipe/grpipe/internal/objstore/s3test"
	"github.com/grpipe/grpipe/internal/quarantine"
)

var rows = []quarantine.Row{
	{SourceFile: "reviews.csv", Line: 2, Column: "review_id", Reason: "not an integer", Raw: "x,1,2"},
	{SourceFile: "reviews.csv", Line: 7, Column: "", Reason: "expected 15 fields as in the header, found 3", Raw: "not,a,review"},
	{SourceFile: "reviews.csv", Line: 9, Column: "review_text", Reason: "not valid UTF-8", Raw: "a \"quoted\", comma\nand a newline, ümlaut \uFFFD"},
}

func write(t *testing.T, rows []quarantine.Row) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := quarantine.NewWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestWriterFormat(t *testing.T) {
	got := string(write(t, rows[:2]))
	want := "source_file,line,column_name,reason,raw\n" +
		"reviews.csv,2,review_id,not an integer,\"x,1,2\"\n" +
		"reviews.csv,7,,\"expected 15 fields as in the header, found 3\",\"not,a,review\"\n"
	if got != want {
		t.Fatalf("file\n%s\nwant\n%s", got, want)
	}
}

func TestRoundTrip(t *testing.T) {
	r, err := quarantine.NewReader(bytes.NewReader(write(t, rows)))
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Page(0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, rows) {
		t.Fatalf("read %+v\nwant %+v", got, rows)
	}
}

// TestLegacyHeader: files written before column_name was the column's name
// (header "column") read the same, and so do files with the columns in
// another order.
func TestLegacyHeader(t *testing.T) {
	for name, file := range map[string]string{
		"column":    "source_file,line,column,reason,raw\nreviews.csv,2,review_id,not an integer,\"x,1,2\"\n",
		"reordered": "raw,reason,column_name,line,source_file\n\"x,1,2\",not an integer,review_id,2,reviews.csv\n",
	} {
		t.Run(name, func(t *testing.T) {
			r, err := quarantine.NewReader(strings.NewReader(file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.Page(0, 10)
			if err != nil || !reflect.DeepEqual(got, rows[:1]) {
				t.Fatalf("read %+v, %v; want %+v", got, err, rows[:1])
			}
		})
	}
}

func TestReaderRefuses(t *testing.T) {
	for name, tc := range map[string]struct{ file, says string }{
		"empty":          {"", "the file is empty"},
		"missing column": {"source_file,line,reason,raw\n", "no column_name column"},
		"bad line":       {"source_file,line,column_name,reason,raw\nr.csv,two,,why,raw\n", `line number "two"`},
		"short record":   {"source_file,line,column_name,reason,raw\nr.csv,2,,why\n", "wrong number of fields"},
	} {
		t.Run(name, func(t *testing.T) {
			r, err := quarantine.NewReader(strings.NewReader(tc.file))
			if err == nil {
				_, err = r.Page(0, 10)
			}
			if !errors.Is(err, quarantine.ErrFormat) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("err %v, want ErrFormat saying %q", err, tc.says)
			}
		})
	}
}

func TestPage(t *testing.T) {
	var many []quarantine.Row
	for i := range 25 {
		many = append(many, quarantine.Row{SourceFile: "user.csv", Line: int64(i + 2), Reason: "why", Raw: fmt.Sprint(i)})
	}
	file := write(t, many)
	for _, tc := range []struct{ offset, limit, first, n int }{
		{0, 10, 0, 10}, {10, 10, 10, 10}, {20, 10, 20, 5}, {25, 10, 0, 0}, {100, 10, 0, 0}, {3, 0, 0, 0},
	} {
		r, err := quarantine.NewReader(bytes.NewReader(file))
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.Page(tc.offset, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != tc.n || (tc.n > 0 && !reflect.DeepEqual(got, many[tc.first:tc.first+tc.n])) {
			t.Errorf("Page(%d, %d) = %d rows %+v, want rows %d..%d", tc.offset, tc.limit, len(got), got, tc.first, tc.first+tc.n)
		}
	}
	r, _ := quarantine.NewReader(bytes.NewReader(file))
	if _, err := r.Page(-1, 10); err == nil {
		t.Error("a negative offset was accepted")
	}
}

// endless is a quarantine file of as many rows as asked for, made as it is
// read; it counts the bytes read from it.
type endless struct {
	rows, next int
	pending    []byte
	read       int64
}

func (e *endless) Read(p []byte) (int, error) {
	for len(e.pending) == 0 {
		if e.next > e.rows {
			return 0, io.EOF
		}
		if e.next == 0 {
			e.pending = []byte("source_file,line,column_name,reason,raw\n")
		} else {
			e.pending = fmt.Appendf(nil, "reviews.csv,%d,review_id,not an integer,%q\n", e.next+1, strings.Repeat("x", 1000))
		}
		e.next++
	}
	n := copy(p, e.pending)
	e.pending = e.pending[n:]
	e.read += int64(n)
	return n, nil
}

// TestPageStreams: a page of a 1 GB file reads the rows it returns (and
// those it skips), not the file.
func TestPageStreams(t *testing.T) {
	src := &endless{rows: 1_000_000}
	r, err := quarantine.NewReader(src)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Page(5, 10)
	if err != nil || len(got) != 10 || got[0].Line != 7 || got[9].Line != 16 {
		t.Fatalf("page %d rows (first line %v), %v", len(got), got, err)
	}
	if src.read > 64<<10 {
		t.Fatalf("read %d bytes of the file for 15 rows of 1 kB", src.read)
	}
}

func TestNames(t *testing.T) {
	if got := quarantine.FileName("reviews-b2.csv"); got != "reviews-b2.csv.rejects.csv" {
		t.Errorf("FileName = %q", got)
	}
	if s, ok := quarantine.SourceOf("reviews-b2.csv.rejects.csv"); !ok || s != "reviews-b2.csv" {
		t.Errorf("SourceOf = %q, %v", s, ok)
	}
	for _, name := range []string{"reviews.rejected.parquet", ".rejects.csv", "_manifest.json"} {
		if _, ok := quarantine.SourceOf(name); ok {
			t.Errorf("SourceOf(%q) took it for a quarantine file", name)
		}
	}
	if got := quarantine.Key("manual__1", "user.csv"); got != "quarantine/manual__1/user.csv.rejects.csv" {
		t.Errorf("Key = %q", got)
	}
	if got := quarantine.ParquetKey("manual__1", "users"); got != "quarantine/manual__1/users.rejected.parquet" {
		t.Errorf("ParquetKey = %q", got)
	}
	if got := quarantine.ColumnNames(); !reflect.DeepEqual(got, []string{"source_file", "line", "column_name", "reason", "raw"}) {
		t.Errorf("ColumnNames = %v", got)
	}
}

// putRun stores quarantine files of run r1 (two tries) and of another run.
func putRun(t *testing.T, zones *objstore.Store) {
	t.Helper()
	ctx := context.Background()
	rowsOf := func(source string, lines ...int64) []byte {
		var rs []quarantine.Row
		for _, l := range lines {
			rs = append(rs, quarantine.Row{SourceFile: source, Line: l, Reason: "why", Raw: "raw"})
		}
		return write(t, rs)
	}
	for key, body := range map[string][]byte{
		quarantine.Key("r1", "reviews.csv"):        rowsOf("reviews.csv", 2, 3, 4),
		quarantine.Key("r1", "user.csv"):           rowsOf("user.csv", 5),
		quarantine.Key("r1_try2", "reviews-b.csv"): rowsOf("reviews-b.csv", 6, 7),
		quarantine.Key("r10", "reviews.csv"):       rowsOf("reviews.csv", 99), // another run
		quarantine.ParquetKey("r1", "reviews"):     []byte("PAR1 not read"),
		// a file of an earlier version, header "column"
		quarantine.Key("r1_try3", "book.csv"): []byte("source_file,line,column,reason,raw\nbook.csv,8,book_id,why,raw\n"),
	} {
		if err := zones.PutBytes(ctx, key, body); err != nil {
			t.Fatal(err)
		}
	}
}

func lines(rs []quarantine.EntityRow) string {
	var b []string
	for _, r := range rs {
		b = append(b, fmt.Sprintf("%s:%s:%d", r.Entity, r.SourceFile, r.Line))
	}
	return strings.Join(b, " ")
}

func testRunRows(t *testing.T, zones *objstore.Store) {
	ctx := context.Background()
	for _, tc := range []struct {
		entity        string
		offset, limit int
		want          string
	}{
		{"", 0, 100, "reviews:reviews.csv:2 reviews:reviews.csv:3 reviews:reviews.csv:4 users:user.csv:5 reviews:reviews-b.csv:6 reviews:reviews-b.csv:7 books:book.csv:8"},
		{"", 0, 2, "reviews:reviews.csv:2 reviews:reviews.csv:3"},
		{"", 2, 3, "reviews:reviews.csv:4 users:user.csv:5 reviews:reviews-b.csv:6"},
		{"", 6, 3, "books:book.csv:8"},
		{"", 7, 3, ""},
		{"reviews", 0, 100, "reviews:reviews.csv:2 reviews:reviews.csv:3 reviews:reviews.csv:4 reviews:reviews-b.csv:6 reviews:reviews-b.csv:7"},
		{"reviews", 3, 1, "reviews:reviews-b.csv:6"},
		{"users", 0, 100, "users:user.csv:5"},
		{"authors", 0, 100, ""},
	} {
		got, err := quarantine.RunRows(ctx, zones, "r1", tc.entity, tc.offset, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		if lines(got) != tc.want {
			t.Errorf("RunRows(r1, %q, %d, %d) = %q, want %q", tc.entity, tc.offset, tc.limit, lines(got), tc.want)
		}
	}
	if _, err := quarantine.RunRows(ctx, zones, "r1", "", -1, 10); !errors.Is(err, grpipe.ErrBadInput) {
		t.Errorf("negative offset: %v, want bad input", err)
	}
}

func TestRunRowsLocal(t *testing.T) {
	dir := t.TempDir()
	zones, err := objstore.Open(context.Background(), "file://"+filepath.ToSlash(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer zones.Close()
	putRun(t, zones)
	testRunRows(t, zones)
	if _, err := os.Stat(filepath.Join(dir, "quarantine", "r1", "reviews.csv.rejects.csv")); err != nil {
		t.Fatal(err)
	}
}

// TestRunRowsS3 reads the quarantine files from an S3-protocol server, with
// transfers cut midway: the reads resume.
func TestRunRowsS3(t *testing.T) {
	srv := s3test.Start(t, "lake")
	zones, err := objstore.Open(context.Background(), srv.ZonesURL("lake", "zones")+"&max_backoff=20ms")
	if err != nil {
		t.Fatal(err)
	}
	defer zones.Close()
	putRun(t, zones)
	testRunRows(t, zones)
	big := make([]quarantine.Row, 5000)
	for i := range big {
		big[i] = quarantine.Row{SourceFile: "author.csv", Line: int64(i + 2), Reason: "why", Raw: strings.Repeat("r", 200)}
	}
	if err := zones.PutBytes(context.Background(), quarantine.Key("r2", "author.csv"), write(t, big)); err != nil {
		t.Fatal(err)
	}
	srv.CutNext(2)
	defer srv.ClearFaults()
	got, err := quarantine.RunRows(context.Background(), zones, "r2", "", 4990, 100)
	if err != nil || len(got) != 10 || got[9].Line != 5001 {
		t.Fatalf("after cut transfers: %d rows, %v", len(got), err)
	}
}

// TestScanRunRows checks that the scan reads every row as the reader does
// (quoted fields with commas, quotes, line breaks, CRLF, empty fields, a
// file of an earlier version's header), and that counting rows with it
// allocates nothing per row.
func TestScanRunRows(t *testing.T) {
	ctx := context.Background()
	zones, err := objstore.Open(ctx, "file://"+filepath.ToSlash(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer zones.Close()
	putRun(t, zones)
	var tricky []quarantine.Row
	for i, raw := range []string{"a,b", `say "hi"`, "line\nbreak", "cr\r\nlf", "", " lead", "trail ", `"`, ",", "\r"} {
		tricky = append(tricky, quarantine.Row{SourceFile: fmt.Sprintf("reviews-%d,\"x\".csv", i%3), Line: int64(i + 2), Column: raw,
			Reason: fmt.Sprintf("reason \"%d\",\n%s", i, raw), Raw: raw})
	}
	if err := zones.PutBytes(ctx, quarantine.Key("r1_try4", "reviews-z.csv"), write(t, tricky)); err != nil {
		t.Fatal(err)
	}
	want, err := quarantine.RunRows(ctx, zones, "r1", "", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []quarantine.EntityRow
	if err := quarantine.ScanRunRows(ctx, zones, "r1", func(entity string, v *quarantine.RowView) error {
		r, err := v.Row()
		if string(v.SourceFile()) != r.SourceFile || string(v.Reason()) != r.Reason {
			t.Errorf("the view's fields %q %q differ from its row's %+v", v.SourceFile(), v.Reason(), r)
		}
		got = append(got, quarantine.EntityRow{Entity: entity, Row: r})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) || len(got) != 17 {
		t.Errorf("scan:\n%+v\nrows:\n%+v", got, want)
	}

	big := make([]quarantine.Row, 20000)
	for i := range big {
		big[i] = quarantine.Row{SourceFile: "author.csv", Line: int64(i + 2), Reason: "expected 8 fields as in the header, found 3", Raw: strings.Repeat("r,\"", 60)}
	}
	if err := zones.PutBytes(ctx, quarantine.Key("r3", "author.csv"), write(t, big)); err != nil {
		t.Fatal(err)
	}
	n := 0
	allocs := testing.AllocsPerRun(3, func() {
		n = 0
		if err := quarantine.ScanRunRows(ctx, zones, "r3", func(_ string, v *quarantine.RowView) error {
			if len(v.Reason()) > 0 {
				n++
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	})
	if n != 20000 || allocs > 200 {
		t.Errorf("scanned %d rows with %.0f allocations; want 20000 rows and a few allocations, not one per row", n, allocs)
	}
	stop := errors.New("stop")
	if err := quarantine.ScanRunRows(ctx, zones, "r3", func(string, *quarantine.RowView) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("a callback's error: %v", err)
	}
	if err := zones.PutBytes(ctx, quarantine.Key("r4", "book.csv"), []byte("source_file,line,column_name,reason,raw\nbook.csv,2,x,\"open")); err != nil {
		t.Fatal(err)
	}
	if err := quarantine.ScanRunRows(ctx, zones, "r4", func(string, *quarantine.RowView) error { return nil }); !errors.Is(err, quarantine.ErrFormat) {
		t.Errorf("an unclosed quote: %v, want ErrFormat", err)
	}
}
