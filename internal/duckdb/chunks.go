package duckdb

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"

	duckdbdrv "github.com/duckdb/duckdb-go/v2"
)

// ParquetColumn is a column EachParquetChunk reads.
type ParquetColumn struct {
	Name string
	// EpochMicros reads a timestamp column as an int64: its microseconds
	// since 1970-01-01 00:00:00 (of the wall clock for a TIMESTAMP, of UTC
	// for a TIMESTAMPTZ), which costs the reader far less than a time.Time.
	EpochMicros bool
}

// Chunk is a chunk of rows (up to 2,048) EachParquetChunk hands over. It
// and every string read from it are valid only during the call it is
// handed to.
type Chunk struct {
	c     *duckdbdrv.DataChunk
	texts []duckdbdrv.VectorView[string]
	text  []bool
}

// Len is the chunk's number of rows.
func (c *Chunk) Len() int { return c.c.GetSize() }

// IsText reports whether column col is text (VARCHAR): read it with Text.
func (c *Chunk) IsText(col int) bool { return c.text[col] }

// Text returns the value of the text column col at row, borrowed from
// DuckDB (no copy: valid only during the call); ok is false for NULL.
func (c *Chunk) Text(col, row int) (s string, ok bool, err error) {
	return c.texts[col].GetValueBorrowed(row)
}

// Value returns the value of column col at row as the driver gives it
// (nil for NULL; int64 for an EpochMicros column).
func (c *Chunk) Value(col, row int) (any, error) { return c.c.GetValue(col, row) }

// chunkSink is the scalar function that hands EachParquetChunk's chunks
// over: DuckDB calls it from its own threads with each chunk of the scan.
type chunkSink struct {
	fn   func(*Chunk) error
	rows atomic.Int64

	mu  sync.Mutex
	err error // fn's first error, returned as it is (DuckDB keeps only its text)
}

func (s *chunkSink) fail(err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = err
	}
	return err
}

func (s *chunkSink) Config() duckdbdrv.ScalarFuncConfig {
	anyType, _ := duckdbdrv.NewTypeInfo(duckdbdrv.TYPE_ANY)
	text, _ := duckdbdrv.NewTypeInfo(duckdbdrv.TYPE_VARCHAR)
	return duckdbdrv.ScalarFuncConfig{
		VariadicTypeInfo:    anyType,
		ResultTypeInfo:      text,
		Volatile:            true, // called for every row, never folded
		SpecialNullHandling: true, // rows with NULLs too
	}
}

func (s *chunkSink) Executor() duckdbdrv.ScalarFuncExecutor {
	return duckdbdrv.ScalarFuncExecutor{ChunkContextExecutor: s.chunk}
}

func (s *chunkSink) chunk(ctx context.Context, st *duckdbdrv.ChunkIteratorState) error {
	in := st.GetInputChunk()
	c := &Chunk{c: in, texts: make([]duckdbdrv.VectorView[string], in.ColumnCount()), text: make([]bool, in.ColumnCount())}
	for i := range c.texts {
		v, err := in.GetVector(i)
		if err != nil {
			return err
		}
		if view, err := duckdbdrv.GetVectorView[string](v); err == nil {
			c.texts[i], c.text[i] = view, true
		}
	}
	if err := s.fn(c); err != nil {
		return s.fail(err)
	}
	s.rows.Add(int64(c.Len()))
	out, err := duckdbdrv.GetVectorWriter[string](st.GetResultVector())
	if err != nil {
		return err
	}
	for row := range c.Len() {
		if err := out.SetNull(row); err != nil {
			return err
		}
	}
	return nil
}

// EachParquetChunk reads the columns of local Parquet files with the
// DuckDB database db (an in-memory one will do) and calls fn with each
// chunk of rows, from DuckDB's own threads: several calls run at once, and
// the rows stream (no result is held). A chunk's columns are columns, then
// each row's file (text) and its row number in the file (int64, 0 first). It returns the number of rows read.
// An error of fn stops the read and is returned as it is; so is the
// context's error.
func EachParquetChunk(ctx context.Context, db *sql.DB, columns []ParquetColumn, files []string, fn func(*Chunk) error) (int64, error) {
	stmts, err := statements()
	if err != nil {
		return 0, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return 0, MapError(err)
	}
	defer conn.Close()
	sink := &chunkSink{fn: fn}
	if err := duckdbdrv.RegisterScalarUDF(conn, "grpipe_rows", sink); err != nil {
		return 0, fmt.Errorf("duckdb: register the chunk reader: %w", err)
	}
	q, err := stmts.Render("scan_parquet_chunks", map[string]any{"Columns": columns, "Files": files})
	if err != nil {
		return 0, err
	}
	var nonNull int64
	if err := conn.QueryRowContext(ctx, q).Scan(&nonNull); err != nil {
		sink.mu.Lock()
		fnErr := sink.err
		sink.mu.Unlock()
		switch {
		case fnErr != nil:
			return 0, fnErr
		case ctx.Err() != nil:
			return 0, ctx.Err()
		}
		return 0, MapError(err)
	}
	return sink.rows.Load(), nil
}
