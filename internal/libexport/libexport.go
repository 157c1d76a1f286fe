// Package libexport reads a Goodreads library export
// (goodreads_library_export.csv, "Export Library" on a member's account) as
// records of the four entities.
//
// Columns are matched by header name, so the 23-column layout (2026), the
// 24-column one (with Average Rating, 2022-2026) and the 31-column one (up
// to 2022) all read; only Book Id is required. Values written as Excel
// formulas (="0441013597", the ISBN columns) are unwrapped, dates are
// YYYY/MM/DD.
//
// One export row yields:
//   - a review: review_id derived from (user, book) (DerivedID), so that
//     landing the same export twice yields the same rows; review_rating is
//     My Rating (0: not rated), review_text My Review, spoiler_flag Spoiler,
//     review_read_count Read Count, review_added_date and
//     record_create_timestamp Date Added (midnight UTC);
//   - its book and its (primary) author, whose id is derived from the name,
//     and the member as a user (id only);
//   - book, author and user rows take record_create_timestamp FillOnly
//     (1970-01-01): the warehouse keeps the newer version of an id, so these
//     sparse rows are inserted when the id is new and never replace a stored
//     row (a captured or UCSD book with its description, image, counts).
package libexport

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/bookgraph"
	"github.com/grpipe/grpipe/internal/text"
)

// MaxBytes bounds an export file: a library of 100,000 books is about 30 MB.
const MaxBytes = 512 << 20

// FillOnly is the record_create_timestamp of an export's book, author and
// user rows: older than any real row, so they only fill gaps.
var FillOnly = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)

// ErrNoBookID reports an export whose header lacks "Book Id".
var ErrNoBookID = errors.New(`the header has no "Book Id" column: is this a Goodreads library export?`)

// DerivedID is the BIGINT id grpipe gives a row that its source names
// without an id: 2^62 + (the first 8 bytes of SHA-256(entity NUL source NUL
// key), big-endian, >> 2). The same key always gives the same id, in
// [2^62, 2^63), apart from real Goodreads ids.
func DerivedID(entity, source string, key []byte) int64 {
	h := sha256.New()
	h.Write([]byte(entity))
	h.Write([]byte{0})
	h.Write([]byte(source))
	h.Write([]byte{0})
	h.Write(key)
	var sum [sha256.Size]byte
	return 1<<62 + int64(binary.BigEndian.Uint64(h.Sum(sum[:0])[:8])>>2)
}

// AuthorKey is the key an author's id is derived from: the name with HTML
// entities decoded, white space collapsed, in lower case.
func AuthorKey(name []byte) []byte {
	return bytes.ToLower(text.AppendClean(nil, name, true))
}

// Unwrap removes the Excel-formula wrapping ="..." of an export value.
func Unwrap(v []byte) []byte {
	if len(v) >= 3 && v[0] == '=' && v[1] == '"' && v[len(v)-1] == '"' {
		return v[2 : len(v)-1]
	}
	return v
}

// The export columns grpipe reads (lower case).
const (
	hBookID      = "book id"
	hTitle       = "title"
	hAuthor      = "author"
	hMyRating    = "my rating"
	hAvgRating   = "average rating"
	hPublisher   = "publisher"
	hBinding     = "binding"
	hPages       = "number of pages"
	hYear        = "year published"
	hDateAdded   = "date added"
	hMyReview    = "my review"
	hSpoiler     = "spoiler"
	hReadCount   = "read count"
	hISBN        = "isbn"
	hISBN13      = "isbn13"
	hExclusive   = "exclusive shelf"
	hDateRead    = "date read"
	hOrigYear    = "original publication year"
	hAuthorLF    = "author l-f"
	hAdditional  = "additional authors"
	hBookshelves = "bookshelves"
)

var known = []string{hBookID, hTitle, hAuthor, hMyRating, hAvgRating, hPublisher, hBinding, hPages, hYear, hDateAdded,
	hMyReview, hSpoiler, hReadCount, hISBN, hISBN13, hExclusive, hDateRead, hOrigYear, hAuthorLF, hAdditional, hBookshelves}

// Options configure a Reader.
type Options struct {
	// UserID is the member's Goodreads user id (from the landed file name).
	UserID int64
	// MaxBytes bounds the file; zero means MaxBytes.
	MaxBytes int64
}

// Reader yields the records of one export file.
type Reader struct {
	opts  Options
	sc    scanner
	col   map[string]int // lower-case header name -> field index
	width int
	// Unknown lists header names grpipe does not read (ignored).
	Unknown []string
	userID  []byte
	fill    []byte
	out     []byte
	review  [15][]byte
	user    [10][]byte
	book    [18][]byte
	author  [8][]byte
}

