// Package bookgraph reads the UCSD Book Graph dumps (Wan & McAuley; gzip JSON
// Lines: goodreads_books, goodreads_book_authors, goodreads_reviews_dedup and
// its byGenre and spoiler variants) as a stream of records, each the rows
// of the four entities one line yields, or the reason the line is rejected.
//
// The file is read as a stream: gzip (sniffed by its magic bytes, so a
// decompressed .json reads too) is inflated in a goroutine of its own, which
// cuts the text into chunks of whole lines; the lines are decoded either one
// after the other (Reader.Next) or chunk by chunk on several goroutines, each
// with its own Decoder (Reader.NextChunk). Memory stays bounded whatever the
// file size: a few 4 MiB blocks, and one line of at most MaxLineBytes.
//
// Mapping (see README "Run on real Goodreads data"):
//   - review_id and user_id, 32 hex digits, become 2^62 + (first 16 hex
//     digits >> 2) (HashedID); the original key is reported as a SourceKey.
//   - A review line yields a review and a user (the user id only, every other
//     column NULL). author_id is left NULL: the warehouse fills it from the
//     book's first author.
//   - record_create_timestamp: a review's date_updated in UTC (else its
//     date_added, else the snapshot time); books, authors and users take the
//     snapshot time (Options.Snapshot, default DefaultSnapshot).
//   - A JSON null, a missing key or "" is NULL; for an id it rejects the line.
//     Unknown keys are ignored; numbers given as strings (the metadata files'
//     convention) and as JSON numbers both read.
package bookgraph

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"

	grpipe "github.com/grpipe/grpipe"
)

// MaxLineBytes bounds one line; a longer one is rejected without being held whole.
const MaxLineBytes = 64 << 20

// blockSize is the size of the blocks of decompressed text the inflating
// goroutine fills and cuts into chunks; at most blocksInFlight of them
// exist at once (besides one grown for a line longer than a block).
const (
	blockSize      = 4 << 20
	blocksInFlight = 8
)

// Options configure a Reader.
type Options struct {
	// Format is one of the UCSD formats of grpipe.InputForFile.
	Format grpipe.Format
	// Snapshot is the record_create_timestamp of the books, authors and users
	// a dump yields; zero means DefaultSnapshot.
	Snapshot time.Time
	// MaxLineBytes bounds one line; zero means MaxLineBytes.
	MaxLineBytes int
}

// Reader yields the records of one dump file, one at a time (Next), or its
// chunks of whole lines for decoding in parallel (NextChunk, NewDecoder).
// Use one or the other on a Reader, not both.
type Reader struct {
	opts    Options
	counter *countingReader
	chunks  chan *Chunk
	free    chan []byte
	made    atomic.Int32 // blocks made and not dropped
	stop    chan struct{}
	wg      sync.WaitGroup
	closed  bool
	done    bool
	pending error // the stream's error, set before chunks is closed
	after   int64 // the lines before the error, set with pending
	err     error

	dec    *Decoder // Next's
	cur    *Chunk
	lineNo int64
}

// Chunk is a run of whole lines of the file, in order.
type Chunk struct {
	// Data holds whole lines, each ending in '\n' except perhaps the file's last.
	Data []byte
	// FirstLine is the number of the first line of Data (the file's first is 1).
	FirstLine int64
	// Long is set when Data is the start (MaxLineBytes bytes) of one line
	// longer than that, whose rest was skipped.
	Long bool

	buf  []byte // the block Data lies in
	pos  int    // where the next line starts
	line int64  // the number of the next line
}

// countingReader counts the bytes read from the file (compressed bytes for a gzip file).
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// NewReader starts reading r, a dump of opts.Format. Close it when done.
func NewReader(r io.Reader, opts Options) (*Reader, error) {
	if opts.Snapshot.IsZero() {
		opts.Snapshot = DefaultSnapshot
	}
	if opts.MaxLineBytes <= 0 {
		opts.MaxLineBytes = MaxLineBytes
	}
	rd := &Reader{opts: opts, counter: &countingReader{r: r}}
	dec, err := newDecoder(opts)
	if err != nil {
		return nil, err
	}
	rd.dec = dec

	br := bufio.NewReaderSize(rd.counter, 1<<20)
	var src io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%w: not a readable gzip file: %w", grpipe.ErrBadInput, err)
		}
		src = zr
	}
	rd.chunks = make(chan *Chunk, blocksInFlight)
	rd.free = make(chan []byte, blocksInFlight+1)
	rd.stop = make(chan struct{})
	rd.wg.Add(1)
	go rd.cut(src)
	return rd, nil
}

