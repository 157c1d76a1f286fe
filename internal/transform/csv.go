package transform

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
)

// record is one CSV record as the scanner found it.
type record struct {
	at     int      // offset in the scanned data where the record starts
	line   int64    // physical line (1-based) where the record starts
	raw    []byte   // the record's text without its line terminator
	fields [][]byte // field values, quotes removed and "" unescaped
	err    string   // why the record could not be parsed; empty when it could
}

// scanner splits RFC 4180 CSV held in memory into records. A record that
// cannot be parsed (an unterminated quote, text after a closing quote) is
// reported with its first physical line, and scanning resumes on the next
// line, so one broken row never swallows the rows after it.
//
// A scanner may cover a range of the data (see scanRange): it reads the
// records that start before the range's end, the last of them to its own
// end, which may lie past the range.
type scanner struct {
	data    []byte
	pos     int
	end     int   // records starting at or after end are not read
	line    int64 // line number of data[pos]
	fields  [][]byte
	scratch []byte
	// blockAt and block cache where the commas, line feeds and quotes of
	// 64 bytes of data are (blockSearch): bit i of block is set when
	// data[blockAt-1+i] is one (blockAt is one more than the block's
	// start: 0 is no block).
	blockAt int
	block   uint64
}

// trimBOM drops a UTF-8 byte order mark from the start of data.
func trimBOM(data []byte) []byte { return bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) }

func newScanner(data []byte) *scanner {
	data = trimBOM(data)
	return &scanner{data: data, end: len(data), line: 1}
}

// scanRange returns a scanner of the records of data starting in
// [from, end); from must be the start of a line, whose number is taken as 1.
func scanRange(data []byte, from, end int) *scanner {
	return &scanner{data: data, pos: from, end: end, line: 1}
}

