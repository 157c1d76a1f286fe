package split

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	grpipe "github.com/grpipe/grpipe"
)

// memParts collects the parts written by a split, in order.
type memParts struct {
	names  []string
	bodies []*bytes.Buffer
	closed []bool
}

type memWriter struct {
	m *memParts
	i int
}

func (w memWriter) Write(p []byte) (int, error) { return w.m.bodies[w.i].Write(p) }
func (w memWriter) Close() error                { w.m.closed[w.i] = true; return nil }

func (m *memParts) create(name string) (io.WriteCloser, error) {
	m.names = append(m.names, name)
	m.bodies = append(m.bodies, &bytes.Buffer{})
	m.closed = append(m.closed, false)
	return memWriter{m, len(m.names) - 1}, nil
}

func splitBytes(t testing.TB, data []byte, name string, size int64) ([]Part, *memParts, error) {
	t.Helper()
	m := &memParts{}
	parts, err := Reader(context.Background(), bytes.NewReader(data), int64(len(data)), name, size, m.create)
	return parts, m, err
}

// checkParts checks what every split must hold: the parts are closed, each
// starts with the header, the rows of the parts are the file's rows in order
// (byte for byte), and the transform reads the same records, broken ones
// included, from the parts as from the whole file.
func checkParts(t testing.TB, data []byte, parts []Part, m *memParts) {
	t.Helper()
	if len(parts) != len(m.names) {
		t.Fatalf("%d parts returned, %d written", len(parts), len(m.names))
	}
	body := bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	s := newRefScanner(body)
	s.next()
	hdrEnd := s.pos
	header := body[:hdrEnd]
	var joined []byte
	var got []refRecord
	for i, b := range m.bodies {
		if !m.closed[i] {
			t.Fatalf("part %d not closed", i+1)
		}
		if parts[i].Bytes != int64(b.Len()) {
			t.Fatalf("part %d: %d bytes reported, %d written", i+1, parts[i].Bytes, b.Len())
		}
		p := b.Bytes()
		if i == 0 {
			if !bytes.HasPrefix(p, data[:len(data)-len(body)+hdrEnd]) {
				t.Fatalf("part 1 does not start with the file's own header")
			}
			joined = append(joined, p[len(data)-len(body)+hdrEnd:]...)
		} else {
			if !bytes.HasPrefix(p, header) {
				t.Fatalf("part %d does not start with the header %q: %q", i+1, header, p)
			}
			joined = append(joined, p[len(header):]...)
		}
		_, recs := refRecords(p)
		if int64(len(recs)) != parts[i].Records {
			t.Fatalf("part %d: %d records reported, the transform reads %d", i+1, parts[i].Records, len(recs))
		}
		got = append(got, recs...)
	}
	if !bytes.Equal(joined, body[hdrEnd:]) {
		t.Fatalf("the parts' rows are not the file's rows")
	}
	_, want := refRecords(data)
	if len(want) == 0 && len(got) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		for i := range min(len(got), len(want)) {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Fatalf("record %d differs:\nparts: %#v\nwhole: %#v", i, got[i], want[i])
			}
		}
		t.Fatalf("parts give %d records, the whole file %d", len(got), len(want))
	}
}

