package libexport

import (
	"bytes"
	"fmt"
)

// csvRecord is one CSV record as the scanner found it.
type csvRecord struct {
	line   int64    // physical line (1-based) where the record starts
	raw    []byte   // the record's text without its line terminator
	fields [][]byte // values, quotes removed and "" unescaped
	err    string   // why the record cannot be parsed
}

// scanner splits RFC 4180 CSV held in memory into records. A record that
// cannot be parsed (an unterminated quote, text after a closing quote) is
// reported with its first physical line, and scanning resumes on the next
// line. Blank lines are skipped.
type scanner struct {
	data []byte
	pos  int
	line int64 // line number of data[pos]
}

func (s *scanner) next(r *csvRecord) bool {
	for s.pos < len(s.data) && (s.data[s.pos] == '\n' || s.data[s.pos] == '\r' && s.pos+1 < len(s.data) && s.data[s.pos+1] == '\n') {
		if s.data[s.pos] == '\r' {
			s.pos++
		}
		s.pos++
		s.line++
	}
	if s.pos >= len(s.data) {
		return false
	}
	start, startLine := s.pos, s.line
	r.line, r.err, r.fields = startLine, "", r.fields[:0]
	p := s.pos
	var lines int64
	for {
		var field []byte
		if p < len(s.data) && s.data[p] == '"' {
			p++
			var buf []byte
			for {
				q := bytes.IndexByte(s.data[p:], '"')
				if q < 0 {
					return s.fail(r, start, startLine, "unterminated quoted field")
				}
				lines += int64(bytes.Count(s.data[p:p+q], []byte{'\n'}))
				buf = append(buf, s.data[p:p+q]...)
				p += q + 1
				if p < len(s.data) && s.data[p] == '"' {
					buf = append(buf, '"')
					p++
					continue
				}
				break
			}
			if buf == nil {
				buf = []byte{}
			}
			field = buf
			if p < len(s.data) && s.data[p] != ',' && s.data[p] != '\n' && !(s.data[p] == '\r' && p+1 < len(s.data) && s.data[p+1] == '\n') {
				return s.fail(r, start, startLine, fmt.Sprintf("unexpected %q after a closing quote", s.data[p]))
			}
		} else {
			fs := p
			for p < len(s.data) && s.data[p] != ',' && s.data[p] != '\n' {
				p++
			}
			field = bytes.TrimSuffix(s.data[fs:p], []byte("\r"))
		}
		r.fields = append(r.fields, field)
		if p < len(s.data) && s.data[p] == ',' {
			p++
			continue
		}
		// End of the record.
		end := p
		if p < len(s.data) && s.data[p] == '\r' {
			p++
		}
		if p < len(s.data) && s.data[p] == '\n' {
			p++
			lines++
		}
		r.raw = bytes.TrimSuffix(s.data[start:end], []byte("\r"))
		s.pos, s.line = p, startLine+lines
		return true
	}
}

// fail reports the record at start as unparseable, covering its first line,
// and resumes on the next line.
func (s *scanner) fail(r *csvRecord, start int, startLine int64, reason string) bool {
	rest := s.data[start:]
	eol := bytes.IndexByte(rest, '\n')
	if eol < 0 {
		r.raw = rest
		s.pos = len(s.data)
	} else {
		r.raw = bytes.TrimSuffix(rest[:eol], []byte("\r"))
		s.pos = start + eol + 1
	}
	r.line, r.err, r.fields = startLine, reason, nil
	s.line = startLine + 1
	return true
}
