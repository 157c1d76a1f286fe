// Package split cuts a CSV file into parts of about a given size at record
// boundaries, repeating the header row at the top of every part, so that one
// large file can be transformed by many workers (grpipe land --split).
//
// A record boundary is where the transform's CSV reader would start a new
// record: quoted fields may hold commas, quotes ("") and line breaks, so a
// line break inside quotes is never a cut. Broken rows follow the transform's
// rule too (after a row that cannot be parsed, reading resumes on the next
// line), and a cut is never placed where it could change how a broken row is
// read: transforming the parts yields the same rows, the same rejected rows
// and the same reasons as transforming the whole file (only the line numbers
// and file names in the quarantine differ, as they are the parts' own).
//
// The file is read once, sequentially, through a window of a few MiB; memory
// does not grow with the file's size.
package split

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	grpipe "github.com/grpipe/grpipe"
)

// Part is one written part.
type Part struct {
	// Name is the part's landing file name (see PartName).
	Name string
	// Bytes is the part's size, header included.
	Bytes int64
	// Records counts the part's rows (and broken rows), header excluded.
	Records int64
}

// Create opens the writer of a part; Close must make it visible whole (a
// landing zone writes to a temporary name and renames on Close) and return
// any error of doing so.
type Create func(name string) (io.WriteCloser, error)

// PartName returns the landing name of the n-th part (1-based) of the landing
// file name: reviews-2024.csv gives reviews-2024-0001.csv, reviews.csv gives
// reviews-0001.csv. width is the number of digits (at least 4), so that parts
// sort by name in their order.
func PartName(name string, n, width int) (string, error) {
	e, err := grpipe.EntityForFile(name)
	if err != nil {
		return "", err
	}
	stem := strings.TrimSuffix(name, ".csv")
	if width < 4 {
		width = 4
	}
	part := fmt.Sprintf("%s-%0*d.csv", stem, width, n)
	if _, err := grpipe.EntityForFile(part); err != nil || !strings.HasPrefix(part, e.FilePrefix) {
		return "", fmt.Errorf("part name of %s: %w", name, err)
	}
	return part, nil
}

// File cuts the CSV file at path, whose landing name is name, into parts of
// about size bytes: each part but the last ends at the first record boundary
// at or after size bytes (header included). Parts are written in order
// through create; the file is not changed. A file holding only a header gives
// one part. The error wraps grpipe.ErrBadInput when size cannot hold the
// header and a row.
func File(ctx context.Context, path, name string, size int64, create Create) ([]Part, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("split %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("split %s: %w", path, err)
	}
	return Reader(ctx, f, st.Size(), name, size, create)
}

