package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"

	whdriver "github.com/grpipe/grpipe/internal/warehouse/driver"
)

// ParquetColumn is a column EachParquetRow reads.
type ParquetColumn struct {
	Name string
	// EpochMicros reads a timestamp column as an int64: its microseconds
	// since 1970-01-01 00:00:00 (of the wall clock for a TIMESTAMP, of UTC
	// for a TIMESTAMPTZ), which costs the reader far less than a time.Time.
	EpochMicros bool
}

// minPartRows is the least number of rows EachParquetRow reads with one
// query: consecutive row groups of a file are read together up to it. A
// part of several row groups is read by several of DuckDB's threads; with
// single row groups (65,536 rows) the PostgreSQL COPY of a million reviews
// took 2.5 s against 2.1 s (BENCHMARKS.md, "Round 8: PostgreSQL against
// DuckDB").
const minPartRows = 262144

// parquetPart is a run of consecutive row groups of one file: its rows
// [lo, hi).
type parquetPart struct {
	file   string
	lo, hi int64
}

// EachParquetRow reads the columns of local Parquet files with the DuckDB
// database db (an in-memory one will do) and calls fn with each row.
//
// DuckDB's Go driver holds a query's whole result before it gives the
// first row, so the files are read a part at a time (a run of row groups,
// minPartRows or more), one part ahead of fn on a second connection: at
// most two parts are held, and DuckDB reads the next part while fn takes
// the rows of this one.
//
// fn gets the values as the driver gives them (nil, bool, integers,
// floats, string, []byte, time.Time; int64 for an EpochMicros column),
// without database/sql's conversions; vals is reused for the next row: fn
// must not keep it. An error of fn stops the read and is returned as it
// is; so is the context's error. The rows of a part come in no particular
// order.
func EachParquetRow(ctx context.Context, db *sql.DB, columns []ParquetColumn, files []string, fn func(vals []driver.Value) error) error {
	stmts, err := statements()
	if err != nil {
		return err
	}
	var conns [2]*sql.Conn
	for i := range conns {
		if conns[i], err = db.Conn(ctx); err != nil {
			return MapError(err)
		}
		defer conns[i].Close()
	}
	parts, err := parquetParts(ctx, stmts, conns[0], files)
	if err != nil {
		return err
	}

	// The reader: each part's query on the connection the part before did
	// not use, handed over when it has its result, the connection held
	// until the rows are taken (done).
	type result struct {
		rows driver.Rows
		done chan struct{}
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan result)
	var readErr error
	go func() {
		defer close(results)
		for i, p := range parts {
			q, err := stmts.Render("scan_parquet_each", map[string]any{"Columns": columns, "Files": []string{p.file}})
			if err != nil {
				readErr = err
				return
			}
			err = conns[i%2].Raw(func(dc any) error {
				qc, ok := dc.(driver.QueryerContext)
				if !ok {
					return fmt.Errorf("duckdb: the driver's connection %T cannot query", dc)
				}
				rows, err := qc.QueryContext(rctx, q, []driver.NamedValue{{Ordinal: 1, Value: p.lo}, {Ordinal: 2, Value: p.hi}})
				if err != nil {
					return MapError(err)
				}
				defer rows.Close()
				r := result{rows: rows, done: make(chan struct{})}
				select {
				case results <- r:
				case <-rctx.Done():
					return rctx.Err()
				}
				<-r.done
				return nil
			})
			if err != nil {
				readErr = err
				return
			}
		}
	}()

	// The rows, part by part; on an error the reader is stopped and every
	// part it still hands over is released.
	fail := func(err error) error {
		cancel()
		for r := range results {
			close(r.done)
		}
		return err
	}
	vals := make([]driver.Value, len(columns))
	n := 0
	for r := range results {
		for {
			if n++; n%4096 == 0 {
				if err := ctx.Err(); err != nil {
					close(r.done)
					return fail(err)
				}
			}
			if err := r.rows.Next(vals); err != nil {
				close(r.done)
				if errors.Is(err, io.EOF) {
					break
				}
				return fail(MapError(err))
			}
			if err := fn(vals); err != nil {
				close(r.done)
				return fail(err)
			}
		}
	}
	if readErr != nil {
		return readErr
	}
	return ctx.Err()
}

// parquetParts splits files into parts of consecutive row groups of at
// least minPartRows rows (a file's last part may have fewer).
func parquetParts(ctx context.Context, stmts *whdriver.Statements, conn *sql.Conn, files []string) ([]parquetPart, error) {
	var parts []parquetPart
	for _, f := range files {
		q, err := stmts.Render("parquet_row_groups", map[string]any{"Files": []string{f}})
		if err != nil {
			return nil, err
		}
		rows, err := conn.QueryContext(ctx, q)
		if err != nil {
			return nil, MapError(err)
		}
		var at int64
		cur := parquetPart{file: f}
		for rows.Next() {
			var id, n int64
			if err := rows.Scan(&id, &n); err != nil {
				rows.Close()
				return nil, MapError(err)
			}
			at += n
			if cur.hi = at; cur.hi-cur.lo >= minPartRows {
				parts = append(parts, cur)
				cur = parquetPart{file: f, lo: at, hi: at}
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, MapError(err)
		}
		if cur.hi > cur.lo {
			parts = append(parts, cur)
		}
	}
	return parts, nil
}