func TestSplit(t *testing.T) {
	hdr := "review_id,user_id,review_text\n"
	tests := []struct {
		name  string
		data  string
		size  int64
		parts int
	}{
		{"plain rows", hdr + "1,2,a\n3,4,b\n5,6,c\n7,8,d\n", int64(len(hdr)) + 6, 4},
		{"quoted newlines stay in one row", hdr + "1,2,\"x\ny\nz\"\n3,4,\"p,q\"\n5,6,\"\"\"quoted\"\"\"\n", int64(len(hdr)) + 1, 3},
		{"one part when the size is large", hdr + "1,2,a\n3,4,b\n", 1 << 20, 1},
		{"header only", hdr, 1 << 20, 1},
		{"no line end at the end", hdr + "1,2,a\n3,4,b", int64(len(hdr)) + 1, 2},
		{"CRLF line ends", "review_id,user_id\r\n1,2\r\n3,\"4\r\n5\"\r\n6,7\r\n", 20, 3},
		{"byte-order mark kept in the first part only", "\xef\xbb\xbf" + hdr + "1,2,a\n3,4,b\n", int64(len(hdr)) + 1, 2},
		{"blank lines", hdr + "\n1,2,a\n\n\n3,4,b\n\n", int64(len(hdr)) + 1, 2},
		{"unterminated quote: the rows after it are still cut", hdr + "1,2,\"never closed\n3,4,b\n5,6,c\n7,8,d\n", int64(len(hdr)) + 1, 4},
		// The broken row's quote closes two lines down, followed by text:
		// a cut after its first line would make it "unterminated" instead.
		{"text after a closing quote lines below", hdr + "1,2,\"a\nb\"x\n3,4,c\n5,6,d\n", int64(len(hdr)) + 1, 3},
		{"quote inside an unquoted field is literal", hdr + "1,2,ab\"c\n3,4,\"d\n", int64(len(hdr)) + 1, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parts, m, err := splitBytes(t, []byte(tt.data), "reviews-batch7.csv", tt.size)
			if err != nil {
				t.Fatal(err)
			}
			checkParts(t, []byte(tt.data), parts, m)
			if len(parts) != tt.parts {
				t.Fatalf("got %d parts, want %d: %q", len(parts), tt.parts, m.names)
			}
		})
	}
}

func TestSplitQuotedNewlinesParseWithEncodingCSV(t *testing.T) {
	var b strings.Builder
	b.WriteString("review_id,review_text,n\n")
	for i := range 200 {
		b.WriteString(strings.Repeat("9", i%7+1))
		b.WriteString(",\"line one, with a comma\nline \"\"two\"\"\n\nline four\",")
		b.WriteString(strings.Repeat("1", i%3+1))
		b.WriteString("\n")
	}
	data := []byte(b.String())
	parts, m, err := splitBytes(t, data, "reviews.csv", 300)
	if err != nil {
		t.Fatal(err)
	}
	checkParts(t, data, parts, m)
	if len(parts) < 10 {
		t.Fatalf("only %d parts", len(parts))
	}
	total := 0
	for i, body := range m.bodies {
		recs, err := csv.NewReader(bytes.NewReader(body.Bytes())).ReadAll()
		if err != nil {
			t.Fatalf("part %s: %v", m.names[i], err)
		}
		if !reflect.DeepEqual(recs[0], []string{"review_id", "review_text", "n"}) {
			t.Fatalf("part %s header %q", m.names[i], recs[0])
		}
		for _, r := range recs[1:] {
			if r[1] != "line one, with a comma\nline \"two\"\n\nline four" {
				t.Fatalf("part %s: field cut: %q", m.names[i], r[1])
			}
		}
		total += len(recs) - 1
	}
	if total != 200 {
		t.Fatalf("%d rows in the parts, want 200", total)
	}
}

func TestPartNames(t *testing.T) {
	data := []byte("user_id,name\n1,a\n2,b\n3,c\n")
	_, m, err := splitBytes(t, data, "user-2020-02.csv", 15)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"user-2020-02-0001.csv", "user-2020-02-0002.csv", "user-2020-02-0003.csv"}
	if !reflect.DeepEqual(m.names, want) {
		t.Fatalf("names %q, want %q", m.names, want)
	}
	for _, n := range m.names {
		if e, err := grpipe.EntityForFile(n); err != nil || e.Name != "users" && e.FilePrefix != "user" {
			t.Fatalf("%s is not a user landing file: %v", n, err)
		}
	}
	if got, _ := PartName("reviews.csv", 12, 4); got != "reviews-0012.csv" {
		t.Fatalf("PartName(reviews.csv) = %s", got)
	}
	// More parts than four digits can count: the width grows, so names still sort.
	var b strings.Builder
	b.WriteString("book_id\n")
	for i := range 12000 {
		b.WriteString(strings.Repeat("1", i%2+1) + "\n")
	}
	parts, m, err := splitBytes(t, []byte(b.String()), "book.csv", 9)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 12000 || m.names[0] != "book-00001.csv" || m.names[11999] != "book-12000.csv" {
		t.Fatalf("%d parts, first %s, last %s", len(parts), m.names[0], m.names[len(m.names)-1])
	}
}

