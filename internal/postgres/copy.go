package postgres

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/grpipe/grpipe/internal/duckdb"
)

// PostgreSQL type OIDs the binary COPY encoder writes (pg_type.oid).
const (
	oidBool        = 16
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidText        = 25
	oidFloat4      = 700
	oidFloat8      = 701
	oidVarchar     = 1043
	oidDate        = 1082
	oidTimestamp   = 1114
	oidTimestamptz = 1184
)

// errUnsupportedColumn: a column type the binary encoder does not write
// (the COPY then goes through pgx's generic encoder).
var errUnsupportedColumn = errors.New("column type not written by the binary COPY encoder")

// copyBinaryHeader starts every binary COPY stream: the signature, no flags,
// no header extension.
var copyBinaryHeader = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// encodeFunc appends one non-NULL value in PostgreSQL's binary format,
// length word included.
type encodeFunc func(buf []byte, v any) ([]byte, error)

// columnEncoders returns the encoder of each column of table, in the order
// of columns, from the types the server reports for them; an error wrapping
// errUnsupportedColumn when a column's type has none. The Parquet columns
// to read follow: a timestamp column is read as its epoch microseconds,
// which its encoder takes; and which columns are text.
func columnEncoders(ctx context.Context, conn *pgconn.PgConn, ident pgx.Identifier, columns []string) (enc []encodeFunc, read []duckdb.ParquetColumn, text []bool, err error) {
	quoted := make([]string, len(columns))
	for i, c := range columns {
		quoted[i] = pgx.Identifier{c}.Sanitize()
	}
	sd, err := conn.Prepare(ctx, "", "SELECT "+strings.Join(quoted, ", ")+" FROM "+ident.Sanitize(), nil)
	if err != nil {
		return nil, nil, nil, err
	}
	enc = make([]encodeFunc, len(sd.Fields))
	read = make([]duckdb.ParquetColumn, len(sd.Fields))
	text = make([]bool, len(sd.Fields))
	for i, f := range sd.Fields {
		if enc[i] = encoderFor(f.DataTypeOID); enc[i] == nil {
			return nil, nil, nil, fmt.Errorf("%w: column %s has type oid %d", errUnsupportedColumn, columns[i], f.DataTypeOID)
		}
		read[i] = duckdb.ParquetColumn{Name: columns[i], EpochMicros: f.DataTypeOID == oidTimestamp || f.DataTypeOID == oidTimestamptz}
		text[i] = f.DataTypeOID == oidText || f.DataTypeOID == oidVarchar
	}
	return enc, read, text, nil
}

func encoderFor(oid uint32) encodeFunc {
	switch oid {
	case oidBool:
		return encodeBool
	case oidInt2:
		return encodeInt(2, math.MinInt16, math.MaxInt16)
	case oidInt4:
		return encodeInt(4, math.MinInt32, math.MaxInt32)
	case oidInt8:
		return encodeInt(8, math.MinInt64, math.MaxInt64)
	case oidFloat4:
		return encodeFloat4
	case oidFloat8:
		return encodeFloat8
	case oidText, oidVarchar:
		return encodeText
	case oidDate:
		return encodeDate
	case oidTimestamp:
		return encodeTimestamp
	case oidTimestamptz:
		return encodeTimestamptz
	}
	return nil
}

func typeError(v any, want string) error {
	return fmt.Errorf("a %T value for a %s column", v, want)
}

func encodeBool(buf []byte, v any) ([]byte, error) {
	b, ok := v.(bool)
	if !ok {
		return buf, typeError(v, "boolean")
	}
	buf = binary.BigEndian.AppendUint32(buf, 1)
	if b {
		return append(buf, 1), nil
	}
	return append(buf, 0), nil
}

func encodeInt(size int, lo, hi int64) encodeFunc {
	return func(buf []byte, v any) ([]byte, error) {
		var n int64
		switch x := v.(type) {
		case int64:
			n = x
		case int32:
			n = int64(x)
		case int16:
			n = int64(x)
		case int8:
			n = int64(x)
		case uint8:
			n = int64(x)
		case uint16:
			n = int64(x)
		case uint32:
			n = int64(x)
		default:
			return buf, typeError(v, fmt.Sprintf("%d-byte integer", size))
		}
		if n < lo || n > hi {
			return buf, fmt.Errorf("%d out of the range of a %d-byte integer column", n, size)
		}
		buf = binary.BigEndian.AppendUint32(buf, uint32(size))
		switch size {
		case 2:
			return binary.BigEndian.AppendUint16(buf, uint16(n)), nil
		case 4:
			return binary.BigEndian.AppendUint32(buf, uint32(n)), nil
		}
		return binary.BigEndian.AppendUint64(buf, uint64(n)), nil
	}
}

