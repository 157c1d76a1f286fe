// Package duckdb provides DuckDB to the pipeline: an engine for transforms
// (CSV to Parquet), a reader of Parquet files for other backends' bulk loads
// (ScanParquet), and the embedded default warehouse driver (Warehouse, a
// driver.Driver; its conformance harness is in warehouse_test.go).
//
// Its own statements are templates in sql/*.sql, written like the portable
// warehouse's (identifiers through ident). DuckDB's table functions
// (read_parquet, read_csv) and COPY targets take no bound parameters for
// file names: those are rendered as string literals by Quote (the template
// function paths), the one place values are not bound.
//
// DuckDB reports its errors with a type but no finer code: MapError
// recognises a read-only refusal, a held file lock and a missing table by
// their type and, within it, their message, here and nowhere else.
package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"

	duckdbdrv "github.com/duckdb/duckdb-go/v2"

	"github.com/grpipe/grpipe/internal/warehouse"
)

// Options tune a DuckDB database. The zero value means DuckDB's defaults.
type Options struct {
	// MemoryLimit caps DuckDB's memory, e.g. "2GB"; beyond it, DuckDB spills to TempDirectory.
	MemoryLimit string
	// TempDirectory is where DuckDB spills.
	TempDirectory string
	// Threads is the number of DuckDB worker threads (0: one per core).
	Threads int
	// Unordered lets DuckDB drop the insertion order of rows where no
	// statement asks for one (preserve_insertion_order = false): inserts
	// and COPY then run without holding rows back to keep their order,
	// which lets them stay inside MemoryLimit on large inputs.
	Unordered bool
	// StorageVersion is the storage_compatibility_version a new database
	// file is created with, e.g. "v1.2.0" ("": DuckDB's default, v0.10.2,
	// which every DuckDB since 0.10 reads).
	StorageVersion string
	// ReadOnly opens the file read-only: every write is refused, and so is
	// any access to other files (COPY ... TO, read_csv, ATTACH), which the
	// statements cannot turn back on.
	ReadOnly bool
	// AllowedDirectories are the folders a read-only database may still
	// read files from: the processed zone, whose Parquet the staging views
	// of the embedded warehouse read.
	AllowedDirectories []string
}

// Open opens the DuckDB database at path ("" for an in-memory one) with the
// ICU extension loaded and its time zone set to UTC (every connection's).
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
	if opts.Unordered {
		q.Set("preserve_insertion_order", "false")
	}
	if opts.StorageVersion != "" && !opts.ReadOnly {
		q.Set("storage_compatibility_version", opts.StorageVersion)
	}
	if opts.ReadOnly {
		q.Set("access_mode", "READ_ONLY")
		if len(opts.AllowedDirectories) == 0 {
			q.Set("enable_external_access", "false")
		}
	}
	dsn := path
	if len(q) > 0 {
		dsn += "?" + q.Encode()
	}
	// The time zone is set for the database (GLOBAL), so that every
	// connection starts in UTC: a read-only database's later connections
	// cannot set anything, the first one having locked the configuration.
	init := "LOAD icu; SET GLOBAL TimeZone = 'UTC'"
	if opts.ReadOnly {
		init += "; SET lock_configuration = true"
	}
	// With allowed folders, external access is turned off by the first
	// connection, once those are set (they cannot be set after), before any
	// statement of the caller runs; the later connections find it off.
	first := init
	if opts.ReadOnly && len(opts.AllowedDirectories) > 0 {
		first = "LOAD icu; SET GLOBAL TimeZone = 'UTC'; SET allowed_directories = " + QuoteList(opts.AllowedDirectories) +
			"; SET enable_external_access = false; SET lock_configuration = true"
	}
	var once sync.Mutex
	done := false
	conn, err := duckdbdrv.NewConnector(dsn, func(e driver.ExecerContext) error {
		once.Lock()
		defer once.Unlock()
		q := init
		switch {
		case !done:
			q = first
		case opts.ReadOnly:
			// The first connection locked the configuration: a later one
			// may not set anything, and needs nothing set (the ICU
			// extension and the time zone are the database's, not the
			// connection's: TestReadOnlyConcurrent).
			return nil
		}
		if _, err := e.ExecContext(ctx, q, nil); err != nil {
			return err
		}
		done = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("open duckdb %s: %w", describe(path), MapError(err))
	}
	db := sql.OpenDB(conn)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open duckdb %s: %w", describe(path), MapError(err))
	}
	return db, nil
}

func describe(path string) string {
	if path == "" {
		return "(in memory)"
	}
	return path
}

// ErrOutOfMemory is a statement that needed more memory than the engine's
// memory_limit allows (and could not spill).
var ErrOutOfMemory = errors.New("duckdb: out of memory")

// MapError wraps DuckDB's errors that callers act on with the warehouse's
// sentinels: a write on a read-only database (warehouse.ErrReadOnly), the
// file's lock held by another process (warehouse.ErrBusy, with what to do),
// a table or schema that does not exist (warehouse.ErrNoTable); and an
// out-of-memory error with ErrOutOfMemory. Other errors are returned as
// they are; nil stays nil.
func MapError(err error) error {
	var de *duckdbdrv.Error
	if err == nil || !errors.As(err, &de) {
		return err
	}
	switch {
	case de.Type == duckdbdrv.ErrorTypeInvalidInput && strings.Contains(de.Msg, "read-only mode"):
		return fmt.Errorf("%w: %w", warehouse.ErrReadOnly, err)
	case de.Type == duckdbdrv.ErrorTypeIO && (strings.Contains(de.Msg, "Could not set lock") || strings.Contains(de.Msg, "Conflicting lock")):
		return fmt.Errorf("%w: %w (another grpipe process has the warehouse open: wait for its run to end, or stop it)", warehouse.ErrBusy, err)
	case de.Type == duckdbdrv.ErrorTypeOutOfMemory:
		return fmt.Errorf("%w: %w", ErrOutOfMemory, err)
	case de.Type == duckdbdrv.ErrorTypeCatalog && strings.Contains(de.Msg, "does not exist") &&
		(strings.Contains(de.Msg, "Table with name") || strings.Contains(de.Msg, "Schema with name")):
		return fmt.Errorf("%w: %w", warehouse.ErrNoTable, err)
	}
	return err
}

// Quote quotes s as a DuckDB string literal. DuckDB does not take bound
// parameters for file names in table functions (read_parquet, read_csv) and
// COPY targets, so paths are quoted instead: this is the only way a value
// enters DuckDB statements as text.
func Quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// QuoteList quotes each path and joins them as a DuckDB list literal.
func QuoteList(paths []string) string {
	q := make([]string, len(paths))
	for i, p := range paths {
		q[i] = Quote(p)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
