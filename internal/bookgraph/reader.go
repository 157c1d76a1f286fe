// Package bookgraph reads the UCSD Book Graph dumps (Wan & McAuley; gzip JSON
// Lines: goodreads_books, goodreads_book_authors, goodreads_reviews_dedup and
// its byGenre and spoiler variants) as a stream of records, each the rows
// of the four entities one line yields, or the reason the line is rejected.
//
// The file is read as a stream: gzip (sniffed by its magic bytes, so a
// decompressed .json reads too) is inflated in a goroutine of its own while
// the lines are decoded, and memory stays bounded whatever the file size (a
// few 4 MiB blocks, and one line of at most MaxLineBytes).
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

// blockSize is the size of the decompressed blocks handed from the inflating
// goroutine to the decoder; blocksInFlight of them exist at once.
const (
	blockSize      = 4 << 20
	blocksInFlight = 4
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

// Reader yields the records of one dump file.
type Reader struct {
	opts    Options
	counter *countingReader
	blocks  chan block
	free    chan []byte
	stop    chan struct{}
	wg      sync.WaitGroup
	closed  bool

	held    []byte // the block cur points into, returned to free when used up
	cur     []byte
	line    []byte
	lineNo  int64
	eof     bool
	pending error // the stream's error, raised after the data before it
	err     error

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

type block struct {
	b   []byte
	err error
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
	switch opts.Format {
	case grpipe.FormatUCSDReviews:
		rd.slot, rd.mapRecord = reviewSlot, rd.mapReview
		rd.vals = make([]value, len(reviewKeys))
	case grpipe.FormatUCSDSpoiler:
		rd.slot, rd.mapRecord = spoilerSlot, rd.mapSpoiler
		rd.vals = make([]value, len(spoilerKeys))
	case grpipe.FormatUCSDBooks:
		rd.slot, rd.mapRecord = bookSlot, rd.mapBook
		rd.vals = make([]value, len(bookKeys))
	case grpipe.FormatUCSDAuthors:
		rd.slot, rd.mapRecord = authorSlot, rd.mapAuthor
		rd.vals = make([]value, len(authorKeys))
	default:
		return nil, fmt.Errorf("bookgraph: format %q is not a UCSD Book Graph format", opts.Format)
	}
	rd.subv = make([]value, 1)
	rd.snapshot = AppendTimestamp(nil, opts.Snapshot)

	br := bufio.NewReaderSize(rd.counter, 1<<20)
	var src io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%w: not a readable gzip file: %w", grpipe.ErrBadInput, err)
		}
		src = zr
	}
	rd.blocks = make(chan block, blocksInFlight)
	rd.free = make(chan []byte, blocksInFlight+1)
	rd.stop = make(chan struct{})
	rd.wg.Add(1)
	go rd.inflate(src)
	return rd, nil
}

// inflate reads the (decompressed) stream into blocks until its end or an error.
func (r *Reader) inflate(src io.Reader) {
	defer r.wg.Done()
	defer close(r.blocks)
	// Blocks are made on demand, small first, so that a small file costs little.
	size, made := 64<<10, 0
	for {
		var buf []byte
		select {
		case buf = <-r.free:
		default:
			if made <= blocksInFlight {
				buf = make([]byte, size)
				made++
				size = min(2*size, blockSize)
				break
			}
			select {
			case buf = <-r.free:
			case <-r.stop:
				return
			}
		}
		n := 0
		var err error
		for n < len(buf) && err == nil {
			var m int
			m, err = src.Read(buf[n:])
			n += m
		}
		select {
		case r.blocks <- block{b: buf[:n], err: err}:
		case <-r.stop:
			return
		}
		if err != nil {
			return
		}
	}
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

// Lines is the number of physical lines read so far.
func (r *Reader) Lines() int64 { return r.lineNo }

// Err is the error that ended the file early, if any: a damaged or
// truncated gzip stream wraps grpipe.ErrBadInput.
func (r *Reader) Err() error { return r.err }

// fill makes cur the next block; false at the end of the data or on an
// error, which is reported once the lines before it have been read.
func (r *Reader) fill() bool {
	if r.held != nil {
		r.free <- r.held[:cap(r.held)]
		r.held = nil
	}
	if r.eof {
		if r.pending != nil && r.err == nil {
			r.err = r.readError(r.pending)
		}
		return false
	}
	b, ok := <-r.blocks
	if !ok {
		r.eof = true
		return false
	}
	r.held, r.cur = b.b, b.b
	if b.err != nil {
		r.eof = true
		if !errors.Is(b.err, io.EOF) {
			r.pending = b.err
		}
	}
	if len(r.cur) == 0 {
		return r.fill()
	}
	return true
}

// readError describes an error of the file's stream.
func (r *Reader) readError(err error) error {
	var corrupt flate.CorruptInputError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: the gzip stream ends early, after line %d: the file is incomplete (download it again)", grpipe.ErrBadInput, r.lineNo)
	case errors.Is(err, gzip.ErrChecksum), errors.Is(err, gzip.ErrHeader), errors.As(err, &corrupt):
		return fmt.Errorf("%w: the gzip stream is damaged after line %d (%v): download the file again", grpipe.ErrBadInput, r.lineNo, err)
	}
	return fmt.Errorf("read after line %d: %w", r.lineNo, err)
}

// nextLine returns the next physical line without its '\n' (and '\r'),
// and whether it was longer than MaxLineBytes (then only its start is kept).
func (r *Reader) nextLine() (line []byte, long, ok bool) {
	r.line = r.line[:0]
	for {
		if len(r.cur) == 0 {
			if !r.fill() {
				if r.err != nil || (len(r.line) == 0 && !long) {
					return nil, false, false
				}
				return bytes.TrimSuffix(r.line, []byte("\r")), long, true
			}
			continue
		}
		i := bytes.IndexByte(r.cur, '\n')
		chunk := r.cur
		if i >= 0 {
			chunk = r.cur[:i]
			r.cur = r.cur[i+1:]
		} else {
			r.cur = nil
		}
		if i >= 0 && len(r.line) == 0 && !long && len(chunk) <= r.opts.MaxLineBytes {
			return bytes.TrimSuffix(chunk, []byte("\r")), false, true // no copy
		}
		if !long {
			if len(r.line)+len(chunk) > r.opts.MaxLineBytes {
				long = true
				keep := min(len(chunk), r.opts.MaxLineBytes-len(r.line))
				r.line = append(r.line, chunk[:keep]...)
			} else {
				r.line = append(r.line, chunk...)
			}
		}
		if i >= 0 {
			return bytes.TrimSuffix(r.line, []byte("\r")), long, true
		}
	}
}

// Next fills rec with the next record and reports whether there was one.
// Blank lines are skipped. At the end, check Err.
func (r *Reader) Next(rec *grpipe.InputRecord) bool {
	for {
		line, long, ok := r.nextLine()
		if !ok {
			return false
		}
		r.lineNo++
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		rec.Line, rec.Raw = r.lineNo, line
		rec.Rows, rec.Keys = rec.Rows[:0], rec.Keys[:0]
		rec.Column, rec.Reason = "", ""
		if long {
			rec.Reject("", fmt.Sprintf("the line is longer than %d bytes", r.opts.MaxLineBytes))
			return true
		}
		if !r.p.object(line, r.vals, r.slot) {
			rec.Reject("", r.p.err)
			return true
		}
		r.out = r.out[:0]
		r.mapRecord(rec)
		return true
	}
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
func (r *Reader) hashedKey(rec *grpipe.InputRecord, key, column string, v value, entity string) ([]byte, bool) {
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
