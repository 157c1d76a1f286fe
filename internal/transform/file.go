package transform

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/bits"
	"os"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/quarantine"
	"github.com/grpipe/grpipe/internal/text"
)

// FileStats counts what validation did with one input file.
type FileStats struct {
	Source   string // the file's name in the working zone
	Bytes    int64
	Read     int64 // data records (blank lines are not records)
	Rejected int64
	Valid    int64
}

// FileError is a whole input file refused: a missing required column, too many
// rejected rows, an empty file. The file stays in the working zone.
type FileError struct {
	Source string
	Reason string
}

func (e *FileError) Error() string { return fmt.Sprintf("file %s: %s", e.Source, e.Reason) }

// Unwrap makes a FileError an ErrBadInput.
func (e *FileError) Unwrap() error { return grpipe.ErrBadInput }

// MaxRowBytes bounds one clean row: a longer one is quarantined (DuckDB
// reads the clean rows with a line limit just above it).
const MaxRowBytes = 8 << 20

// rawText is a rejected row's text for the quarantine: valid UTF-8, and cut
// after MaxRowBytes with a note saying how long it was.
func rawText(raw []byte) string {
	if len(raw) > MaxRowBytes {
		return string(bytes.ToValidUTF8(raw[:MaxRowBytes], []byte("\uFFFD"))) + fmt.Sprintf("…[cut: the row is %d bytes]", len(raw))
	}
	return string(bytes.ToValidUTF8(raw, []byte("\uFFFD")))
}

// rowCleaner validates and cleans rows of one entity. It is the seam
// between an input format, which reads records and names their fields, and
// the entity's clean output: whatever the format, a row is a list of raw
// field values plus, for each of the entity's columns, the index of its
// value in that list (or -1: the input lacks the column, NULL). The CSV
// reader below maps columns by header name; other formats build the same
// mapping from their own field names.
type rowCleaner struct {
	cols    []grpipe.Column
	mapping []int
	// keyCol and tsCol are the positions of the id and of
	// record_create_timestamp in cols. Every entity has both, a BIGINT id
	// and a Timestamp (the dedup's keys are made of them); predup is whether
	// they are so here.
	keyCol, tsCol int
	predup        bool
}

func newRowCleaner(e grpipe.Entity, mapping []int) *rowCleaner {
	c := &rowCleaner{cols: e.Columns, mapping: mapping, keyCol: -1, tsCol: -1}
	for i, col := range e.Columns {
		switch col.Name {
		case e.Key:
			c.keyCol = i
		case grpipe.TimestampColumn:
			c.tsCol = i
		}
	}
	c.predup = c.keyCol >= 0 && c.tsCol >= 0 && e.Columns[c.keyCol].Type == grpipe.BigInt && e.Columns[c.tsCol].Type == grpipe.Timestamp
	return c
}

// appendRow appends the clean form of a row to dst: the entity's columns in
// order, tab-separated (no ordinal, no line end). It returns the row's id and
// packed timestamp (when predup is set), or the reason and column that make
// the row unusable.
func (c *rowCleaner) appendRow(dst []byte, fields [][]byte) (row []byte, id, ts int64, reason, column string) {
	for i := range c.cols {
		col := &c.cols[i]
		if i > 0 {
			dst = append(dst, '\t')
		}
		var in []byte
		if src := c.mapping[i]; src >= 0 {
			in = fields[src]
		}
		// Fast paths for the values that need no rewriting; appendValue
		// decides everything else, and says why a value is refused.
		if n := len(in); n > 0 {
			switch col.Type {
			case grpipe.Text:
				if out, ok := text.AppendCleanValid(dst, in, col.HTML); ok {
					dst = out
					continue
				}
			case grpipe.BigInt, grpipe.Int, grpipe.SmallInt:
				if v, ok := smallInt(in); ok && v <= maxOf(col.Type) {
					dst = append(dst, in...)
					if c.predup && i == c.keyCol {
						id = v
					}
					continue
				}
			case grpipe.GoodreadsTS:
				// Accepted, it starts with a letter and ends with a
				// digit: appendValue would not trim it.
				if out, ok := appendGoodreadsTime(dst, in); ok {
					if y, _ := digits(out, len(dst), 4); y >= grpipe.MinTimestampYear && y <= grpipe.MaxTimestampYear {
						dst = out
						continue
					}
				}
			case grpipe.Double:
				// Digits with an optional fraction stay as given (see
				// appendValue); a review_rating when it is one digit, 0 to 5.
				if plainDecimal(in) && (n == 1 && in[0] <= '5' || col.Name != "review_rating") {
					dst = append(dst, in...)
					continue
				}
			case grpipe.Timestamp:
				if packed, ok := cleanTimestamp(in); ok {
					dst = append(dst, in...)
					if c.predup && i == c.tsCol {
						ts = packed
					}
					continue
				}
			}
		}
		at := len(dst)
		var why string
		dst, why = appendValue(dst, *col, in)
		if why != "" {
			return dst, 0, 0, why, col.Name
		}
		if c.predup {
			switch i {
			case c.keyCol:
				id = parseDigits(dst[at:])
			case c.tsCol:
				ts = packTimestamp(dst[at:])
			}
		}
	}
	return dst, id, ts, "", ""
}

