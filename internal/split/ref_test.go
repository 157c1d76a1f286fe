package split

import (
	"bytes"
	"fmt"
)

// refRecord and refScanner are the transform's CSV reader
// (internal/transform/csv.go) reduced to what decides records: the tests
// check that transforming the parts reads the same records, broken rows and
// reasons as transforming the whole file.
type refRecord struct {
	raw    string
	fields []string
	err    string
}

type refScanner struct {
	data []byte
	pos  int
}

func newRefScanner(data []byte) *refScanner {
	return &refScanner{data: bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))}
}

func (s *refScanner) lineEnd(p int) bool {
	return p < len(s.data) && (s.data[p] == '\n' || (s.data[p] == '\r' && p+1 < len(s.data) && s.data[p+1] == '\n'))
}

func (s *refScanner) next() (refRecord, bool) {
	for s.pos < len(s.data) && s.lineEnd(s.pos) {
		if s.data[s.pos] == '\r' {
			s.pos++
		}
		s.pos++
	}
	if s.pos >= len(s.data) {
		return refRecord{}, false
	}
	start := s.pos
	p := start
	var fields []string
	fail := func(reason string) (refRecord, bool) {
		rest := s.data[start:]
		eol := bytes.IndexByte(rest, '\n')
		var raw []byte
		if eol < 0 {
			raw, s.pos = rest, len(s.data)
		} else {
			raw, s.pos = bytes.TrimSuffix(rest[:eol], []byte("\r")), start+eol+1
		}
		return refRecord{raw: string(raw), err: reason}, true
	}
	end := func(e, next int) (refRecord, bool) {
		s.pos = next
		return refRecord{raw: string(s.data[start:e]), fields: fields}, true
	}
	endLine := func(p int) (refRecord, bool) {
		e := p
		if p < len(s.data) && s.data[p] == '\r' {
			p++
		}
		if p < len(s.data) && s.data[p] == '\n' {
			p++
		}
		return end(e, p)
	}
	for {
		if p < len(s.data) && s.data[p] == '"' {
			p++
			var f []byte
			for {
				q := bytes.IndexByte(s.data[p:], '"')
				if q < 0 {
					return fail("unterminated quoted field")
				}
				f = append(f, s.data[p:p+q]...)
				p += q + 1
				if p < len(s.data) && s.data[p] == '"' {
					f = append(f, '"')
					p++
					continue
				}
				break
			}
			fields = append(fields, string(f))
			switch {
			case p >= len(s.data):
				return end(p, p)
			case s.data[p] == ',':
				p++
				if p >= len(s.data) || s.lineEnd(p) {
					fields = append(fields, "")
					return endLine(p)
				}
				continue
			case s.lineEnd(p):
				return endLine(p)
			default:
				return fail(fmt.Sprintf("unexpected %q after a closing quote", s.data[p]))
			}
		}
		fs := p
		for p < len(s.data) && s.data[p] != ',' && s.data[p] != '\n' {
			p++
		}
		field := s.data[fs:p]
		if p >= len(s.data) || s.data[p] == '\n' {
			fields = append(fields, string(bytes.TrimSuffix(field, []byte("\r"))))
			if p >= len(s.data) {
				return end(p, p)
			}
			return endLine(p)
		}
		fields = append(fields, string(field))
		p++
		if p >= len(s.data) || s.lineEnd(p) {
			fields = append(fields, "")
			return endLine(p)
		}
	}
}

// refRecords returns the header and the records of data as the transform reads them.
func refRecords(data []byte) (refRecord, []refRecord) {
	s := newRefScanner(data)
	hdr, _ := s.next()
	var out []refRecord
	for {
		r, ok := s.next()
		if !ok {
			return hdr, out
		}
		out = append(out, r)
	}
}
