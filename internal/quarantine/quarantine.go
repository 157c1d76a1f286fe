// Package quarantine owns the format of rejected rows: the one definition of
// their columns (source_file, line, column_name, reason, raw), the CSV file
// the transform writes for each input file that had rejects
// (quarantine/<batch>/<file>.rejects.csv), a Writer for it, and a Reader that
// streams such a file row by row and pages through it without holding it in
// memory (the UI shows a few hundred rows of files that may be hundreds of
// megabytes). The per-entity Parquet of a batch's rejected rows
// (quarantine/<batch>/<entity>.rejected.parquet) and the warehouse's
// rejected-row tables have the same columns, taken from Columns.
//
// A new column is added here, at the end of Columns, and nowhere else; the
// Reader must keep reading files written before it (as it reads the files of
// versions that named column_name "column").
package quarantine

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	grpipe "github.com/grpipe/grpipe"
)

// Column is one column of a rejected row.
type Column struct {
	Name string
	Type grpipe.ColumnType
}

// Columns returns the columns of a rejected row, in file order: the header of
// a quarantine CSV file, the columns of the rejects Parquet, and the last
// columns of goodreads_quality.rejected_rows.
func Columns() []Column {
	return []Column{
		{"source_file", grpipe.Text},
		{"line", grpipe.BigInt},
		{"column_name", grpipe.Text},
		{"reason", grpipe.Text},
		{"raw", grpipe.Text},
	}
}

// ColumnNames returns the names of Columns, in order.
func ColumnNames() []string {
	cols := Columns()
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	return names
}

// legacyColumnName is what versions before column_name called that column
// in the CSV header; their files are still read.
const legacyColumnName = "column"

// Row is one rejected input row.
type Row struct {
	// SourceFile is the input file's name in the working zone.
	SourceFile string `json:"source_file"`
	// Line is the line of the input file where the row starts (the header is line 1).
	Line int64 `json:"line"`
	// Column is the column at fault; empty when the whole row is (a wrong
	// field count, a broken quote).
	Column string `json:"column_name"`
	// Reason says what is wrong.
	Reason string `json:"reason"`
	// Raw is the row's text as read (valid UTF-8; very long rows are cut,
	// with a note saying how long they were).
	Raw string `json:"raw"`
}

// Record returns r's fields as text in the order of Columns (a CSV record).
func (r Row) Record() []string { return r.fields(nil) }

// fields returns r in the order of Columns.
func (r Row) fields(buf []string) []string {
	return append(buf[:0], r.SourceFile, strconv.FormatInt(r.Line, 10), r.Column, r.Reason, r.Raw)
}

// Suffix ends the name of every quarantine CSV file.
const Suffix = ".rejects.csv"

// FileName is the name of the quarantine file of the input file source.
func FileName(source string) string { return source + Suffix }

// SourceOf returns the input file whose quarantine file is name, and whether
// name is a quarantine file's name at all.
func SourceOf(name string) (string, bool) {
	source, ok := strings.CutSuffix(name, Suffix)
	return source, ok && source != ""
}

// ParquetName is the name of the Parquet file that holds all rejected rows
// of one entity of a batch.
func ParquetName(entity string) string { return entity + ".rejected.parquet" }

// Writer writes a quarantine CSV file: a header row, then one record per
// rejected row (RFC 4180 quoting, so raw text may hold commas, quotes and
// newlines).
type Writer struct {
	cw  *csv.Writer
	buf []string
}

// NewWriter writes the header to w and returns a Writer of rows to it.
// Rows are buffered: call Flush at the end.
func NewWriter(w io.Writer) (*Writer, error) {
	qw := &Writer{cw: csv.NewWriter(w), buf: make([]string, 0, len(Columns()))}
	if err := qw.cw.Write(ColumnNames()); err != nil {
		return nil, fmt.Errorf("write quarantine header: %w", err)
	}
	return qw, nil
}

// Write writes one rejected row.
func (w *Writer) Write(r Row) error {
	w.buf = r.fields(w.buf)
	if err := w.cw.Write(w.buf); err != nil {
		return fmt.Errorf("write quarantine row: %w", err)
	}
	return nil
}

// Flush writes any buffered rows and reports any error of earlier writes.
func (w *Writer) Flush() error {
	w.cw.Flush()
	if err := w.cw.Error(); err != nil {
		return fmt.Errorf("write quarantine rows: %w", err)
	}
	return nil
}

// ErrFormat reports a file that is not a quarantine CSV file, or is broken.
var ErrFormat = errors.New("not a quarantine file")

// Reader reads a quarantine CSV file one row at a time; it holds one row in
// memory, never the file.
type Reader struct {
	cr *csv.Reader
	// index[i] is the position in a record of Columns()[i].
	index []int
	width int
}

// NewReader reads the header from r and returns a Reader of the rows after
// it. The columns are found by name in the header, so files of earlier
// versions (which named column_name "column") read the same.
func NewReader(r io.Reader) (*Reader, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	hdr, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: the file is empty (a header row is expected)", ErrFormat)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrFormat, err)
	}
	pos := make(map[string]int, len(hdr))
	for i, h := range hdr {
		pos[h] = i
	}
	if _, ok := pos["column_name"]; !ok {
		if i, ok := pos[legacyColumnName]; ok {
			pos["column_name"] = i
		}
	}
	qr := &Reader{cr: cr, width: len(hdr)}
	for _, c := range Columns() {
		i, ok := pos[c.Name]
		if !ok {
			return nil, fmt.Errorf("%w: the header %q has no %s column", ErrFormat, strings.Join(hdr, ","), c.Name)
		}
		qr.index = append(qr.index, i)
	}
	cr.FieldsPerRecord = len(hdr)
	return qr, nil
}

// Read returns the next row, or io.EOF after the last.
func (r *Reader) Read() (Row, error) {
	rec, err := r.cr.Read()
	if errors.Is(err, io.EOF) {
		return Row{}, io.EOF
	}
	if err != nil {
		return Row{}, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	line, err := strconv.ParseInt(rec[r.index[1]], 10, 64)
	if err != nil {
		at, _ := r.cr.FieldPos(r.index[1])
		return Row{}, fmt.Errorf("%w: line %d: the line number %q is not a number", ErrFormat, at, rec[r.index[1]])
	}
	return Row{
		SourceFile: rec[r.index[0]],
		Line:       line,
		Column:     rec[r.index[2]],
		Reason:     rec[r.index[3]],
		Raw:        rec[r.index[4]],
	}, nil
}

// Skip passes over up to n rows and returns how many it passed (fewer only
// at the end of the file). Skipped rows are parsed as CSV but not kept.
func (r *Reader) Skip(n int) (int, error) {
	for i := 0; i < n; i++ {
		if _, err := r.cr.Read(); err != nil {
			if errors.Is(err, io.EOF) {
				return i, nil
			}
			return i, fmt.Errorf("%w: %w", ErrFormat, err)
		}
	}
	return n, nil
}

// Page returns up to limit rows of r after skipping offset rows; fewer at
// the end of the file. Only the returned rows are held in memory.
func (r *Reader) Page(offset, limit int) ([]Row, error) {
	if offset < 0 || limit < 0 {
		return nil, fmt.Errorf("quarantine page: offset %d, limit %d: both must be >= 0", offset, limit)
	}
	if _, err := r.Skip(offset); err != nil {
		return nil, err
	}
	var out []Row
	for len(out) < limit {
		row, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return out, err
		}
		out = append(out, row)
	}
	return out, nil
}