func encodeFloat8(buf []byte, v any) ([]byte, error) {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case float32:
		f = float64(x)
	default:
		return buf, typeError(v, "double precision")
	}
	buf = binary.BigEndian.AppendUint32(buf, 8)
	return binary.BigEndian.AppendUint64(buf, math.Float64bits(f)), nil
}

func encodeFloat4(buf []byte, v any) ([]byte, error) {
	f, ok := v.(float32)
	if !ok {
		return buf, typeError(v, "real")
	}
	buf = binary.BigEndian.AppendUint32(buf, 4)
	return binary.BigEndian.AppendUint32(buf, math.Float32bits(f)), nil
}

func encodeText(buf []byte, v any) ([]byte, error) {
	var s string
	switch x := v.(type) {
	case string:
		// A VARCHAR of DuckDB: valid UTF-8 (DuckDB checks every string it
		// reads from Parquet or CSV, and makes no other).
		s = x
	case []byte:
		// A BLOB: the server refuses text that is not UTF-8; say which
		// value it was.
		if !utf8.Valid(x) {
			return buf, fmt.Errorf("text that is not valid UTF-8 (%q)", truncate(string(x), 40))
		}
		s = string(x)
	default:
		return buf, typeError(v, "text")
	}
	if len(s) > math.MaxInt32 {
		return buf, fmt.Errorf("text of %d bytes is too long for a COPY field", len(s))
	}
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(s)))
	return append(buf, s...), nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// postgresEpoch is PostgreSQL's zero for dates and timestamps.
var postgresEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// postgresEpochMicros is postgresEpoch in microseconds since 1970.
var postgresEpochMicros = postgresEpoch.UnixMicro()

// appendEpochMicros appends a timestamp field from its microseconds since
// 1970 (as duckdb.ParquetColumn's EpochMicros reads it).
func appendEpochMicros(buf []byte, us int64) ([]byte, error) {
	if us < math.MinInt64+postgresEpochMicros {
		return buf, fmt.Errorf("timestamp %d µs before 1970 out of range", -us)
	}
	buf = binary.BigEndian.AppendUint32(buf, 8)
	return binary.BigEndian.AppendUint64(buf, uint64(us-postgresEpochMicros)), nil
}

func encodeTimestamp(buf []byte, v any) ([]byte, error) {
	if us, ok := v.(int64); ok {
		return appendEpochMicros(buf, us)
	}
	t, ok := v.(time.Time)
	if !ok {
		return buf, typeError(v, "timestamp")
	}
	// A timestamp without time zone is the wall clock as given (as pgx
	// writes it): its fields, read as UTC.
	wall := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
	return appendMicros(buf, wall), nil
}

func encodeTimestamptz(buf []byte, v any) ([]byte, error) {
	if us, ok := v.(int64); ok {
		return appendEpochMicros(buf, us)
	}
	t, ok := v.(time.Time)
	if !ok {
		return buf, typeError(v, "timestamp with time zone")
	}
	return appendMicros(buf, t), nil
}

// appendMicros appends t as a timestamp field: its length (8) and the
// microseconds since PostgreSQL's epoch.
func appendMicros(buf []byte, t time.Time) []byte {
	buf = binary.BigEndian.AppendUint32(buf, 8)
	return binary.BigEndian.AppendUint64(buf, uint64(t.UnixMicro()-postgresEpoch.UnixMicro()))
}

func encodeDate(buf []byte, v any) ([]byte, error) {
	t, ok := v.(time.Time)
	if !ok {
		return buf, typeError(v, "date")
	}
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	days := (day.Unix() - postgresEpoch.Unix()) / 86400
	if days < math.MinInt32 || days > math.MaxInt32 {
		return buf, fmt.Errorf("date %s out of range", day.Format(time.DateOnly))
	}
	buf = binary.BigEndian.AppendUint32(buf, 4)
	return binary.BigEndian.AppendUint32(buf, uint32(int32(days))), nil
}