// Reader is File over the first n bytes of r.
func Reader(ctx context.Context, r io.ReaderAt, n int64, name string, size int64, create Create) ([]Part, error) {
	if _, err := grpipe.EntityForFile(name); err != nil {
		return nil, err
	}
	w := newWindow(r, n)
	sc := scanner{w: w}

	start := int64(0)
	if w.has(0, 3) && bytes.Equal(w.slice(0, 3), []byte("\xef\xbb\xbf")) {
		start = 3
	}
	hdrEnd, _, _ := sc.record(start)
	// A header row that cannot be parsed would be read differently in front
	// of other rows; the transform refuses such a file whole: one part.
	whole := sc.broken
	header, err := w.read(start, hdrEnd)
	if err != nil {
		return nil, fmt.Errorf("split %s: %w", name, err)
	}
	if len(header) > 0 && header[len(header)-1] != '\n' {
		header = append(header, '\n') // a header without a line end, then rows: cannot happen (they would be one line)
	}
	if int64(len(header)) >= size {
		return nil, fmt.Errorf("%w: split %s: the part size %d bytes cannot hold the %d-byte header and a row: give a larger --split size",
			grpipe.ErrBadInput, name, size, len(header))
	}
	// The digits of the last part's number: each part holds at least
	// size-len(header) bytes of rows.
	maxParts := (n-hdrEnd)/(size-int64(len(header))) + 1
	width := len(fmt.Sprint(maxParts))

	var parts []Part
	var cur io.WriteCloser
	var curPart Part
	closePart := func() error {
		if cur == nil {
			return nil
		}
		err := cur.Close()
		cur = nil
		if err != nil {
			return fmt.Errorf("split %s: write %s: %w", name, curPart.Name, err)
		}
		parts = append(parts, curPart)
		return nil
	}
	openPart := func(first bool) error {
		pn, err := PartName(name, len(parts)+1, width)
		if err != nil {
			return err
		}
		cur, err = create(pn)
		if err != nil {
			return fmt.Errorf("split %s: create %s: %w", name, pn, err)
		}
		curPart = Part{Name: pn}
		// The first part keeps the file's own bytes (a byte-order mark
		// included); the others start with the header row.
		if first {
			return copyRange(w, cur, &curPart, 0, hdrEnd)
		}
		k, err := cur.Write(header)
		curPart.Bytes += int64(k)
		return err
	}
	fail := func(err error) ([]Part, error) {
		if cur != nil {
			cur.Close()
		}
		return parts, err
	}

	if err := openPart(true); err != nil {
		return fail(err)
	}
	from := hdrEnd // the first byte of the current part not yet written
	pos := hdrEnd
	extent := hdrEnd // the furthest byte a record of the current part was decided by
	for pos < n {
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		next, ext, ok := sc.record(pos)
		if sc.err != nil {
			return fail(fmt.Errorf("split %s: %w", name, sc.err))
		}
		if !ok { // only blank lines were left
			break
		}
		curPart.Records++
		extent = max(extent, ext)
		pos = next
		rest := pos
		sc.skipBlank(&rest)
		if !whole && curPart.Bytes+(pos-from) >= size && extent <= pos && rest < n {
			if err := copyRange(w, cur, &curPart, from, pos); err != nil {
				return fail(fmt.Errorf("split %s: write %s: %w", name, curPart.Name, err))
			}
			from = pos
			if err := closePart(); err != nil {
				return fail(err)
			}
			if err := openPart(false); err != nil {
				return fail(err)
			}
		}
	}
	if w.err != nil {
		return fail(fmt.Errorf("split %s: %w", name, w.err))
	}
	if err := copyRange(w, cur, &curPart, from, n); err != nil {
		return fail(fmt.Errorf("split %s: write %s: %w", name, curPart.Name, err))
	}
	if err := closePart(); err != nil {
		return fail(err)
	}
	return parts, nil
}

