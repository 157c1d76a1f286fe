package transform

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
)

// refScanner is the CSV scanner as it was before the one-pass reading (a
// line without quotes split on commas, other lines read by a byte-at-a-time
// state machine): the oracle that the scanner must match exactly, fields,
// raw text, line numbers and where it stops included.
type refScanner struct{ scanner }

// next is the scanner's next as it was before the one-pass reading: it fills r with the next record; it returns false at the end of the data
// (or of the scanner's range). Blank lines are skipped: they hold no row.
func (s *refScanner) next(r *record) bool {
	for {
		if s.pos >= len(s.data) || s.pos >= s.end {
			return false
		}
		c := s.data[s.pos]
		if c == '\n' {
			s.pos++
			s.line++
			continue
		}
		if c == '\r' && s.pos+1 < len(s.data) && s.data[s.pos+1] == '\n' {
			s.pos += 2
			s.line++
			continue
		}
		if c == '\r' && s.pos+1 == len(s.data) {
			s.pos++ // a carriage return ending the data: a blank line, as encoding/csv reads it
			continue
		}
		break
	}
	start, startLine := s.pos, s.line
	r.at = start
	r.line = startLine
	r.err = ""
	s.fields = s.fields[:0]
	s.scratch = s.scratch[:0]

	// Fast path: a line without quotes is split on commas.
	rest := s.data[s.pos:]
	eol := bytes.IndexByte(rest, '\n')
	var line []byte
	if eol < 0 {
		line = rest
	} else {
		line = rest[:eol]
	}
	if bytes.IndexByte(line, '"') < 0 {
		raw := bytes.TrimSuffix(line, []byte("\r"))
		s.splitPlain(raw)
		r.raw = raw
		r.fields = s.fields
		s.advanceLine(eol)
		return true
	}

	// Slow path: a state machine over quoted fields, which may span lines.
	p := s.pos
	lines := int64(0)
	for {
		if p < len(s.data) && s.data[p] == '"' {
			// Quoted field: a view of the data unless it holds "" (then
			// unescaped into scratch).
			p++
			fstart := len(s.scratch)
			copied := false
			var field []byte
			for {
				q := bytes.IndexByte(s.data[p:], '"')
				if q < 0 {
					s.fail(r, start, startLine, "unterminated quoted field")
					return true
				}
				chunk := s.data[p : p+q]
				lines += int64(bytes.Count(chunk, []byte{'\n'}))
				p += q + 1
				escaped := p < len(s.data) && s.data[p] == '"'
				if !escaped && !copied {
					field = chunk
					break
				}
				s.scratch = append(s.scratch, chunk...)
				copied = true
				if escaped {
					s.scratch = append(s.scratch, '"')
					p++
					continue
				}
				field = s.scratch[fstart:len(s.scratch):len(s.scratch)]
				break
			}
			s.fields = append(s.fields, field)
			// After the closing quote: a delimiter, the end of the line or the end of the data.
			switch {
			case p >= len(s.data):
				return s.done(r, start, p, p, startLine, lines)
			case s.data[p] == ',':
				p++
				if p >= len(s.data) || s.data[p] == '\n' || (s.data[p] == '\r' && p+1 < len(s.data) && s.data[p+1] == '\n') {
					s.fields = append(s.fields, nil)
					return s.endLine(r, start, p, startLine, lines)
				}
				continue
			case s.data[p] == '\n' || (s.data[p] == '\r' && p+1 < len(s.data) && s.data[p+1] == '\n'):
				return s.endLine(r, start, p, startLine, lines)
			default:
				s.fail(r, start, startLine, fmt.Sprintf("unexpected %q after a closing quote", s.data[p]))
				return true
			}
		}
		// Unquoted field: up to the next comma or end of line. A quote inside
		// it is taken literally.
		fs := p
		for p < len(s.data) && s.data[p] != ',' && s.data[p] != '\n' {
			p++
		}
		field := s.data[fs:p]
		if p >= len(s.data) || s.data[p] == '\n' {
			field = bytes.TrimSuffix(field, []byte("\r"))
			s.fields = append(s.fields, field)
			if p >= len(s.data) {
				return s.done(r, start, p, p, startLine, lines)
			}
			return s.endLine(r, start, p, startLine, lines)
		}
		s.fields = append(s.fields, field)
		p++ // the comma
		if p >= len(s.data) || s.data[p] == '\n' || (s.data[p] == '\r' && p+1 < len(s.data) && s.data[p+1] == '\n') {
			s.fields = append(s.fields, nil)
			return s.endLine(r, start, p, startLine, lines)
		}
	}
}

// splitPlain splits a quote-free line on commas into s.fields.
func (s *scanner) splitPlain(raw []byte) {
	for {
		i := bytes.IndexByte(raw, ',')
		if i < 0 {
			s.fields = append(s.fields, raw)
			return
		}
		s.fields = append(s.fields, raw[:i])
		raw = raw[i+1:]
	}
}