// appendDec appends v in decimal, as strconv.AppendInt(dst, v, 10) does,
// writing the digits in place when dst has room for them: eight at a time
// below the top ones, as two independent halves of four (a packed timestamp
// has 19 digits; one pair at a time made a chain of nine 64-bit divisions,
// 8 % of the validation pass of authors).
func appendDec(dst []byte, v int64) []byte {
	if v < 0 || cap(dst)-len(dst) < 20 {
		return strconv.AppendInt(dst, v, 10)
	}
	u := uint64(v)
	// Digits: about log10(2) = 1233/4096 per bit, one more at a power of ten.
	n := bits.Len64(u) * 1233 >> 12
	if n < len(pow10) && u >= pow10[n] {
		n++
	}
	n = max(n, 1)
	l := len(dst)
	dst = dst[:l+n]
	i := l + n // the digits before i are still to write
	for u >= 1e8 {
		q := u / 1e8
		r := uint32(u - q*1e8)
		put4(dst[i-8:], r/10000)
		put4(dst[i-4:], r%10000)
		i -= 8
		u = q
	}
	w := uint32(u)
	for w >= 100 {
		q := w / 100
		r := (w - q*100) * 2
		dst[i-1], dst[i-2] = digitPairs[r+1], digitPairs[r]
		i -= 2
		w = q
	}
	if w >= 10 {
		dst[i-1], dst[i-2] = digitPairs[w*2+1], digitPairs[w*2]
	} else {
		dst[i-1] = byte('0' + w)
	}
	return dst
}

// put4 writes v (0-9999) as four digits at b.
func put4(b []byte, v uint32) {
	_ = b[3]
	hi, lo := v/100*2, v%100*2
	b[0], b[1], b[2], b[3] = digitPairs[hi], digitPairs[hi+1], digitPairs[lo], digitPairs[lo+1]
}

// digitPairs holds "00" to "99": the two digits of r at 2r and 2r+1.
const digitPairs = "00010203040506070809" + "10111213141516171819" + "20212223242526272829" + "30313233343536373839" +
	"40414243444546474849" + "50515253545556575859" + "60616263646566676869" + "70717273747576777879" +
	"80818283848586878889" + "90919293949596979899"

// pow10[i] is 10 to the power i.
var pow10 = [...]uint64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19}

// parseDigits parses a clean, non-negative integer.
func parseDigits(b []byte) int64 {
	var v int64
	for _, c := range b {
		v = v*10 + int64(c-'0')
	}
	return v
}