// NewDecoder returns a Decoder of the reader's format, for one goroutine.
func (r *Reader) NewDecoder() *Decoder {
	d, _ := newDecoder(r.opts) // the format was checked by NewReader
	return d
}

// block returns a block to fill, of at least min bytes: a free one, or a new
// one while fewer than blocksInFlight exist; nil when the reader is closed.
// Blocks are made on demand, small first, so that a small file costs little.
func (r *Reader) block(size, min int) []byte {
	for {
		var b []byte
		select {
		case b = <-r.free:
		default:
			if r.made.Load() < blocksInFlight {
				r.made.Add(1)
				return make([]byte, max(size, min))
			}
			select {
			case b = <-r.free:
			case <-r.stop:
				return nil
			}
		}
		if cap(b) >= min {
			return b[:cap(b)]
		}
		r.made.Add(-1) // too small for the line it must hold: let it go
	}
}

// Release gives a chunk's block back for reuse; c must not be used after.
func (r *Reader) Release(c *Chunk) {
	if c == nil || c.buf == nil {
		return
	}
	b := c.buf
	c.buf, c.Data = nil, nil
	if cap(b) > blockSize {
		r.made.Add(-1) // a block grown for a long line is not kept
		return
	}
	select {
	case r.free <- b:
	default:
		r.made.Add(-1)
	}
}

// cut reads the (decompressed) stream into blocks and sends them on as
// chunks of whole lines, until the stream's end or an error.
func (r *Reader) cut(src io.Reader) {
	defer r.wg.Done()
	defer close(r.chunks)
	var (
		carry []byte // the start of a line the last block ended inside
		line  = int64(1)
		size  = 64 << 10
		after error // the stream's end or error, met after the carry was read
	)
	send := func(c *Chunk) bool {
		select {
		case r.chunks <- c:
			return true
		case <-r.stop:
			return false
		}
	}
	for {
		buf := r.block(size, max(len(carry)+1, min(2*len(carry), r.opts.MaxLineBytes+1)))
		if buf == nil {
			return
		}
		size = min(2*size, blockSize)
		n := copy(buf, carry)
		err := after
		for n < len(buf) && err == nil {
			var m int
			m, err = src.Read(buf[n:])
			n += m
		}
		data := buf[:n]
		end := bytes.LastIndexByte(data, '\n') + 1
		switch {
		case err == nil && end == 0 && n > r.opts.MaxLineBytes:
			// One line longer than the bound: keep its start, skip the rest.
			c := &Chunk{Data: data[:r.opts.MaxLineBytes], FirstLine: line, Long: true, buf: buf}
			var ended bool
			carry, ended, after = skipLine(src, carry[:0])
			if !ended {
				r.Release(c)
				r.fail(after, line-1)
				return
			}
			if !send(c) {
				return
			}
			line++
		case err == nil && end == 0:
			// The line goes on past the block: read it into a larger one.
			carry = append(carry[:0], data...)
			r.Release(&Chunk{buf: buf})
		case err == nil:
			carry = append(carry[:0], data[end:]...)
			c := &Chunk{Data: data[:end], FirstLine: line, buf: buf}
			line += int64(bytes.Count(c.Data, []byte{'\n'}))
			if !send(c) {
				return
			}
		default:
			if !errors.Is(err, io.EOF) {
				// The lines before the error are read; a line it cut is not.
				data = data[:end]
			}
			c := &Chunk{Data: data, FirstLine: line, buf: buf}
			line += int64(bytes.Count(data, []byte{'\n'}))
			if len(data) == 0 {
				r.Release(c)
			} else if !send(c) {
				return
			}
			if !errors.Is(err, io.EOF) {
				r.fail(err, line-1)
			}
			return
		}
	}
}

// fail records the stream's error, after the given number of lines.
func (r *Reader) fail(err error, after int64) {
	r.pending, r.after = err, after
}