// copyRange writes bytes [from, to) of the window's source to dst.
func copyRange(w *window, dst io.Writer, p *Part, from, to int64) error {
	if to <= from {
		return nil
	}
	k, err := io.Copy(dst, io.NewSectionReader(w.r, from, to-from))
	p.Bytes += k
	if err == nil && k != to-from {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// window gives byte access to a ReaderAt through a buffer that slides forward.
type window struct {
	r   io.ReaderAt
	n   int64  // bytes in the source
	off int64  // source offset of buf[0]
	buf []byte // bytes [off, off+len(buf))
	err error
}

const windowSize = 4 << 20

func newWindow(r io.ReaderAt, n int64) *window {
	return &window{r: r, n: n, buf: make([]byte, 0, windowSize)}
}

// fill makes the buffer start at p and hold as many bytes as fit.
func (w *window) fill(p int64) {
	k := min(int64(cap(w.buf)), w.n-p)
	w.buf = w.buf[:k]
	got, err := w.r.ReadAt(w.buf, p)
	if int64(got) < k && w.err == nil {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		w.err = err
	}
	w.off = p
}

// has reports whether bytes [p, p+k) exist in the source.
func (w *window) has(p, k int64) bool { return p+k <= w.n }

// at returns the byte at p (< n).
func (w *window) at(p int64) byte {
	if p < w.off || p >= w.off+int64(len(w.buf)) {
		w.fill(p)
		if p-w.off >= int64(len(w.buf)) {
			return 0
		}
	}
	return w.buf[p-w.off]
}

// slice returns up to k bytes from p (fewer at the end of the source, or
// when more than a window's size is asked).
func (w *window) slice(p, k int64) []byte {
	k = min(k, w.n-p, int64(cap(w.buf)))
	if p < w.off || p+k > w.off+int64(len(w.buf)) {
		w.fill(p)
	}
	k = min(k, int64(len(w.buf))-(p-w.off))
	return w.buf[p-w.off : p-w.off+k]
}

// index returns the position of the first c at or after p, or -1. It
// reads what the window holds from p, and moves the window only past its end.
func (w *window) index(p int64, c byte) int64 {
	for p < w.n {
		if p < w.off || p >= w.off+int64(len(w.buf)) {
			w.fill(p)
		}
		b := w.buf[p-w.off:]
		if len(b) == 0 {
			return -1
		}
		if i := bytes.IndexByte(b, c); i >= 0 {
			return p + int64(i)
		}
		p += int64(len(b))
	}
	return -1
}

// read returns a copy of bytes [from, to).
func (w *window) read(from, to int64) ([]byte, error) {
	out := make([]byte, to-from)
	if _, err := w.r.ReadAt(out, from); err != nil && !(errors.Is(err, io.EOF) && to == w.n) {
		return nil, err
	}
	return out, nil
}

// scanner finds record boundaries exactly as the transform's CSV reader
// does (internal/transform, csv.go).
type scanner struct {
	w   *window
	err error
	// broken is whether the last record read could not be parsed.
	broken bool
}

// skipBlank moves *p past blank lines ("\n" and "\r\n"), which hold no row.
func (s *scanner) skipBlank(p *int64) {
	w := s.w
	for *p < w.n {
		switch {
		case w.at(*p) == '\n':
			*p++
		case w.at(*p) == '\r' && w.has(*p, 2) && w.at(*p+1) == '\n':
			*p += 2
		default:
			return
		}
	}
}

// eol returns the position just past the line that starts at p.
func (s *scanner) eol(p int64) int64 {
	if i := s.w.index(p, '\n'); i >= 0 {
		return i + 1
	}
	return s.w.n
}

// lineEnd reports whether p is at a line end: "\n" or "\r\n".
func (s *scanner) lineEnd(p int64) bool {
	w := s.w
	return w.at(p) == '\n' || (w.at(p) == '\r' && w.has(p, 2) && w.at(p+1) == '\n')
}

// record reads the record that starts at p (after any blank lines) and
// returns where the next one may start, and the furthest position whose
// byte decided how this record was read (a cut before it could change that);
// ok is false when only blank lines were left.
func (s *scanner) record(p int64) (next, extent int64, ok bool) {
	s.skipBlank(&p)
	if p >= s.w.n {
		return p, p, false
	}
	if s.w.err != nil {
		s.err = s.w.err
		return p, p, false
	}
	s.broken = false
	next, extent = s.fields(p)
	return next, extent, true
}

// fields reads the fields of the record that starts at p; see record.
func (s *scanner) fields(p int64) (next, extent int64) {
	w := s.w
	start := p
	// Fast path: a line without quotes is one record.
	eol := s.eol(p)
	if line := w.slice(p, eol-p); int64(len(line)) == eol-p && bytes.IndexByte(line, '"') < 0 {
		return eol, eol
	}
	broken := func() (int64, int64) { // resume on the next line
		s.broken = true
		return s.eol(start), s.eol(start)
	}
	for {
		if p < w.n && w.at(p) == '"' {
			// A quoted field: up to a quote that is not doubled.
			p++
			for {
				q := w.index(p, '"')
				if q < 0 {
					// Unterminated: read so whatever the cut after the
					// record's first line, since it is unterminated there too.
					return broken()
				}
				p = q + 1
				if p < w.n && w.at(p) == '"' {
					p++
					continue
				}
				break
			}
			switch {
			case p >= w.n:
				return p, p
			case w.at(p) == ',':
				p++
				if p >= w.n || s.lineEnd(p) {
					return s.endLine(p)
				}
				continue
			case s.lineEnd(p):
				return s.endLine(p)
			default:
				// Text after a closing quote: the row is broken, and what
				// decided it lies at p, perhaps lines below its first.
				next, _ := broken()
				return next, max(next, p+1)
			}
		}
		// An unquoted field: up to the next comma or line end; a quote
		// inside it is taken literally.
		for p < w.n && w.at(p) != ',' && w.at(p) != '\n' {
			p++
		}
		if p >= w.n {
			return p, p
		}
		if w.at(p) == '\n' {
			return p + 1, p + 1
		}
		p++ // the comma
		if p >= w.n || s.lineEnd(p) {
			return s.endLine(p)
		}
	}
}

// endLine returns the end of a record whose last field ends at p (a line end or the end of the data).
func (s *scanner) endLine(p int64) (int64, int64) {
	w := s.w
	if p < w.n && w.at(p) == '\r' {
		p++
	}
	if p < w.n && w.at(p) == '\n' {
		p++
	}
	return p, p
}