// cleanTimestamp reports whether in is a timestamp already in its clean
// form, "YYYY-MM-DD HH:MM:SS.ffffff" (UTC, a date that exists, a year
// within the accepted ones), and returns it packed (see packTimestamp).
func cleanTimestamp(in []byte) (int64, bool) {
	if len(in) != 26 || in[4] != '-' || in[7] != '-' || in[10] != ' ' || in[13] != ':' || in[16] != ':' || in[19] != '.' {
		return 0, false
	}
	// The digits, eight bytes at a time ("YYYY-MM-", "DD HH:MM", ":SS.ffff"),
	// then the last two (a byte less '0' is a digit when it is at most 9:
	// a byte below '0' wraps around to 0xd0 or more).
	if !digitsAt(binary.LittleEndian.Uint64(in), 0x00ffff00ffffffff) ||
		!digitsAt(binary.LittleEndian.Uint64(in[8:]), 0xffff00ffff00ffff) ||
		!digitsAt(binary.LittleEndian.Uint64(in[16:]), 0xffffffff00ffff00) ||
		in[24]-'0' > 9 || in[25]-'0' > 9 {
		return 0, false
	}
	d := func(i int) int64 { return int64(in[i] - '0') }
	y := d(0)*1000 + d(1)*100 + d(2)*10 + d(3)
	mo, day := d(5)*10+d(6), d(8)*10+d(9)
	h, mi, s := d(11)*10+d(12), d(14)*10+d(15), d(17)*10+d(18)
	micros := ((((d(20)*10+d(21))*10+d(22))*10+d(23))*10+d(24))*10 + d(25)
	if y < grpipe.MinTimestampYear || y > grpipe.MaxTimestampYear || !validDate(int(y), int(mo), int(day)) || h > 23 || mi > 59 || s > 59 {
		return 0, false
	}
	return (((((y<<4|mo)<<5|day)<<5|h)<<6|mi)<<6|s)<<20 | micros, true
}

// digitsAt reports whether the bytes of w (eight bytes read little-endian)
// that mask m selects (0xff each) are ASCII digits: a digit has the high
// nibble 3, and adding 6 to it leaves it so (a low nibble of 10 or more
// carries into it). Only the selected bytes get the 6: a byte that is not
// a digit may carry into the byte above it, but fails on its own.
func digitsAt(w, m uint64) bool {
	hi, want := m&0xf0f0f0f0f0f0f0f0, m&0x3030303030303030
	return w&hi == want && (w+m&0x0606060606060606)&hi == want
}

// packTimestamp packs a clean timestamp "YYYY-MM-DD HH:MM:SS.ffffff" into an
// integer whose order is the timestamps' order.
func packTimestamp(b []byte) int64 {
	d := func(i, n int) int64 {
		var v int64
		for _, c := range b[i : i+n] {
			v = v*10 + int64(c-'0')
		}
		return v
	}
	if len(b) != 26 {
		return 0
	}
	v := d(0, 4)
	v = v<<4 | d(5, 2)
	v = v<<5 | d(8, 2)
	v = v<<5 | d(11, 2)
	v = v<<6 | d(14, 2)
	v = v<<6 | d(17, 2)
	return v<<20 | d(20, 6)
}

// cleanOut receives the clean rows and rejects of one range of an input:
// clean rows to <base>.tsv (tab-separated, the entity's columns and the
// ordinal), their keys (id, packed timestamp, ordinal) to <base>.tsv.keys,
// rejected rows to <base>.rejects.csv with lines counted from the range's
// start.
//
// Rows that the predup does not hold are built in place at the end of the
// clean file's buffer (see direct), so a row is copied once, by the write.
type cleanOut struct {
	base    string
	w, kw   outFile
	rf      *os.File
	rw      *quarantine.Writer
	pd      *predup
	written int64
	// merge, when set, takes the rows pd still holds at close (the file's
	// merger) instead of this range's files; merged says it took some.
	merge  *merger
	merged bool
}

func (o *cleanOut) cleanPath() string   { return o.base + ".tsv" }
func (o *cleanOut) keysPath() string    { return o.base + ".tsv.keys" }
func (o *cleanOut) rejectsPath() string { return o.base + ".rejects.csv" }

func newCleanOut(base string, predup bool, sizeHint int, arenas *predupPool, merge *merger) (*cleanOut, error) {
	o := &cleanOut{base: base, merge: merge}
	if err := o.w.create(o.cleanPath(), outChunk); err != nil {
		return nil, err
	}
	if err := o.kw.create(o.keysPath(), outChunk/4); err != nil {
		o.w.f.Close()
		return nil, err
	}
	if predup {
		o.pd = newPredup(sizeHint, arenas, o.emit)
	}
	return o, nil
}

