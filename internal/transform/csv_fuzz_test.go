package transform

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/quarantine"
	"github.com/grpipe/grpipe/internal/sample"
)

// csvSeeds are the seed inputs of the CSV fuzz targets: the rows of every
// sample file, and the broken rows the quarantine tests use.
func csvSeeds(f *testing.F) [][]byte {
	f.Helper()
	var seeds [][]byte
	for _, name := range sample.Names {
		b, err := sample.Bytes(name)
		if err != nil {
			f.Fatal(err)
		}
		lines := bytes.SplitAfter(b, []byte("\n"))
		for i := 1; i+3 <= len(lines) && i < 40; i += 3 {
			seeds = append(seeds, bytes.Join(lines[i:i+3], nil))
		}
	}
	for _, s := range []string{
		"1,a,b,2020-01-01 00:00:00\n", "1,\"a\nb\",c,2020-01-01 00:00:00\r\n2,x,y,2020-01-02 00:00:00\n",
		"1,\"open,x,2020-01-01 00:00:00\n2,b,c,2020-01-01 00:00:00\n", "1,\"q\"x,y,2020-01-01 00:00:00\n", "1,short\n",
		"\n\r\n1,a,b,2020-01-01 00:00:00", "1,\"tie \"\"q\"\"\",\"line\n2,not,a row,2020-01-01 00:00:09\",2020-01-01 00:00:03\n",
		"-1,a,b,2020-01-01 00:00:00\n", "1,a\xff,b,2020-01-01 00:00:00\n", "1,a,b,2020-02-30 00:00:00\n", "1,a,b,c\r2,a,b,c\r",
		"99999999999999999999,a,b,2020-01-01 00:00:00\n", "1,\"a\"\"\",b,2020-01-01 00:00:00\n", "\xef\xbb\xbf1,a,b,2020-01-01 00:00:00\n",
	} {
		seeds = append(seeds, []byte(s))
	}
	return seeds
}

// FuzzScanner checks the CSV scanner against encoding/csv: every text that
// encoding/csv reads strictly (RFC 4180) gives the same records, and no
// text makes the scanner lose or repeat bytes.
func FuzzScanner(f *testing.F) {
	for _, s := range csvSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var got [][]string
		s := newScanner(data)
		var r record
		last := -1
		failed := false
		for s.next(&r) {
			if r.at <= last || r.at < 0 || r.at > len(s.data) {
				t.Fatalf("record at %d after one at %d", r.at, last)
			}
			last = r.at
			if r.err != "" {
				failed = true
				continue
			}
			var rec []string
			for _, fl := range r.fields {
				rec = append(rec, string(fl))
			}
			got = append(got, rec)
		}
		cr := csv.NewReader(bytes.NewReader(trimBOM(data)))
		cr.FieldsPerRecord = -1
		want, err := cr.ReadAll()
		if err != nil || failed {
			return // encoding/csv refuses it, or the scanner quarantined a row: no oracle
		}
		// encoding/csv turns each \r\n inside a quoted field into \n; the
		// scanner keeps the field's bytes: apply that rule to the scanner's
		// fields only (once: "\r\r\n" becomes "\r\n" in both).
		norm := func(recs [][]string, crlf bool) string {
			var b strings.Builder
			for _, rec := range recs {
				for _, fl := range rec {
					if crlf {
						fl = strings.ReplaceAll(fl, "\r\n", "\n")
					}
					b.WriteString(strconv.Quote(fl))
					b.WriteByte(',')
				}
				b.WriteByte('\n')
			}
			return b.String()
		}
		if norm(got, true) != norm(want, false) {
			t.Fatalf("scanner and encoding/csv differ on %q:\n got %s\nwant %s", data, norm(got, true), norm(want, false))
		}
	})
}

// spanOutcome is what validating a file gives, in a form to compare.
type spanOutcome struct {
	stats   FileStats
	rejects string
	winners string // the rows the dedup keeps, in id order
}

// validate runs the users file at path through the span reader with spans
// of about size bytes.
func validate(t *testing.T, path string, size int) (spanOutcome, error) {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	base := filepath.Join(t.TempDir(), "f")
	f, err := openCSV(log, Source{Entity: grpipe.Users, Name: "user.csv", Path: path}, base, 0)
	if err != nil {
		return spanOutcome{}, err
	}
	f.split(size)
	for _, sp := range f.spans {
		if err := f.read(context.Background(), sp); err != nil {
			t.Fatal(err)
		}
	}
	var rej bytes.Buffer
	rw, err := quarantine.NewWriter(&rej)
	if err != nil {
		t.Fatal(err)
	}
	st, clean, err := f.finish(context.Background(), log, rw, 1)
	if err != nil {
		return spanOutcome{}, err
	}
	if err := rw.Flush(); err != nil {
		t.Fatal(err)
	}
	// The dedup's rule: per id, the greatest timestamp, then the greatest
	// ordinal (the row read last). A clean row is the columns, then its
	// ordinal, tab-separated.
	tsCol := len(grpipe.Users.Columns) - 1
	best := map[string][]string{}
	for _, p := range clean {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			if line == "" {
				continue
			}
			fs := strings.Split(line, "\t")
			cur, ok := best[fs[0]]
			ord, _ := strconv.ParseInt(fs[len(fs)-1], 10, 64)
			if ok {
				curOrd, _ := strconv.ParseInt(cur[len(cur)-1], 10, 64)
				if fs[tsCol] < cur[tsCol] || fs[tsCol] == cur[tsCol] && ord < curOrd {
					continue
				}
			}
			best[fs[0]] = fs
		}
	}
	ids := make([]string, 0, len(best))
	for id := range best {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var w strings.Builder
	for _, id := range ids {
		w.WriteString(strings.Join(best[id], "\t"))
		w.WriteByte('\n')
	}
	return spanOutcome{stats: st, rejects: rej.String(), winners: w.String()}, nil
}