// splitPlain splits a quote-free line on commas into s.fields.
func (s *refScanner) splitPlain(raw []byte) {
	for {
		i := bytes.IndexByte(raw, ',')
		if i < 0 {
			s.fields = append(s.fields, raw)
			return
		}
		s.fields = append(s.fields, raw[:i])
		raw = raw[i+1:]
	}
}

// advanceLine moves past the current line, whose '\n' is eol bytes ahead (or absent if eol < 0).
func (s *refScanner) advanceLine(eol int) {
	if eol < 0 {
		s.pos = len(s.data)
		return
	}
	s.pos += eol + 1
	s.line++
}

// scanStep is one call of next as a test compares it.
type scanStep struct {
	OK       bool
	At       int
	Line     int64
	Raw      string
	RawNil   bool
	Fields   []string
	Err      string
	Pos      int
	NextLine int64
}

func stepOf(ok bool, r *record, s *scanner) scanStep {
	st := scanStep{OK: ok, Pos: s.pos, NextLine: s.line}
	if !ok {
		return st
	}
	st.At, st.Line, st.Raw, st.RawNil, st.Err = r.at, r.line, string(r.raw), r.raw == nil, r.err
	for _, f := range r.fields {
		st.Fields = append(st.Fields, string(f))
	}
	return st
}

// compareScanners reads data[from:] (up to end) with the scanner and with
// refScanner and fails at the first call where they differ.
func compareScanners(t testing.TB, data []byte, from, end int) {
	t.Helper()
	got := scanRange(data, from, end)
	want := &refScanner{*scanRange(data, from, end)}
	for i := 0; ; i++ {
		var gr, wr record
		g := stepOf(got.next(&gr), &gr, got)
		w := stepOf(want.next(&wr), &wr, &want.scanner)
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("%q from %d to %d, record %d:\n got %+v\nwant %+v", data, from, end, i, g, w)
		}
		if !g.OK {
			return
		}
	}
}

// TestScannerMatchesReference compares the scanner with refScanner on the
// fuzz seeds, on edge cases of quotes, carriage returns and empty fields,
// and on random texts over the bytes that matter to CSV, read whole and
// from every line start to a range end.
func TestScannerMatchesReference(t *testing.T) {
	cases := []string{
		"", "\n", "\r", "\r\n", "a", "a\r", "a,\r", "a,b\r", "a,b\r\n", "a,b,\r\n", "a,b,\n", "a,b,",
		"a\rb,c\n", "\"a\"\r", "\"a\",\r", "\"a\",\r\n", "x\"y,z\r\n", "x\"y,z\r", "1,\"q\"x\r\n2,3\r\n",
		"a,\"b\nc\",d\r\ne,f\r\n", "a,\"b\"\"c\"\r\n", ",,,\n,,\r\n", "\"\"\n\"\"\"\"\n", "abcdefghijklmnop,q\n",
		"abcdefg\"hijklmn,op\r\n", "12345678,\"abcdefgh\",12345678901234567\r\n", "\n\n\r\n\r\r\n1\n",
		"a,b\rc\n", "a\r\r\n", "\"open\n1,2\n", "1,\"x\"\"\n",
	}
	for _, c := range cases {
		compareAllStarts(t, []byte(c))
	}
	rng := rand.New(rand.NewPCG(14, 6))
	alphabet := []byte("ab1,,\"\"\n\r ")
	for n := 0; n < 20000; n++ {
		b := make([]byte, rng.IntN(40))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		compareAllStarts(t, b)
	}
}

// compareAllStarts compares the scanners on data whole and from each line start, to the end and to a cut.
func compareAllStarts(t testing.TB, data []byte) {
	t.Helper()
	compareScanners(t, trimBOM(data), 0, len(trimBOM(data)))
	for i := 0; i <= len(data); i++ {
		if i == 0 || data[i-1] == '\n' {
			compareScanners(t, data, i, len(data))
			compareScanners(t, data, i, i+(len(data)-i)/2)
		}
	}
}

// FuzzScannerMatchesReference is TestScannerMatchesReference on fuzzed input.
func FuzzScannerMatchesReference(f *testing.F) {
	for _, s := range csvSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 {
			return
		}
		compareAllStarts(t, data)
	})
}

// TestScannerMatchesReferenceLong is TestScannerMatchesReference on texts
// up to 400 bytes long, with runs of letters (fields and records longer
// than the scanner's 8- and 64-byte steps).
func TestScannerMatchesReferenceLong(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 7))
	alphabet := []byte("ab1,,\"\"\n\r ")
	for n := 0; n < 3000; n++ {
		b := make([]byte, 0, 400)
		for len(b) < cap(b) && rng.IntN(60) > 0 {
			if rng.IntN(3) == 0 {
				b = append(b, bytes.Repeat([]byte("x"), rng.IntN(70))...)
			} else {
				b = append(b, alphabet[rng.IntN(len(alphabet))])
			}
		}
		compareAllStarts(t, b)
	}
}