// outChunk is how many bytes of clean rows are written at a time: a buffer
// that stays in the core's cache between the rows built in it and the
// write that copies them out. On the validation benchmark (2026-12-03,
// load 3.3), 64 KiB gave authors 177-206 MB/cpu-s and reviews 214, 256 KiB
// 143-163 and 189-209, 1 MiB 178-188 and 193-218.
const outChunk = 64 << 10

// outFile is a file written from a buffer that callers append to directly.
type outFile struct {
	f     *os.File
	path  string
	buf   []byte
	chunk int // write when the buffer holds this much
}

func (w *outFile) create(path string, chunk int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w.f, w.path, w.chunk = f, path, chunk
	w.buf = make([]byte, 0, chunk+chunk/4)
	return nil
}

// full writes the buffer out when it holds a chunk.
func (w *outFile) full() error {
	if len(w.buf) < w.chunk {
		return nil
	}
	return w.flush()
}

func (w *outFile) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.f.Write(w.buf)
	w.buf = w.buf[:0]
	if err != nil {
		return fmt.Errorf("write %s: %w", w.path, err)
	}
	return nil
}

// close writes out the buffer and closes the file.
func (w *outFile) close() error {
	err := w.flush()
	if cerr := w.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("write %s: %w", w.path, cerr)
	}
	w.buf = nil
	return err
}

// emit writes a clean row and its keys line.
func (o *cleanOut) emit(row []byte, r predupRow) error {
	o.w.buf = append(o.w.buf, row...)
	return o.committed(o.w.buf[len(o.w.buf)-len(row):], r.id, r.ts, int(r.ordAt))
}

// committed writes the keys line of a clean row now at the end of the
// clean file's buffer, and the buffers when full.
func (o *cleanOut) committed(row []byte, id, ts int64, ordAt int) error {
	k := appendDec(o.kw.buf, id)
	k = append(k, '\t')
	k = appendDec(k, ts)
	o.kw.buf = append(k, row[ordAt:]...)
	o.written++
	if err := o.w.full(); err != nil {
		return err
	}
	return o.kw.full()
}

// direct reports whether the next row goes straight to the clean file (no
// predup, or one that turned itself off): the caller then builds it at the
// end of o.w.buf and calls committed, instead of row.
func (o *cleanOut) direct() bool { return o.pd == nil || o.pd.off }

// row takes a valid clean row ending with "\t<ordinal>\n", its ordinal at ordAt.
func (o *cleanOut) row(row []byte, id, ts int64, ordAt int) error {
	if o.pd != nil {
		return o.pd.add(row, id, ts, ordAt)
	}
	return o.emit(row, predupRow{id: id, ts: ts, ordAt: int32(ordAt)})
}

func (o *cleanOut) reject(r quarantine.Row) error {
	if o.rw == nil {
		f, err := os.Create(o.rejectsPath())
		if err != nil {
			return err
		}
		o.rf = f
		if o.rw, err = quarantine.NewWriter(bufio.NewWriterSize(f, 64<<10)); err != nil {
			return err
		}
	}
	return o.rw.Write(r)
}

// close writes out what is held (or hands it to the file's merger) and
// closes the files. It lets go of the buffers at once: a finished span waits
// for the others of its file, and its predup's arena must not wait with it.
func (o *cleanOut) close() error {
	if o.w.buf == nil {
		return nil // closed already
	}
	var errs []error
	if o.pd != nil {
		if o.merge != nil && !o.pd.off && len(o.pd.rows) > 0 {
			o.merged = true
			errs = append(errs, o.merge.take(o.pd))
		} else {
			errs = append(errs, o.pd.flush())
		}
		o.pd.release()
	}
	errs = append(errs, o.w.close(), o.kw.close())
	if o.rw != nil {
		errs = append(errs, o.rw.Flush())
		errs = append(errs, o.rf.Close())
	}
	o.pd, o.rw, o.merge = nil, nil, nil
	return errors.Join(errs...)
}

// span is a range of an input file validated on its own: the records that
// start in [from, end). A span's from is a guess at a record boundary (the
// start of a line) until the span before it has been read: it is right when
// that span's reading stopped exactly where this span's first record
// starts, and read again from there when not.
type span struct {
	n         int
	from, end int
	// first is where the span's first record starts (stop when it has none),
	// stop where the record after its last starts; firstLine and stopLine
	// are their lines counted from from (line 1).
	first, stop         int
	firstLine, stopLine int64
	read, rejected      int64
	out                 *cleanOut
	base                int64 // the file's line number of the span's line 1, once checked
}