func TestSplitRefuses(t *testing.T) {
	t.Run("a size that cannot hold the header", func(t *testing.T) {
		_, _, err := splitBytes(t, []byte("review_id,user_id\n1,2\n"), "reviews.csv", 10)
		if !errors.Is(err, grpipe.ErrBadInput) || !strings.Contains(err.Error(), "--split") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("a name that is not a landing file name", func(t *testing.T) {
		_, _, err := splitBytes(t, []byte("review_id\n1\n"), "notes.csv", 100)
		if !errors.Is(err, grpipe.ErrBadInput) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("a part that cannot be written", func(t *testing.T) {
		boom := errors.New("disk full")
		_, err := Reader(context.Background(), strings.NewReader("review_id\n1\n2\n"), 13, "reviews.csv", 11,
			func(string) (io.WriteCloser, error) { return failingWriter{boom}, nil })
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
	})
}

type failingWriter struct{ err error }

func (w failingWriter) Write([]byte) (int, error) { return 0, w.err }
func (w failingWriter) Close() error              { return nil }

// TestSplitLargeRecords uses rows longer than the read window.
func TestSplitLargeRecords(t *testing.T) {
	long := strings.Repeat("x", windowSize+123)
	data := []byte("review_id,review_text\n1,\"" + long + "\n" + long + "\"\n2,b\n3,\"" + long + "\n")
	parts, m, err := splitBytes(t, data, "reviews.csv", 25)
	if err != nil {
		t.Fatal(err)
	}
	checkParts(t, data, parts, m)
	if len(parts) != 3 {
		t.Fatalf("%d parts", len(parts))
	}
}

func FuzzSplit(f *testing.F) {
	f.Add([]byte("review_id,user_id,review_text\n1,2,a\n3,4,\"b\nc\"\n5,6,\"d\"e\n7,8,\"\"\"\"\n"), uint16(5))
	f.Add([]byte("\xef\xbb\xbfid,x\r\n1,\"a\r\nb\"\r\n\r\n2,\"unterminated\r\n3,c\r\n"), uint16(1))
	f.Add([]byte("id,x\n1,\"a\nb\"x\n2,c\n3,\"d,\n\n"), uint16(3))
	f.Add([]byte("id\n\"\"\"\n\"\n,\n\"\",\"\n"), uint16(2))
	f.Fuzz(func(t *testing.T, data []byte, size uint16) {
		body := bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
		s := newRefScanner(body)
		s.next()
		limit := int64(s.pos) + 1 + int64(size%64)
		parts, m, err := splitBytes(t, data, "reviews-fuzz.csv", limit)
		if err != nil {
			if errors.Is(err, grpipe.ErrBadInput) {
				return // a header at least as long as the size
			}
			t.Fatal(err)
		}
		checkParts(t, data, parts, m)
	})
}

// BenchmarkSplit cuts 64 MB of seed-shaped rows into 4 MB parts: the read
// window must move forward once per window, not once per row.
func BenchmarkSplit(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("review_id,user_id,review_text\n")
	for i := 0; sb.Len() < 64<<20; i++ {
		fmt.Fprintf(&sb, "%d,%d,\"a review, with \"\"quotes\"\" and\na line break\"\n", i, i%1000)
	}
	data := []byte(sb.String())
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		n := 0
		_, err := Reader(context.Background(), bytes.NewReader(data), int64(len(data)), "reviews.csv", 4<<20,
			func(string) (io.WriteCloser, error) { n++; return nopWriter{}, nil })
		if err != nil || n < 16 {
			b.Fatalf("%d parts, %v", n, err)
		}
	}
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }
func (nopWriter) Close() error                { return nil }