// NewReader reads the export r (whole: exports are small, at most
// opts.MaxBytes) and its header. An error wrapping grpipe.ErrBadInput
// refuses the file: too large, empty, or no Book Id column.
func NewReader(r io.Reader, opts Options) (*Reader, error) {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = MaxBytes
	}
	if opts.UserID <= 0 {
		return nil, fmt.Errorf("%w: %w", grpipe.ErrBadInput, grpipe.ErrExportUserID)
	}
	data, err := io.ReadAll(io.LimitReader(r, opts.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read export: %w", err)
	}
	if int64(len(data)) > opts.MaxBytes {
		return nil, fmt.Errorf("%w: the file is larger than %d bytes: not a library export?", grpipe.ErrBadInput, opts.MaxBytes)
	}
	rd := &Reader{opts: opts, sc: scanner{data: bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), line: 1}}
	var hdr csvRecord
	if !rd.sc.next(&hdr) {
		return nil, fmt.Errorf("%w: the file is empty: a header row with the column names is required", grpipe.ErrBadInput)
	}
	if hdr.err != "" {
		return nil, fmt.Errorf("%w: the header row cannot be parsed: %s", grpipe.ErrBadInput, hdr.err)
	}
	rd.col = map[string]int{}
	for i, h := range hdr.fields {
		name := strings.ToLower(strings.TrimSpace(string(h)))
		if _, dup := rd.col[name]; dup {
			return nil, fmt.Errorf("%w: column %q appears twice in the header", grpipe.ErrBadInput, name)
		}
		rd.col[name] = i
	}
	if _, ok := rd.col[hBookID]; !ok {
		return nil, fmt.Errorf("%w: %w", grpipe.ErrBadInput, ErrNoBookID)
	}
	for name := range rd.col {
		if !isKnown(name) {
			rd.Unknown = append(rd.Unknown, name)
		}
	}
	rd.width = len(hdr.fields)
	rd.userID = strconv.AppendInt(nil, opts.UserID, 10)
	rd.fill = bookgraph.AppendTimestamp(nil, FillOnly)
	return rd, nil
}

func isKnown(name string) bool {
	for _, k := range known {
		if k == name {
			return true
		}
	}
	// Read by no column, but part of the published layouts.
	switch name {
	case "bookshelves with positions", "private notes", "owned copies", "recommended for", "recommended by",
		"original purchase date", "original purchase location", "condition", "condition description", "bcid":
		return true
	}
	return false
}

// Lines is the number of physical lines read so far.
func (r *Reader) Lines() int64 { return r.sc.line - 1 }

// Err is nil: an export is read whole before its first record.
func (r *Reader) Err() error { return nil }

// Close does nothing; it is there so that a Reader reads like a dump reader.
func (r *Reader) Close() error { return nil }

// get returns the unwrapped value of header column name, nil when absent or empty.
func (r *Reader) get(rec *csvRecord, name string) []byte {
	i, ok := r.col[name]
	if !ok {
		return nil
	}
	v := Unwrap(bytes.TrimSpace(rec.fields[i]))
	if len(v) == 0 {
		return nil
	}
	return v
}

// Next fills rec with the next record and reports whether there was one.
func (r *Reader) Next(rec *grpipe.InputRecord) bool {
	var c csvRecord
	if !r.sc.next(&c) {
		return false
	}
	rec.Line, rec.Raw = c.line, c.raw
	rec.Rows, rec.Keys = rec.Rows[:0], rec.Keys[:0]
	rec.Column, rec.Reason = "", ""
	switch {
	case c.err != "":
		rec.Reject("", c.err)
	case len(c.fields) != r.width:
		rec.Reject("", fmt.Sprintf("expected %d fields as in the header, found %d", r.width, len(c.fields)))
	default:
		r.out = r.out[:0]
		r.mapRow(rec, &c)
	}
	return true
}

func clearFields(f [][]byte) {
	for i := range f {
		f[i] = nil
	}
}

// idText appends id's decimal text to r.out and returns it.
func (r *Reader) idText(id int64) []byte {
	at := len(r.out)
	r.out = strconv.AppendInt(r.out, id, 10)
	return r.out[at:len(r.out):len(r.out)]
}

