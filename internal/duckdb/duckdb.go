// Package duckdb provides DuckDB to the pipeline: an engine for transforms
// (CSV to Parquet) and the embedded default warehouse driver.
package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"

	duckdbdrv "github.com/duckdb/duckdb-go/v2"
)

// Options tune a DuckDB database. The zero value means DuckDB's defaults.
type Options struct {
	// MemoryLimit caps DuckDB's memory, e.g. "2GB"; beyond it, DuckDB spills to TempDirectory.
	MemoryLimit string
	// TempDirectory is where DuckDB spills.
	TempDirectory string
	// Threads is the number of DuckDB worker threads (0: one per core).
	Threads int
	// ReadOnly opens the file read-only: every write is refused, and so is
	// any access to other files (COPY ... TO, read_csv, ATTACH), which the
	// statements cannot turn back on.
	ReadOnly bool
}

// Open opens the DuckDB database at path ("" for an in-memory one) with the
// ICU extension loaded and the session time zone set to UTC.
func Open(ctx context.Context, path string, opts Options) (*sql.DB, error) {
	q := url.Values{}
	if opts.MemoryLimit != "" {
		q.Set("memory_limit", opts.MemoryLimit)
	}
	if opts.TempDirectory != "" && !opts.ReadOnly { // a read-only database may not touch other files
		if err := os.MkdirAll(opts.TempDirectory, 0o755); err != nil {
			return nil, fmt.Errorf("duckdb temp directory: %w", err)
		}
		q.Set("temp_directory", opts.TempDirectory)
	}
	if opts.Threads > 0 {
		q.Set("threads", strconv.Itoa(opts.Threads))
	}
	if opts.ReadOnly {
		q.Set("access_mode", "READ_ONLY")
		q.Set("enable_external_access", "false")
	}
	dsn := path
	if len(q) > 0 {
		dsn += "?" + q.Encode()
	}
	init := "LOAD icu; SET TimeZone = 'UTC'"
	if opts.ReadOnly {
		init += "; SET lock_configuration = true"
	}
	conn, err := duckdbdrv.NewConnector(dsn, func(e driver.ExecerContext) error {
		_, err := e.ExecContext(ctx, init, nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("open duckdb %s: %w", describe(path), explain(err))
	}
	db := sql.OpenDB(conn)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open duckdb %s: %w", describe(path), explain(err))
	}
	return db, nil
}

func describe(path string) string {
	if path == "" {
		return "(in memory)"
	}
	return path
}

// explain adds what to do to DuckDB's lock error.
func explain(err error) error {
	if strings.Contains(err.Error(), "Could not set lock") || strings.Contains(err.Error(), "Conflicting lock") {
		return fmt.Errorf("%w (another grpipe process has the warehouse open: wait for its run to end, or stop it)", err)
	}
	return err
}

// Quote quotes s as a DuckDB string literal. DuckDB does not take bound
// parameters for file names in table functions and COPY targets, so paths are
// quoted instead.
func Quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// QuoteList quotes each path and joins them as a DuckDB list literal.
func QuoteList(paths []string) string {
	q := make([]string, len(paths))
	for i, p := range paths {
		q[i] = Quote(p)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