// skipLine reads src up to the end of the current line. It returns what
// follows the line end in the last read (appended to carry), whether the
// line ended (at a line end or at the end of the stream), and the error the
// last read returned (io.EOF at the end of the stream), which comes after
// the returned text.
func skipLine(src io.Reader, carry []byte) ([]byte, bool, error) {
	var buf [64 << 10]byte
	for {
		n, err := src.Read(buf[:])
		if i := bytes.IndexByte(buf[:n], '\n'); i >= 0 {
			return append(carry, buf[i+1:n]...), true, err
		}
		if err != nil {
			return carry, errors.Is(err, io.EOF), err
		}
	}
}

// NextChunk returns the next chunk of lines; false at the end of the data
// or on an error of the stream (see Err), which comes after every line
// before it. Release each chunk when done with it.
func (r *Reader) NextChunk() (*Chunk, bool) {
	if r.done {
		return nil, false
	}
	c, ok := <-r.chunks
	if !ok {
		r.done = true
		if r.pending != nil && r.err == nil {
			r.err = r.readError(r.pending, r.after)
		}
		return nil, false
	}
	c.pos, c.line = 0, c.FirstLine
	return c, true
}

// Close stops the inflating goroutine. It is safe to call more than once.
func (r *Reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	close(r.stop)
	r.wg.Wait()
	return nil
}

// BytesRead is how many bytes of the file (compressed, for gzip) have been read so far.
func (r *Reader) BytesRead() int64 { return r.counter.n.Load() }

// Lines is the number of physical lines Next has read so far.
func (r *Reader) Lines() int64 { return r.lineNo }

// Err is the error that ended the file early, if any: a damaged or
// truncated gzip stream wraps grpipe.ErrBadInput.
func (r *Reader) Err() error { return r.err }

// readError describes an error of the file's stream, after line n.
func (r *Reader) readError(err error, n int64) error {
	var corrupt flate.CorruptInputError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: the gzip stream ends early, after line %d: the file is incomplete (download it again)", grpipe.ErrBadInput, n)
	case errors.Is(err, gzip.ErrChecksum), errors.Is(err, gzip.ErrHeader), errors.As(err, &corrupt):
		return fmt.Errorf("%w: the gzip stream is damaged after line %d (%v): download the file again", grpipe.ErrBadInput, n, err)
	}
	return fmt.Errorf("read after line %d: %w", n, err)
}

// Next fills rec with the next record and reports whether there was one.
// Blank lines are skipped. At the end, check Err.
func (r *Reader) Next(rec *grpipe.InputRecord) bool {
	for {
		if r.cur == nil {
			c, ok := r.NextChunk()
			if !ok {
				return false
			}
			r.cur = c
		}
		ok := r.dec.Next(r.cur, rec)
		r.lineNo = r.cur.line - 1
		if ok {
			return true
		}
		r.Release(r.cur)
		r.cur = nil
	}
}

// Decoder turns the lines of chunks into records. It is not safe for
// concurrent use: each goroutine decoding chunks has its own.
type Decoder struct {
	maxLine    int
	p, sub     parser
	vals, subv []value
	slot       func([]byte) int
	mapRecord  func(*grpipe.InputRecord)
	out        []byte // derived field text (ids, timestamps) of the current record
	snapshot   []byte // the snapshot time as record_create_timestamp text
	review     [15][]byte
	user       [10][]byte
	book       [18][]byte
	author     [8][]byte
}

func newDecoder(opts Options) (*Decoder, error) {
	if opts.Snapshot.IsZero() {
		opts.Snapshot = DefaultSnapshot
	}
	if opts.MaxLineBytes <= 0 {
		opts.MaxLineBytes = MaxLineBytes
	}
	d := &Decoder{maxLine: opts.MaxLineBytes}
	switch opts.Format {
	case grpipe.FormatUCSDReviews:
		d.slot, d.mapRecord = reviewSlot, d.mapReview
		d.vals = make([]value, len(reviewKeys))
	case grpipe.FormatUCSDSpoiler:
		d.slot, d.mapRecord = spoilerSlot, d.mapSpoiler
		d.vals = make([]value, len(spoilerKeys))
	case grpipe.FormatUCSDBooks:
		d.slot, d.mapRecord = bookSlot, d.mapBook
		d.vals = make([]value, len(bookKeys))
	case grpipe.FormatUCSDAuthors:
		d.slot, d.mapRecord = authorSlot, d.mapAuthor
		d.vals = make([]value, len(authorKeys))
	default:
		return nil, fmt.Errorf("bookgraph: format %q is not a UCSD Book Graph format", opts.Format)
	}
	d.subv = make([]value, 1)
	d.snapshot = AppendTimestamp(nil, opts.Snapshot)
	return d, nil
}