// copyBinary streams rows into table's COPY in PostgreSQL's binary format:
// write (copyChunks, started in a goroutine of its own) reads the rows and
// encodes them, the connection sends what it has encoded. An error of the
// rows or of an encoder aborts the COPY (nothing of it stays in the table).
func copyBinary(ctx context.Context, conn *pgconn.PgConn, ident pgx.Identifier, columns []string, write func(w io.Writer) error) (int64, error) {
	quoted := make([]string, len(columns))
	for i, c := range columns {
		quoted[i] = pgx.Identifier{c}.Sanitize()
	}
	pr, pw := io.Pipe()
	encoded := make(chan error, 1)
	go func() {
		err := write(pw)
		pw.CloseWithError(err)
		encoded <- err
	}()
	tag, err := conn.CopyFrom(ctx, pr, "COPY "+ident.Sanitize()+" ("+strings.Join(quoted, ", ")+") FROM STDIN (FORMAT binary)")
	// Stop the encoder if the COPY ended first (the server refused a row,
	// the connection broke), and wait for it.
	pr.CloseWithError(errCopyEnded)
	encErr := <-encoded
	if encErr != nil && !errors.Is(encErr, errCopyEnded) && ctx.Err() == nil {
		return 0, fmt.Errorf("%w: %w", errSource, encErr)
	}
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// copyChunks is copyBinary's source when the rows come from Parquet files
// read by DuckDB's threads a chunk at a time (duckdb.EachParquetChunk):
// each chunk is encoded where DuckDB hands it over, into a buffer of its
// own, and written whole (the pipe's writes are taken one at a time); text
// columns are copied straight out of DuckDB's vectors.
func copyChunks(ctx context.Context, scan *sql.DB, read []duckdb.ParquetColumn, files []string, columns []string, enc []encodeFunc, text []bool, w io.Writer) error {
	if _, err := w.Write(copyBinaryHeader); err != nil {
		return err
	}
	bufs := sync.Pool{New: func() any { b := make([]byte, 0, 1<<20); return &b }}
	fileCol, rowCol := len(read), len(read)+1
	_, err := duckdb.EachParquetChunk(ctx, scan, read, files, func(c *duckdb.Chunk) error {
		bp := bufs.Get().(*[]byte)
		defer bufs.Put(bp)
		buf := (*bp)[:0]
		for row := range c.Len() {
			buf = binary.BigEndian.AppendUint16(buf, uint16(len(enc)))
			for i := range enc {
				if text[i] && c.IsText(i) {
					s, ok, err := c.Text(i, row)
					switch {
					case err != nil:
						return err
					case !ok:
						buf = binary.BigEndian.AppendUint32(buf, math.MaxUint32) // -1: NULL
					case len(s) > math.MaxInt32:
						return rowError(c, fileCol, rowCol, row, columns[i], fmt.Errorf("text of %d bytes is too long for a COPY field", len(s)))
					default:
						// A VARCHAR of DuckDB: valid UTF-8 (see encodeText).
						buf = binary.BigEndian.AppendUint32(buf, uint32(len(s)))
						buf = append(buf, s...)
					}
					continue
				}
				v, err := c.Value(i, row)
				if err != nil {
					return err
				}
				if v == nil {
					buf = binary.BigEndian.AppendUint32(buf, math.MaxUint32) // -1: NULL
					continue
				}
				if buf, err = enc[i](buf, v); err != nil {
					return rowError(c, fileCol, rowCol, row, columns[i], err)
				}
			}
		}
		*bp = buf
		_, err := w.Write(buf)
		return err
	})
	if err != nil {
		return err
	}
	_, err = w.Write(binary.BigEndian.AppendUint16(nil, math.MaxUint16)) // the trailer: -1
	return err
}

// rowError names the file and the row (1 first) of a value that cannot be
// encoded.
func rowError(c *duckdb.Chunk, fileCol, rowCol, row int, column string, err error) error {
	file, _, ferr := c.Text(fileCol, row)
	n, nerr := c.Value(rowCol, row)
	if ferr != nil || nerr != nil {
		return fmt.Errorf("column %s: %w", column, err)
	}
	at, _ := n.(int64)
	return fmt.Errorf("%s: row %d, column %s: %w", strings.Clone(file), at+1, column, err)
}

// errCopyEnded stops the encoder when the COPY ended before it.
var errCopyEnded = errors.New("copy ended")

// errSource marks an error of reading or encoding the rows (not of the
// server).
var errSource = errors.New("read rows")
