package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
)

// ParquetColumn is a column EachParquetRow reads.
type ParquetColumn struct {
	Name string
	// EpochMicros reads a timestamp column as an int64: its microseconds
	// since 1970-01-01 00:00:00 (of the wall clock for a TIMESTAMP, of UTC
	// for a TIMESTAMPTZ), which costs the reader far less than a time.Time.
	EpochMicros bool
}

// EachParquetRow reads the columns of local Parquet files with the DuckDB
// database db (an in-memory one will do) and calls fn with each row, as the
// rows are read. fn gets the values as the driver gives them (nil, bool,
// integers, floats, string, []byte, time.Time; int64 for an EpochMicros
// column), without database/sql's conversions: a reader of millions of
// rows (the PostgreSQL COPY) spends a third less. vals is reused for the
// next row: fn must not keep it. An error of fn stops the read and is
// returned as it is; so is the context's error.
func EachParquetRow(ctx context.Context, db *sql.DB, columns []ParquetColumn, files []string, fn func(vals []driver.Value) error) error {
	stmts, err := statements()
	if err != nil {
		return err
	}
	q, err := stmts.Render("scan_parquet_each", map[string]any{"Columns": columns, "Files": files})
	if err != nil {
		return err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return MapError(err)
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		qc, ok := dc.(driver.QueryerContext)
		if !ok {
			return fmt.Errorf("duckdb: the driver's connection %T cannot query", dc)
		}
		rows, err := qc.QueryContext(ctx, q, nil)
		if err != nil {
			return MapError(err)
		}
		defer rows.Close()
		vals := make([]driver.Value, len(columns))
		for n := 0; ; n++ {
			if n%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if err := rows.Next(vals); err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return MapError(err)
			}
			if err := fn(vals); err != nil {
				return err
			}
		}
	})
}