// csvFile is one CSV input file being validated in spans.
type csvFile struct {
	src     Source
	base    string // path prefix of its work files
	ordBase int64
	data    []byte // the file, after any byte order mark
	unmap   func()
	size    int64
	rc      *rowCleaner
	width   int   // the header's field count
	body    int   // where the records after the header start
	line    int64 // the line number of body
	spans   []*span
	arenas  *predupPool // predup buffers, shared by the files of a transform
	// merge holds the winners of the spans' predups for the whole file (a
	// file of several spans whose entity has them); mergeLimit, when set,
	// bounds its arena (tests; 0: predupLimit).
	merge      *merger
	mergeLimit int
	// progress, when set, counts the bytes and records read (Options.Progress).
	progress func(bytes, records int64)
}

// openCSV maps the file, reads its header and matches it to the entity's
// columns. A file that cannot be used whole returns a *FileError.
func openCSV(log *slog.Logger, src Source, base string, ordBase int64) (*csvFile, error) {
	data, unmap, err := mapFile(src.Path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", src.Name, err)
	}
	f := &csvFile{src: src, base: base, ordBase: ordBase, unmap: unmap, size: int64(len(data))}
	sc := newScanner(data)
	f.data = sc.data
	var hdr record
	if !sc.next(&hdr) {
		unmap()
		return f, &FileError{Source: src.Name, Reason: "the file is empty: a header row with the column names is required"}
	}
	if hdr.err != "" {
		unmap()
		return f, &FileError{Source: src.Name, Reason: "the header row cannot be parsed: " + hdr.err}
	}
	if bytes.IndexByte(hdr.raw, '\r') >= 0 {
		unmap()
		return f, &FileError{Source: src.Name, Reason: "the header row holds a carriage return: the file ends its lines with a carriage return only (old Mac style); convert it to LF or CRLF line ends (e.g. tr '\\r' '\\n')"}
	}
	mapping, err := mapHeader(log, src.Entity, src.Name, hdr.fields)
	if err != nil {
		unmap()
		return f, err
	}
	f.rc = newRowCleaner(src.Entity, mapping)
	f.width = len(hdr.fields)
	f.body, f.line = sc.pos, sc.line
	return f, nil
}

// split cuts the file's records into spans of about size bytes, each
// starting at a line start (preferably one that starts with a digit, as an
// id does): a guess at a record boundary that reading checks.
func (f *csvFile) split(size int) {
	n := len(f.data)
	from := f.body
	for {
		end := n
		if n-from > size+size/2 {
			end = guessBoundary(f.data, from+size)
		}
		f.spans = append(f.spans, &span{n: len(f.spans), from: from, end: end})
		if end >= n {
			if len(f.spans) > 1 && f.rc.predup {
				f.merge = newMerger(f.base+"-merged", f.mergeLimit)
			}
			return
		}
		from = end
	}
}

func guessBoundary(data []byte, p int) int {
	first := -1
	for tries := 0; tries < 64 && p < len(data); tries++ {
		i := bytes.IndexByte(data[p:], '\n')
		if i < 0 {
			break
		}
		p += i + 1
		if first < 0 {
			first = p
		}
		if p < len(data) && data[p] >= '0' && data[p] <= '9' {
			return p
		}
	}
	if first < 0 {
		return len(data)
	}
	return first
}