// Next fills rec with the record of the next line of c and reports whether
// there was one; blank lines are skipped. rec's Line is the line's number
// in the file; its slices stay valid until the next call or until c is
// released.
func (d *Decoder) Next(c *Chunk, rec *grpipe.InputRecord) bool {
	for c.pos < len(c.Data) {
		rest := c.Data[c.pos:]
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line = rest[:i]
			c.pos += i + 1
		} else {
			c.pos = len(c.Data)
		}
		lineNo := c.line
		c.line++
		long := c.Long || len(line) > d.maxLine
		if long {
			line = line[:min(len(line), d.maxLine)]
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		rec.Line, rec.Raw = lineNo, line
		rec.Rows, rec.Keys = rec.Rows[:0], rec.Keys[:0]
		rec.Column, rec.Reason = "", ""
		if long {
			rec.Reject("", fmt.Sprintf("the line is longer than %d bytes", d.maxLine))
			return true
		}
		if !d.p.object(line, d.vals, d.slot) {
			rec.Reject("", d.p.err)
			return true
		}
		d.out = d.out[:0]
		d.mapRecord(rec)
		return true
	}
	return false
}

// text returns a scalar value as text for a column: nil for a missing key or
// null, a string's bytes, a number's or boolean's literal. An array or an
// object is refused.
func text(v value) ([]byte, bool) {
	switch v.kind {
	case absent, jNull:
		return nil, true
	case jString, jNumber, jBool:
		return v.b, true
	}
	return nil, false
}

// wrongType is the reason for a value of the wrong JSON type.
func wrongType(key string, v value, want string) string {
	return fmt.Sprintf("%s is %s, expected %s", key, v.kind, want)
}

// scalar sets *dst to v's text, or rejects rec (and returns false) when v is an array or object.
func scalar(rec *grpipe.InputRecord, dst *[]byte, key, column string, v value) bool {
	b, ok := text(v)
	if !ok {
		rec.Reject(column, wrongType(key, v, "a string or number"))
		return false
	}
	*dst = b
	return true
}

// hashedKey maps a hashed id value; it rejects rec and returns false when it is not usable.
func (r *Decoder) hashedKey(rec *grpipe.InputRecord, key, column string, v value, entity string) ([]byte, bool) {
	if v.kind != jString {
		if v.kind == absent || v.kind == jNull {
			rec.Reject(column, fmt.Sprintf("%s is %s: the line has no id", key, v.kind))
		} else {
			rec.Reject(column, wrongType(key, v, "a string of 32 hex digits"))
		}
		return nil, false
	}
	id, err := HashedID(v.b)
	if err != nil {
		rec.Reject(column, fmt.Sprintf("%s %q: %v", key, clip(v.b), err))
		return nil, false
	}
	at := len(r.out)
	r.out = strconv.AppendInt(r.out, id, 10)
	idText := r.out[at:len(r.out):len(r.out)]
	kat := len(r.out)
	r.out = lowerHex(r.out, v.b)
	rec.Keys = append(rec.Keys, grpipe.SourceKey{Entity: entity, Source: grpipe.SourceUCSD, Key: r.out[kat:len(r.out):len(r.out)], ID: id})
	return idText, true
}

// requiredID returns a decimal id's text (a string or a number); it rejects
// rec when the id is missing, null, empty or not a value (its digits are
// checked by the transform, like any integer column).
func requiredID(rec *grpipe.InputRecord, key, column string, v value) ([]byte, bool) {
	b, ok := text(v)
	switch {
	case !ok:
		rec.Reject(column, wrongType(key, v, "a string of digits"))
	case v.kind == absent || v.kind == jNull:
		rec.Reject(column, fmt.Sprintf("%s is %s: the line has no id", key, v.kind))
	case len(bytes.TrimSpace(b)) == 0:
		rec.Reject(column, fmt.Sprintf("%s is empty: the line has no id", key))
	default:
		return b, true
	}
	return nil, false
}

// clip shortens a value for a message.
func clip(b []byte) string {
	if len(b) > 40 {
		return string(bytes.ToValidUTF8(b[:40], []byte("?"))) + "…"
	}
	return string(bytes.ToValidUTF8(b, []byte("?")))
}

func clearFields(f [][]byte) {
	for i := range f {
		f[i] = nil
	}
}
