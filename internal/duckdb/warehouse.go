package duckdb

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"text/template"

	"github.com/grpipe/grpipe/internal/warehouse/driver"
)

//go:embed sql/*.sql
var sqlFiles embed.FS

// dialect is DuckDB's.
var dialect = driver.Dialect{Name: "duckdb", Text: "VARCHAR", RowID: "rowid"}

// statements parses the package's SQL templates; paths renders a list of
// file names as DuckDB string literals (see Quote).
func statements() (*driver.Statements, error) {
	return ParseStatements(sqlFiles, "sql/*.sql", nil)
}

// ParseStatements parses DuckDB statement templates: those in fsys matching
// pattern, as driver.ParseStatements does for the dialect duckdb, with two
// functions more besides funcs: paths renders a list of file names as a
// DuckDB list literal (QuoteList), str one string as a literal (Quote), for
// the places DuckDB takes no bound parameter (file names in table functions
// and COPY targets). The transform's statements are parsed here too.
func ParseStatements(fsys fs.FS, pattern string, funcs template.FuncMap) (*driver.Statements, error) {
	all := template.FuncMap{"paths": QuoteList, "str": Quote}
	for k, f := range funcs {
		all[k] = f
	}
	return driver.ParseStatements(fsys, pattern, dialect.Name, all)
}

// WarehouseStorageVersion is the storage version of a new warehouse file:
// the first that stores text columns with zstd (create_table.duckdb.sql in
// the warehouse's statements). DuckDB 1.2 and later read such a file; an
// existing file keeps the version it was created with.
const WarehouseStorageVersion = "v1.2.0"

// Warehouse is the embedded default warehouse: a DuckDB file.
type Warehouse struct {
	db    *sql.DB
	stmts *driver.Statements
}

var (
	_ driver.Driver        = (*Warehouse)(nil)
	_ driver.ParquetStager = (*Warehouse)(nil)
)

// OpenWarehouse opens (creating if missing) the DuckDB warehouse file at
// path. With opts.ReadOnly every write is refused (warehouse.ErrReadOnly).
// While another process has the file open for writing, or at all when this
// open is for writing, it fails with warehouse.ErrBusy. A new file is
// created with storage version WarehouseStorageVersion unless
// opts.StorageVersion says otherwise.
func OpenWarehouse(ctx context.Context, path string, opts Options) (*Warehouse, error) {
	stmts, err := statements()
	if err != nil {
		return nil, err
	}
	if opts.StorageVersion == "" && !opts.ReadOnly {
		opts.StorageVersion = WarehouseStorageVersion
	}
	db, err := Open(ctx, path, opts)
	if err != nil {
		return nil, err
	}
	return &Warehouse{db: db, stmts: stmts}, nil
}

// DB returns the connection pool.
func (w *Warehouse) DB() *sql.DB { return w.db }

// Dialect returns DuckDB's dialect.
func (w *Warehouse) Dialect() driver.Dialect { return dialect }

// MapError maps DuckDB's errors to the warehouse's sentinels (see MapError).
func (w *Warehouse) MapError(err error) error { return MapError(err) }

func (w *Warehouse) exec(ctx context.Context, name string, data any) (sql.Result, error) {
	r, err := w.stmts.Exec(ctx, w.db, name, data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return r, nil
}

// LoadParquet inserts the rows of local Parquet files into table.
func (w *Warehouse) LoadParquet(ctx context.Context, table driver.Table, columns []string, files []string) (int64, error) {
	r, err := w.exec(ctx, "load_parquet", map[string]any{"Table": table, "Columns": columns, "Files": files})
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

// StageParquet makes def a view over the Parquet files (columns cast to
// def's types), or an empty table when there are none: staging then costs
// no copy, and the upsert reads the files directly.
func (w *Warehouse) StageParquet(ctx context.Context, def driver.TableDef, files []string) (int64, error) {
	q, err := w.stmts.Render("relation_kind", nil)
	if err != nil {
		return 0, err
	}
	var kind string
	err = w.db.QueryRowContext(ctx, q, def.Table.Schema, def.Table.Name).Scan(&kind)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return 0, fmt.Errorf("relation_kind: %w", err)
	default:
		if _, err := w.exec(ctx, "drop_relation", map[string]any{"Table": def.Table, "View": kind == "VIEW"}); err != nil {
			return 0, err
		}
	}
	if len(files) == 0 {
		_, err := w.exec(ctx, "stage_empty", def)
		return 0, err
	}
	if _, err := w.exec(ctx, "stage_view", map[string]any{"Table": def.Table, "Columns": def.Columns, "Files": files}); err != nil {
		return 0, err
	}
	q, err = w.stmts.Render("parquet_count", map[string]any{"Files": files})
	if err != nil {
		return 0, err
	}
	var n int64
	if err := w.db.QueryRowContext(ctx, q).Scan(&n); err != nil {
		return 0, fmt.Errorf("parquet_count: %w", err)
	}
	return n, nil
}

// ScanParquet reads the columns of local Parquet files with the DuckDB
// database db (an in-memory one will do): the rows stream as they are read.
func ScanParquet(ctx context.Context, db *sql.DB, columns []string, files []string) (*sql.Rows, error) {
	stmts, err := statements()
	if err != nil {
		return nil, err
	}
	q, err := stmts.Render("scan_parquet", map[string]any{"Columns": columns, "Files": files})
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, MapError(err)
	}
	return rows, nil
}

// CountParquet returns the number of rows of local Parquet files, read by
// the DuckDB database db (an in-memory one will do) from the files'
// metadata.
func CountParquet(ctx context.Context, db *sql.DB, files []string) (int64, error) {
	stmts, err := statements()
	if err != nil {
		return 0, err
	}
	q, err := stmts.Render("parquet_count", map[string]any{"Files": files})
	if err != nil {
		return 0, err
	}
	var n int64
	if err := db.QueryRowContext(ctx, q).Scan(&n); err != nil {
		return 0, MapError(err)
	}
	return n, nil
}

// Close closes the database.
func (w *Warehouse) Close() error { return w.db.Close() }