// read validates the records of span sp.
func (f *csvFile) read(ctx context.Context, sp *span) (err error) {
	progress := f.progress
	if sp.out != nil { // read again from a corrected start
		sp.out.close()
		progress = nil // counted the first time
	}
	sp.read, sp.rejected = 0, 0
	// The clean rows of a span, with their ordinals, may take more room than
	// its input (a predup's arena sized to the input alone grew by copying).
	size := sp.end - sp.from
	sp.out, err = newCleanOut(fmt.Sprintf("%s-%03d", f.base, sp.n), f.rc.predup, size+size/4, f.arenas, f.merge)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := sp.out.close(); err == nil {
			err = cerr
		}
	}()
	out := sp.out
	sc := scanRange(f.data, sp.from, sp.end)
	var rec record
	var row []byte
	released := (sp.from + 4095) &^ 4095
	sp.first, sp.firstLine = -1, 0
	counted, countedAt := int64(0), sp.from
	for sc.next(&rec) {
		if sp.first < 0 {
			sp.first, sp.firstLine = rec.at, rec.line
		}
		if sp.read&0xfff == 0 {
			released = release(f.data, rec.raw, released)
			if sp.read&0xffff == 0 {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if progress != nil && rec.at > countedAt {
					progress(int64(rec.at-countedAt), sp.read-counted)
					counted, countedAt = sp.read, rec.at
				}
			}
		}
		sp.read++
		reason, column := "", ""
		switch {
		case rec.err != "":
			reason = rec.err
		case len(rec.fields) != f.width:
			reason = fmt.Sprintf("expected %d fields as in the header, found %d", f.width, len(rec.fields))
		default:
			reason, column, err = f.cleanRow(out, &rec, &row)
			if err != nil {
				return err
			}
			if reason == "" {
				continue
			}
		}
		sp.rejected++
		if err := out.reject(quarantine.Row{SourceFile: f.src.Name, Line: rec.line, Column: column, Reason: reason, Raw: rawText(rec.raw)}); err != nil {
			return err
		}
	}
	sc.skipBlank() // as the next span's reading does
	if sp.first < 0 {
		sp.first, sp.firstLine = sc.pos, sc.line
	}
	sp.stop, sp.stopLine = sc.pos, sc.line
	if progress != nil && sp.stop > countedAt {
		progress(int64(sp.stop-countedAt), sp.read-counted)
	}
	if hi := min(sp.stop, len(f.data)) &^ 4095; hi > released {
		dropPages(f.data[released:hi])
	}
	return nil
}

// cleanRow cleans the record rec and hands the row to out, or returns why
// it is rejected. A row for the clean file is built at the end of its
// buffer; one for the predup in *scratch.
func (f *csvFile) cleanRow(out *cleanOut, rec *record, scratch *[]byte) (reason, column string, err error) {
	direct := out.direct()
	row, at := (*scratch)[:0], 0
	if direct {
		row = out.w.buf
		at = len(row)
	} else if src := f.rc.mapping[f.rc.keyCol]; src >= 0 {
		if id, ok := smallInt(rec.fields[src]); ok {
			out.pd.warmRow(id) // its held row loads while this one is cleaned
		}
		if src == 0 {
			out.pd.warm(peekID(f.data, rec.at+len(rec.raw)+1)) // the next row's index entry (after a LF line end)
		}
	}
	var id, ts int64
	row, id, ts, reason, column = f.rc.appendRow(row, rec.fields)
	if n := len(row) - at; reason == "" && n > MaxRowBytes {
		reason = fmt.Sprintf("row is %d bytes after cleaning, over the limit of %d bytes a row", n, MaxRowBytes)
	}
	if reason != "" {
		if direct {
			out.w.buf = row[:at]
		} else {
			*scratch = row
		}
		return reason, column, nil
	}
	ordAt := len(row) - at
	row = append(row, '\t')
	row = appendDec(row, f.ordBase+int64(rec.at))
	row = append(row, '\n')
	if direct {
		out.w.buf = row
		return "", "", out.committed(row[at:], id, ts, ordAt)
	}
	*scratch = row
	return "", "", out.row(row, id, ts, ordAt)
}

// peekID reads the id that probably starts the record at data[at:] (the
// next record): its leading digits up to a comma, or -1. A guess for
// predup.warm, which a blank line, a quote or a bad id only makes useless.
func peekID(data []byte, at int) int64 {
	if at < 0 || at >= len(data) {
		return -1
	}
	end := min(at+19, len(data))
	v := int64(0)
	for i := at; i < end; i++ {
		c := data[i]
		if c == ',' && i > at {
			return v
		}
		if c-'0' > 9 {
			return -1
		}
		v = v*10 + int64(c-'0')
	}
	return -1
}

