package quarantine

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/grpipe/grpipe/internal/objstore"
)

// ScanRunRows streams every rejected row of a run (the files of RunRows, in
// its order) to fn as a RowView: the row's fields as read, so that a scan
// that counts rows allocates nothing per row and builds (RowView.Row) only
// the rows it keeps. The view (one, reused) is valid only during the call. fn returning
// an error stops the scan and ScanRunRows returns that error.
func ScanRunRows(ctx context.Context, zones *objstore.Store, runID string, fn func(entity string, v *RowView) error) error {
	files, err := runFiles(ctx, zones, runID)
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := scanObject(ctx, zones, f, fn); err != nil {
			return err
		}
	}
	return nil
}

// RowView is one rejected row as ScanRunRows reads it.
type RowView struct {
	s   *fieldScanner
	at  []int // the position of each of Columns() in the record
	key string
	n   int // the record's number in its file (the header is 1)
}

// SourceFile is the input file the row came from.
func (v *RowView) SourceFile() []byte { return v.s.field(v.at[0]) }

// Reason is why the row was rejected.
func (v *RowView) Reason() []byte { return v.s.field(v.at[3]) }

// Row builds the whole row.
func (v *RowView) Row() (Row, error) {
	line, err := strconv.ParseInt(string(v.s.field(v.at[1])), 10, 64)
	if err != nil {
		return Row{}, fmt.Errorf("quarantine file %s: %w: record %d: the line number %q is not a number", v.key, ErrFormat, v.n, v.s.field(v.at[1]))
	}
	return Row{SourceFile: string(v.s.field(v.at[0])), Line: line, Column: string(v.s.field(v.at[2])),
		Reason: string(v.s.field(v.at[3])), Raw: string(v.s.field(v.at[4]))}, nil
}

func scanObject(ctx context.Context, zones *objstore.Store, f runFile, fn func(entity string, v *RowView) error) error {
	body, err := zones.NewReader(ctx, f.key)
	if err != nil {
		return err
	}
	defer body.Close()
	s := newFieldScanner(body)
	if err := s.next(); err != nil {
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("%w: the file is empty (a header row is expected)", ErrFormat)
		}
		return fmt.Errorf("quarantine file %s: %w", f.key, err)
	}
	width := s.fields()
	pos := map[string]int{}
	for i := range width {
		pos[string(s.field(i))] = i
	}
	if _, ok := pos["column_name"]; !ok {
		if i, ok := pos[legacyColumnName]; ok {
			pos["column_name"] = i
		}
	}
	v := RowView{s: s, key: f.key}
	for _, c := range Columns() {
		i, ok := pos[c.Name]
		if !ok {
			return fmt.Errorf("quarantine file %s: %w: the header has no %s column", f.key, ErrFormat, c.Name)
		}
		v.at = append(v.at, i)
	}
	for n := 2; ; n++ {
		if n&0x3fff == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		err := s.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("quarantine file %s: record %d: %w", f.key, n, err)
		}
		if s.fields() != width {
			return fmt.Errorf("quarantine file %s: %w: record %d has %d fields, the header %d", f.key, ErrFormat, n, s.fields(), width)
		}
		v.n = n
		if err := fn(f.entity, &v); err != nil {
			return err
		}
	}
}

// fieldScanner reads RFC 4180 CSV (as encoding/csv writes it: quoted fields
// may hold commas, quotes doubled, and line breaks) one record at a time
// into one reused buffer.
type fieldScanner struct {
	r    *bufio.Reader
	buf  []byte // the current record's fields, one after the other
	ends []int  // where each field ends in buf
}

func newFieldScanner(r io.Reader) *fieldScanner {
	return &fieldScanner{r: bufio.NewReaderSize(r, 64<<10)}
}

func (s *fieldScanner) fields() int { return len(s.ends) }

func (s *fieldScanner) field(i int) []byte {
	start := 0
	if i > 0 {
		start = s.ends[i-1]
	}
	return s.buf[start:s.ends[i]]
}

// crlf turns each CRLF of the quoted field that starts at start into LF,
// as encoding/csv reads it.
func (s *fieldScanner) crlf(start int) {
	f := s.buf[start:]
	if bytes.Index(f, []byte("\r\n")) < 0 {
		return
	}
	out := f[:0]
	for i := 0; i < len(f); i++ {
		if f[i] == '\r' && i+1 < len(f) && f[i+1] == '\n' {
			continue
		}
		out = append(out, f[i])
	}
	s.buf = s.buf[:start+len(out)]
}

// next reads the next record; io.EOF when there is none.
func (s *fieldScanner) next() error {
	s.buf, s.ends = s.buf[:0], s.ends[:0]
	c, err := s.r.ReadByte()
	if err != nil {
		return err // io.EOF: no more records
	}
	for {
		// c is the first byte of a field.
		if c == '"' {
			start := len(s.buf)
			for {
				chunk, err := s.r.ReadSlice('"')
				s.buf = append(s.buf, chunk...)
				if errors.Is(err, bufio.ErrBufferFull) {
					continue
				}
				if err != nil {
					return fmt.Errorf("%w: a quoted field is not closed", ErrFormat)
				}
				s.buf = s.buf[:len(s.buf)-1] // the quote read
				c, err = s.r.ReadByte()
				if err == nil && c == '"' { // a doubled quote: one quote of the text
					s.buf = append(s.buf, '"')
					continue
				}
				s.crlf(start)
				if errors.Is(err, io.EOF) {
					s.ends = append(s.ends, len(s.buf))
					return nil
				}
				if err != nil {
					return err
				}
				break
			}
			// c follows the closing quote: a separator or a line end.
		} else {
			start := len(s.buf)
			for c != ',' && c != '\n' {
				s.buf = append(s.buf, c)
				c, err = s.r.ReadByte()
				if errors.Is(err, io.EOF) {
					s.ends = append(s.ends, len(s.buf))
					return nil
				}
				if err != nil {
					return err
				}
			}
			if c == '\n' && len(s.buf) > start && s.buf[len(s.buf)-1] == '\r' { // a CRLF line end
				s.buf = s.buf[:len(s.buf)-1]
			}
		}
		if c == '\r' {
			if c, err = s.r.ReadByte(); err != nil && !errors.Is(err, io.EOF) {
				return err
			}
		}
		s.ends = append(s.ends, len(s.buf))
		switch c {
		case ',':
			if c, err = s.r.ReadByte(); errors.Is(err, io.EOF) {
				s.ends = append(s.ends, len(s.buf)) // an empty last field
				return nil
			} else if err != nil {
				return err
			}
			if c == '\n' {
				s.ends = append(s.ends, len(s.buf))
				return nil
			}
		case '\n':
			return nil
		default:
			return fmt.Errorf("%w: %q after a closing quote", ErrFormat, c)
		}
	}
}