// skipBlank moves past blank lines and reports whether a record starts
// before the scanner's end (at s.pos).
func (s *scanner) skipBlank() bool {
	for s.pos < len(s.data) {
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
	return s.pos < s.end && s.pos < len(s.data)
}

// next fills r with the next record; it returns false at the end of the data
// (or of the scanner's range). Blank lines are skipped: they hold no row.
//
// One pass reads a record: an unquoted field is searched for its end eight
// bytes at a time, a quoted one with bytes.IndexByte. A record
// whose first line holds no quote at all has its raw text cut before a
// carriage return ending the line; one that holds a quote keeps it when its
// last field is unquoted (the quarantine shows rows as they have always been
// shown).
func (s *scanner) next(r *record) bool {
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
	data := s.data
	start, startLine := s.pos, s.line
	r.at = start
	r.line = startLine
	r.err = ""
	s.fields = s.fields[:0]
	s.scratch = s.scratch[:0]

	p := start
	lines := int64(0)
	quoted := false // a quote seen in the record
	for {
		if p < len(data) && data[p] == '"' {
			// Quoted field: a view of the data unless it holds "" (then
			// unescaped into scratch).
			quoted = true
			p++
			fstart := len(s.scratch)
			copied := false
			var field []byte
			for {
				q := bytes.IndexByte(data[p:], '"')
				if q < 0 {
					s.fail(r, start, startLine, "unterminated quoted field")
					return true
				}
				chunk := data[p : p+q]
				lines += int64(bytes.Count(chunk, []byte{'\n'}))
				p += q + 1
				escaped := p < len(data) && data[p] == '"'
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
			case p >= len(data):
				return s.done(r, start, p, p, startLine, lines)
			case data[p] == ',':
				p++
				if p >= len(data) || data[p] == '\n' || (data[p] == '\r' && p+1 < len(data) && data[p+1] == '\n') {
					s.fields = append(s.fields, nil)
					return s.endLine(r, start, p, startLine, lines)
				}
				continue
			case data[p] == '\n' || (data[p] == '\r' && p+1 < len(data) && data[p+1] == '\n'):
				return s.endLine(r, start, p, startLine, lines)
			default:
				s.fail(r, start, startLine, fmt.Sprintf("unexpected %q after a closing quote", data[p]))
				return true
			}
		}
		// Unquoted field: up to the next comma or end of line. A quote inside
		// it is taken literally.
		// Eight bytes at a time: (x - 0x01...) &^ x has the high bit set in
		// the lowest zero byte of x (and maybe in bytes above it, which the
		// lowest set bit ignores), x being the word xor a comma, a line feed
		// or a quote.
		fs := p
	find:
		for {
			// Sixty-four bytes at a time where the processor has AVX2:
			// one branch per block rather than one mispredicted at nearly
			// every field's end.
			if blockSearch {
				if d := p - (s.blockAt - 1); s.blockAt != 0 && uint(d) < 64 {
					if m := s.block >> uint(d); m != 0 {
						p += bits.TrailingZeros64(m)
						if data[p] != '"' {
							break find
						}
						quoted = true
						p++
						continue find
					}
					p = s.blockAt - 1 + 64
				}
				if p+64 <= len(data) {
					s.blockAt, s.block = p+1, specials64(&data[p])
					continue find
				}
			}
			for p+8 <= len(data) {
				w := binary.LittleEndian.Uint64(data[p:])
				c := w ^ (lsb * ',')
				n := w ^ (lsb * '\n')
				q := w ^ (lsb * '"')
				if m := ((c - lsb) &^ c) | ((n - lsb) &^ n) | ((q - lsb) &^ q); m&msb != 0 {
					p += bits.TrailingZeros64(m&msb) / 8
					if data[p] != '"' {
						break find
					}
					quoted = true
					p++
					continue find
				}
				p += 8
			}
			for ; p < len(data); p++ {
				if c := data[p]; c == ',' || c == '\n' {
					break find
				} else if c == '"' {
					quoted = true
				}
			}
			break
		}
		field := data[fs:p]
		if p >= len(data) || data[p] == '\n' {
			field = trimCR(field)
			s.fields = append(s.fields, field)
			if !quoted {
				// A line without quotes: its text, less a carriage return ending it.
				r.raw = trimCR(data[start:p])
				r.fields = s.fields
				s.pos = p
				if p < len(data) {
					s.pos++
					s.line++
				}
				return true
			}
			if p >= len(data) {
				return s.done(r, start, p, p, startLine, lines)
			}
			return s.endLine(r, start, p, startLine, lines)
		}
		s.fields = append(s.fields, field)
		p++ // the comma
		if p >= len(data) || data[p] == '\n' || (data[p] == '\r' && p+1 < len(data) && data[p+1] == '\n') {
			s.fields = append(s.fields, nil)
			return s.endLine(r, start, p, startLine, lines)
		}
	}
}

// trimCR drops one carriage return ending b.
func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// endLine finishes a record whose last field ends at p, where data[p] is '\r' or '\n' (or p is past the end).
func (s *scanner) endLine(r *record, start, p int, startLine, lines int64) bool {
	end := p
	if p < len(s.data) && s.data[p] == '\r' {
		p++
	}
	if p < len(s.data) && s.data[p] == '\n' {
		p++
		lines++
	}
	return s.done(r, start, end, p, startLine, lines)
}

func (s *scanner) done(r *record, start, end, next int, startLine, lines int64) bool {
	r.raw = s.data[start:end]
	r.fields = s.fields
	s.pos = next
	s.line = startLine + lines
	return true
}

// fail reports the record starting at start as unparseable, covering its
// first physical line, and resumes scanning on the next line.
func (s *scanner) fail(r *record, start int, startLine int64, reason string) {
	rest := s.data[start:]
	eol := bytes.IndexByte(rest, '\n')
	if eol < 0 {
		r.raw = rest
		s.pos = len(s.data)
	} else {
		r.raw = bytes.TrimSuffix(rest[:eol], []byte("\r"))
		s.pos = start + eol + 1
	}
	r.line = startLine
	r.err = reason
	r.fields = nil
	s.line = startLine + 1
}