// finish checks the spans' starts, reading again a span whose guessed start
// was not a record boundary, gathers the rejected rows into the file's
// quarantine file (rejects, with the file's line numbers) in file order, and
// returns the file's counts and clean files. A file with more rejected rows
// than maxRejectRatio allows returns a *FileError.
func (f *csvFile) finish(ctx context.Context, log *slog.Logger, rejects *quarantine.Writer, maxRejectRatio float64) (FileStats, []string, error) {
	st := FileStats{Source: f.src.Name, Bytes: f.size}
	defer f.unmap()
	defer f.dropMerge() // on an error; finish lets go of it otherwise
	if f.merge != nil && f.merge.used() && f.startWrong() {
		// A span to read again may have handed the merger rows that are no
		// records: let it go, and read again every span that handed it rows.
		log.Debug(msgMergeDropped, "file", f.src.Name)
		err := f.merge.discard()
		f.merge = nil
		if err != nil {
			return st, nil, err
		}
	}
	base := f.line // the file's line number of the current span's line 1
	for i, sp := range f.spans {
		again := f.merge == nil && sp.out.merged
		if i > 0 {
			prev := f.spans[i-1]
			if prev.stop != sp.first {
				log.Debug(msgSpanAgain, "file", f.src.Name, "span", i, "guessed", sp.from, "start", prev.stop)
				sp.from = prev.stop
				again = true
			}
		}
		if again {
			if err := f.read(ctx, sp); err != nil {
				return st, nil, err
			}
		}
		if i > 0 {
			prev := f.spans[i-1]
			// The line of prev.stop, counted from the file's start and from sp.from.
			base = base + prev.stopLine - 1 - (sp.firstLine - 1)
		}
		sp.base = base
		st.Read += sp.read
		st.Rejected += sp.rejected
		st.Valid += sp.read - sp.rejected
	}
	var clean []string
	if f.merge != nil {
		merged, rows, err := f.merge.finish()
		f.merge = nil
		if err != nil {
			return st, nil, err
		}
		if merged != "" {
			log.Debug(msgMerged, "file", f.src.Name, "rows", rows)
			clean = append(clean, merged)
		}
	}
	for _, sp := range f.spans {
		if sp.out.written > 0 {
			clean = append(clean, sp.out.cleanPath())
		}
		if sp.rejected == 0 {
			continue
		}
		if err := copyRejects(sp.out.rejectsPath(), sp.base, rejects); err != nil {
			return st, nil, err
		}
	}
	if st.Read > 0 && float64(st.Rejected) > maxRejectRatio*float64(st.Read) {
		return st, nil, &FileError{Source: f.src.Name, Reason: fmt.Sprintf(
			"%d of %d rows rejected (%.2f%%), over the bound of %.2f%% (setting max_reject_ratio): nothing of this file was loaded; see the quarantine zone for the reasons, fix the file and land it again",
			st.Rejected, st.Read, 100*float64(st.Rejected)/float64(st.Read), 100*maxRejectRatio)}
	}
	return st, clean, nil
}

// msgSpanAgain is logged for a span read again from its corrected start.
const msgSpanAgain = "span start was inside a record: read again"

// msgMerged is logged when a file's merger wrote the winners of its spans.
const msgMerged = "the spans' winners merged"

// msgMergeDropped is logged when a file's merger is discarded because a
// span is read again.
const msgMergeDropped = "span read again: the file's merged winners dropped, spans that gave them read again"

// startWrong reports whether a span's guessed start was inside a record
// (finish reads it again): the first such span is one whose start differs
// from where the span before it, read from a right start, stopped.
func (f *csvFile) startWrong() bool {
	for i := 1; i < len(f.spans); i++ {
		if f.spans[i-1].stop != f.spans[i].first {
			return true
		}
	}
	return false
}

// dropMerge discards the file's merger, if any (a file that failed).
func (f *csvFile) dropMerge() {
	if f.merge != nil {
		f.merge.discard()
		f.merge = nil
	}
}

// copyRejects copies the rejected rows of a span's quarantine file to w,
// turning their lines (counted from the span's line 1) into the file's.
func copyRejects(path string, base int64, w *quarantine.Writer) error {
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	r, err := quarantine.NewReader(bufio.NewReaderSize(in, 64<<10))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for {
		row, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		row.Line += base - 1
		if err := w.Write(row); err != nil {
			return err
		}
	}
}