func (r *Reader) mapRow(rec *grpipe.InputRecord, c *csvRecord) {
	bookText := r.get(c, hBookID)
	if bookText == nil {
		rec.Reject("book_id", "Book Id is empty")
		return
	}
	bookID, err := strconv.ParseInt(string(bookText), 10, 64)
	if err != nil || bookID < 0 {
		rec.Reject("book_id", fmt.Sprintf("Book Id %q is not a Goodreads book id (an integer)", clip(bookText)))
		return
	}
	rv, us, bk, au := r.review[:], r.user[:], r.book[:], r.author[:]
	clearFields(rv)
	clearFields(us)
	clearFields(bk)
	clearFields(au)

	// The review: its id from (user, book).
	at := len(r.out)
	r.out = append(r.out, r.userID...)
	r.out = append(r.out, ':')
	r.out = strconv.AppendInt(r.out, bookID, 10)
	reviewKey := r.out[at:len(r.out):len(r.out)]
	reviewID := DerivedID(grpipe.Reviews.Name, grpipe.SourceExport, reviewKey)
	rec.Keys = append(rec.Keys, grpipe.SourceKey{Entity: grpipe.Reviews.Name, Source: grpipe.SourceExport, Key: reviewKey, ID: reviewID})
	bookIDText := r.idText(bookID)
	rv[rvID], rv[rvUser], rv[rvBook] = r.idText(reviewID), r.userID, bookIDText
	rv[rvText], rv[rvRating], rv[rvReadCount] = r.get(c, hMyReview), r.get(c, hMyRating), r.get(c, hReadCount)
	rv[rvSpoiler] = []byte("false")
	if s := r.get(c, hSpoiler); s != nil {
		rv[rvSpoiler] = s // true, false, yes, ... as any boolean column
	}
	rv[rvTS] = r.fill
	if d := r.get(c, hDateAdded); d != nil {
		t, ok := bookgraph.ParseDate(d, '/')
		if !ok {
			rec.Reject("review_added_date", fmt.Sprintf("Date Added %q is not a date like 2018/11/30", clip(d)))
			return
		}
		at := len(r.out)
		r.out = bookgraph.AppendGoodreadsTime(r.out, t)
		rv[rvAdded] = r.out[at:len(r.out):len(r.out)]
		at = len(r.out)
		r.out = bookgraph.AppendTimestamp(r.out, t)
		rv[rvTS] = r.out[at:len(r.out):len(r.out)]
	}

	// The author, when named: its id from the name.
	if name := r.get(c, hAuthor); name != nil {
		key := AuthorKey(name)
		if len(key) > 0 {
			at := len(r.out)
			r.out = append(r.out, key...)
			key = r.out[at:len(r.out):len(r.out)]
			authorID := DerivedID(grpipe.Authors.Name, grpipe.SourceExport, key)
			rec.Keys = append(rec.Keys, grpipe.SourceKey{Entity: grpipe.Authors.Name, Source: grpipe.SourceExport, Key: key, ID: authorID})
			idText := r.idText(authorID)
			au[auID], au[auName], au[auTS] = idText, name, r.fill
			rv[rvAuthor], bk[bkAuthors] = idText, idText
		}
	}

	// The book, sparse: fills a gap, never replaces a stored row.
	bk[bkID], bk[bkTitle], bk[bkPages], bk[bkFormat] = bookIDText, r.get(c, hTitle), r.get(c, hPages), r.get(c, hBinding)
	bk[bkPublisher], bk[bkYear], bk[bkAvg] = r.get(c, hPublisher), r.get(c, hYear), r.get(c, hAvgRating)
	bk[bkPublished], bk[bkTS] = bk[bkYear], r.fill

	us[usID], us[usTS] = r.userID, r.fill

	rec.Rows = append(rec.Rows,
		grpipe.InputRow{Entity: grpipe.Reviews, Fields: rv},
		grpipe.InputRow{Entity: grpipe.Users, Fields: us},
		grpipe.InputRow{Entity: grpipe.Books, Fields: bk})
	if au[auID] != nil {
		rec.Rows = append(rec.Rows, grpipe.InputRow{Entity: grpipe.Authors, Fields: au})
	}
}

func clip(b []byte) string {
	if len(b) > 40 {
		return string(bytes.ToValidUTF8(b[:40], []byte("?"))) + "…"
	}
	return string(bytes.ToValidUTF8(b, []byte("?")))
}

func col(e grpipe.Entity, name string) int {
	for i, c := range e.Columns {
		if c.Name == name {
			return i
		}
	}
	panic(fmt.Sprintf("libexport: entity %s has no column %s", e.Name, name))
}

var (
	rvID, rvUser, rvBook, rvAuthor = col(grpipe.Reviews, "review_id"), col(grpipe.Reviews, "user_id"), col(grpipe.Reviews, "book_id"), col(grpipe.Reviews, "author_id")
	rvText, rvRating, rvSpoiler    = col(grpipe.Reviews, "review_text"), col(grpipe.Reviews, "review_rating"), col(grpipe.Reviews, "spoiler_flag")
	rvAdded, rvReadCount, rvTS     = col(grpipe.Reviews, "review_added_date"), col(grpipe.Reviews, "review_read_count"), col(grpipe.Reviews, grpipe.TimestampColumn)
	usID, usTS                     = col(grpipe.Users, "user_id"), col(grpipe.Users, grpipe.TimestampColumn)
	auID, auName, auTS             = col(grpipe.Authors, "author_id"), col(grpipe.Authors, "name"), col(grpipe.Authors, grpipe.TimestampColumn)
	bkID, bkTitle, bkPages         = col(grpipe.Books, "book_id"), col(grpipe.Books, "title"), col(grpipe.Books, "num_pages")
	bkFormat, bkPublisher, bkYear  = col(grpipe.Books, "format"), col(grpipe.Books, "publisher"), col(grpipe.Books, "publication_year")
	bkAvg, bkAuthors, bkPublished  = col(grpipe.Books, "average_rating"), col(grpipe.Books, "authors"), col(grpipe.Books, "published")
	bkTS                           = col(grpipe.Books, grpipe.TimestampColumn)
)