// FuzzSpans checks the span-parallel validation against reading the file
// whole: whatever the text and wherever the span boundaries are guessed
// (inside quoted fields, inside records), the counts, the rejected rows
// with their line numbers, and the rows the dedup keeps are the same.
func FuzzSpans(f *testing.F) {
	for i, s := range csvSeeds(f) {
		f.Add(s, uint8(i))
	}
	f.Fuzz(func(t *testing.T, body []byte, size uint8) {
		path := filepath.Join(t.TempDir(), "user.csv")
		data := append([]byte("user_id,user_name,location,record_create_timestamp\n"), body...)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		whole, err := validate(t, path, 1<<30)
		var fe *FileError
		if errors.As(err, &fe) {
			return // refused whole (a header problem): nothing to split
		}
		if err != nil {
			t.Fatal(err)
		}
		spans, err := validate(t, path, 1+int(size)%48)
		if err != nil {
			t.Fatalf("spans of %d bytes: %v (whole: no error)", 1+int(size)%48, err)
		}
		if whole.stats != spans.stats {
			t.Fatalf("counts differ on %q: whole %+v, spans of %d bytes %+v", body, whole.stats, 1+int(size)%48, spans.stats)
		}
		if whole.rejects != spans.rejects {
			t.Fatalf("rejects differ on %q with spans of %d bytes:\nwhole %s\nspans %s", body, 1+int(size)%48, whole.rejects, spans.rejects)
		}
		if whole.winners != spans.winners {
			t.Fatalf("kept rows differ on %q with spans of %d bytes:\nwhole %s\nspans %s", body, 1+int(size)%48, whole.winners, spans.winners)
		}
		if whole.stats.Read != whole.stats.Rejected+whole.stats.Valid {
			t.Fatalf("ledger of %q does not balance: %+v", body, whole.stats)
		}
	})
}

// Defect 17: a file with carriage-return-only line ends is refused with a
// message saying so, not with a misleading "column appears twice".
func TestCarriageReturnOnlyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "user.csv")
	if err := os.WriteFile(path, []byte("user_id,user_name,record_create_timestamp\r1,dan,2020-01-01 00:00:00\r2,dan,2020-01-01 00:00:00\r"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := validate(t, path, 1<<30)
	var fe *FileError
	if !errors.As(err, &fe) || !strings.Contains(fe.Reason, "carriage return only") || strings.Contains(fe.Reason, "twice") {
		t.Fatalf("CR-only file: %v", err)
	}
	// A lone carriage return ending the data is a blank line, not a row.
	if got := scanAll("a,b\n1,2\n\r"); len(got) != 2 {
		t.Fatalf("records of a file ending in a carriage return: %+v", got)
	}
}

// recordingHandler keeps the log records.
type recordingHandler struct {
	records []slog.Record
}

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	h.records = append(h.records, r)
	return nil
}
func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler      { return h }

// Defect 4: a header of 100,000 unknown columns gives one warning naming the
// first ten and counting the rest, not one warning per column.
func TestUnknownColumnsOneWarning(t *testing.T) {
	var hdr strings.Builder
	hdr.WriteString("user_id,record_create_timestamp")
	for i := range 100_000 {
		hdr.WriteString(",extra_" + strconv.Itoa(i))
	}
	path := filepath.Join(t.TempDir(), "user.csv")
	if err := os.WriteFile(path, []byte(hdr.String()+"\n1,2020-01-01 00:00:00\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := &recordingHandler{}
	f, err := openCSV(slog.New(h), Source{Entity: grpipe.Users, Name: "user.csv", Path: path}, filepath.Join(t.TempDir(), "f"), 0)
	if err != nil {
		t.Fatal(err)
	}
	f.unmap()
	var unknown []slog.Record
	for _, r := range h.records {
		if strings.Contains(r.Message, "unknown column") {
			unknown = append(unknown, r)
		}
	}
	if len(unknown) != 1 {
		t.Fatalf("%d warnings about unknown columns, want 1", len(unknown))
	}
	attrs := map[string]string{}
	unknown[0].Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
	if attrs["count"] != "100000" || attrs["more"] != "99990" || !strings.HasPrefix(attrs["columns"], "extra_0, extra_1,") || len(attrs["columns"]) > 200 {
		t.Fatalf("warning attributes %v", attrs)
	}
}