// cleanFile validates the CSV file at path, the working-zone object source of
// entity e, one span after the other on the calling goroutine, writing clean
// files named after base and its rejected rows to rejects. It returns the
// file's counts and its clean files (see cleanOut). The predups take their
// buffers from arenas (nil: new ones), as a transform's workers do.
func cleanFile(ctx context.Context, log *slog.Logger, e grpipe.Entity, path, source string, ordBase int64, base string, rejects *quarantine.Writer, maxRejectRatio float64, arenas *predupPool) (FileStats, []string, error) {
	f, err := openCSV(log, Source{Entity: e, Name: source, Path: path}, base, ordBase)
	if err != nil {
		return FileStats{Source: source, Bytes: f.sizeOr0()}, nil, err
	}
	f.arenas = arenas
	f.split(spanBytes)
	for _, sp := range f.spans {
		if err := f.read(ctx, sp); err != nil {
			f.dropMerge()
			f.unmap()
			return FileStats{Source: source}, nil, err
		}
	}
	return f.finish(ctx, log, rejects, maxRejectRatio)
}

func (f *csvFile) sizeOr0() int64 {
	if f == nil {
		return 0
	}
	return f.size
}

// spanBytes is the default size of a span.
const spanBytes = 256 << 20

// mapHeader matches header names to the entity's columns: mapping[i] is the
// index in the file of e.Columns[i], or -1 when the file lacks it.
func mapHeader(log *slog.Logger, e grpipe.Entity, source string, header [][]byte) ([]int, error) {
	pos := make(map[string]int, len(header))
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(string(h)))
		if _, dup := pos[name]; dup {
			return nil, &FileError{Source: source, Reason: fmt.Sprintf("column %q appears twice in the header", clip([]byte(name)))}
		}
		pos[name] = i
	}
	mapping := make([]int, len(e.Columns))
	var missing []string
	for i, c := range e.Columns {
		j, ok := pos[c.Name]
		if !ok {
			mapping[i] = -1
			if c.Required {
				missing = append(missing, c.Name)
			} else {
				log.Warn("column missing from file: loaded as NULL", "file", source, "column", c.Name)
			}
			continue
		}
		mapping[i] = j
		delete(pos, c.Name)
	}
	if len(missing) > 0 {
		return nil, &FileError{Source: source, Reason: fmt.Sprintf(
			"required column %s missing from the header (a %s file needs %s)",
			strings.Join(missing, ", "), e.FilePrefix, strings.Join(e.ColumnNames(), ","))}
	}
	if len(pos) > 0 {
		// One warning for all of them, naming the first few in header
		// order: a header of a million unknown columns is one line of log.
		unknown := make([]int, 0, len(pos))
		for _, i := range pos {
			unknown = append(unknown, i)
		}
		slices.Sort(unknown)
		var names []string
		for _, i := range unknown[:min(len(unknown), maxNamedColumns)] {
			names = append(names, clip(header[i]))
		}
		attrs := []any{"file", source, "count", len(unknown), "columns", strings.Join(names, ", ")}
		if len(unknown) > maxNamedColumns {
			attrs = append(attrs, "more", len(unknown)-maxNamedColumns)
		}
		log.Warn("unknown columns ignored", attrs...)
	}
	return mapping, nil
}

// maxNamedColumns is how many unknown columns a warning names.
const maxNamedColumns = 10

// releaseChunk is how much read input is let go of at a time. With the
// check every 4,096 records, a worker keeps about 10 MB of its input
// resident (the 11.4 GB batch's validation held 25-65 MB of mapped input
// with 16 MB chunks checked every 65,536 records).
const releaseChunk = 8 << 20

// release drops the pages of data before the record cur from the process's
// resident memory (they stay in the page cache), so that validating a big
// file does not grow the process by the file's size. released is the offset
// already dropped; release returns the new one.
func release(data, cur []byte, released int) int {
	if len(cur) == 0 || len(data) == 0 {
		return released
	}
	at := int(uintptr(unsafe.Pointer(unsafe.SliceData(cur))) - uintptr(unsafe.Pointer(unsafe.SliceData(data))))
	if at < 0 || at > len(data) {
		return released
	}
	upto := at &^ (releaseChunk - 1)
	if upto-released < releaseChunk {
		return released
	}
	dropPages(data[released:upto])
	return upto
}
