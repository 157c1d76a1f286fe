package transform

import (
	"bytes"
	"fmt"
)

// record is one CSV record as the scanner found it.
type record struct {
	line   int64    // physical line (1-based) where the record starts
	raw    []byte   // the record's text without its line terminator
	fields [][]byte // field values, quotes removed and "" unescaped
	err    string   // why the record could not be parsed; empty when it could
}

// scanner splits RFC 4180 CSV held in memory into records. A record that
// cannot be parsed (an unterminated quote, text after a closing quote) is
// reported with its first physical line, and scanning resumes on the next
// line, so one broken row never swallows the rows after it.
type scanner struct {
	data    []byte
	pos     int
	line    int64 // line number of data[pos]
	fields  [][]byte
	scratch []byte
}

func newScanner(data []byte) *scanner {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	return &scanner{data: data, line: 1}
}

// next fills r with the next record; it returns false at the end of the data.
// Blank lines are skipped: they hold no row.
func (s *scanner) next(r *record) bool {
	for {
		if s.pos >= len(s.data) {
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
		break
	}
	start, startLine := s.pos, s.line
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
			// Quoted field.
			p++
			fstart := len(s.scratch)
			for {
				q := bytes.IndexByte(s.data[p:], '"')
				if q < 0 {
					s.fail(r, start, startLine, "unterminated quoted field")
					return true
				}
				chunk := s.data[p : p+q]
				lines += int64(bytes.Count(chunk, []byte{'\n'}))
				s.scratch = append(s.scratch, chunk...)
				p += q + 1
				if p < len(s.data) && s.data[p] == '"' {
					s.scratch = append(s.scratch, '"')
					p++
					continue
				}
				break
			}
			s.fields = append(s.fields, s.scratch[fstart:len(s.scratch):len(s.scratch)])
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

// advanceLine moves past the current line, whose '\n' is eol bytes ahead (or absent if eol < 0).
func (s *scanner) advanceLine(eol int) {
	if eol < 0 {
		s.pos = len(s.data)
		return
	}
	s.pos += eol + 1
	s.line++
}

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
