// Package driver defines what a warehouse backend implements: the Driver
// interface (a connection, a dialect, a bulk-load path and the mapping of its
// errors), the table definitions the portable warehouse hands it, and the SQL
// template machinery every backend's statements are written with.
//
// The portable warehouse (package warehouse) wraps a Driver and holds all the
// shared logic: staging, the newer-wins upsert, the checks, the analytics.
// A new backend is a package with a type implementing Driver (and, if it can
// read local Parquet in place, ParquetStager), whose _test.go supplies a
// harness to drivertest.RunConformanceTests; it is done when the whole suite
// passes against a real server. internal/duckdb and internal/postgres are the
// two examples.
package driver

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	grpipe "github.com/grpipe/grpipe"
)

// Driver is a warehouse backend.
type Driver interface {
	// DB is the backend's connection pool. The portable warehouse runs
	// its statements on it, each with the caller's context.
	DB() *sql.DB
	// Dialect names the backend and its types.
	Dialect() Dialect
	// LoadParquet appends the rows of local Parquet files to table, whose
	// columns are given in file order, and returns the number of rows loaded.
	LoadParquet(ctx context.Context, table Table, columns []string, files []string) (int64, error)
	// MapError returns err (nil for nil) wrapped so that errors.Is finds the
	// warehouse's sentinel errors where err is one of them: a write refused
	// by a read-only session (warehouse.ErrReadOnly), the database held by
	// another process (warehouse.ErrBusy), a table or schema that does not
	// exist (warehouse.ErrNoTable). It may also add what to do (a server
	// down, a refused login). The portable warehouse passes every error of
	// the backend through it; no caller reads an error's text.
	MapError(err error) error
	// Close closes the backend.
	Close() error
}

// ParquetStager is a Driver that stages by reading local Parquet files in
// place rather than copying their rows into a staging table (the embedded
// DuckDB warehouse: a view over the files). The files must outlive the
// staging relation's use (the upsert).
type ParquetStager interface {
	// StageParquet replaces the staging relation def with the rows of files
	// (an empty table when there are none) and returns their number.
	StageParquet(ctx context.Context, def TableDef, files []string) (int64, error)
}

// TxLoader is a Driver that can bulk-load local Parquet files inside a
// transaction the portable warehouse holds open on one connection (the
// PostgreSQL warehouse: COPY is transactional). The upsert then copies a
// batch's rows straight into an empty target table, or into the staging
// table, in the same transaction as the rest of the upsert, instead of
// staging them beforehand: a fresh table's rows are written once, not twice.
type TxLoader interface {
	// LoadParquetTx appends the rows of local Parquet files to table,
	// whose columns are given in file order, on conn, inside the
	// transaction open on it, and returns the number of rows loaded. With
	// analyze it then gathers the planner's statistics of table (a staging
	// table the rest of the transaction joins against, or a fresh target
	// table the checks and analytics then read).
	LoadParquetTx(ctx context.Context, conn *sql.Conn, table Table, columns []string, files []string, analyze bool) (int64, error)
	// CountParquet returns the number of rows of local Parquet files
	// (from their metadata: nothing is loaded).
	CountParquet(ctx context.Context, files []string) (int64, error)
}

// Dialect holds what differs between backends in DDL and in the choice of
// SQL templates.
type Dialect struct {
	// Name is the backend's name: duckdb, postgres. A statement template
	// <name>.<Name>.sql replaces the portable <name>.sql for the backend.
	Name string
	// Text is the type of text columns.
	Text string
	// RowID names the pseudo-column that holds a row's place in the
	// table's storage (DuckDB's rowid), "" when the backend has none. A
	// page of the explorer's rows is read back by it (browse.sql): the scan
	// then reads only the row groups holding them. Without it a page is
	// read back by key (PostgreSQL's primary-key index).
	RowID string
}

// TypeName returns the dialect's name for a column type.
func (d Dialect) TypeName(t grpipe.ColumnType) string {
	if t == grpipe.Text {
		return d.Text
	}
	return t.SQL()
}

// Table is a schema-qualified table name.
type Table struct {
	Schema, Name string
}

// String returns "schema.name", as messages and users write it.
func (t Table) String() string { return t.Schema + "." + t.Name }

// Quoted returns the table as a quoted SQL identifier: "schema"."name".
func (t Table) Quoted() string { return QuoteIdent(t.Schema) + "." + QuoteIdent(t.Name) }

// ParseTable reads "schema.name".
func ParseTable(s string) (Table, error) {
	schema, name, ok := strings.Cut(s, ".")
	if !ok || schema == "" || name == "" || strings.Contains(name, ".") {
		return Table{}, fmt.Errorf("%w: table %q: give it as schema.table (e.g. goodreads_warehouse.reviews)", grpipe.ErrBadInput, s)
	}
	return Table{Schema: schema, Name: name}, nil
}

// TableDef is a table's name and columns.
type TableDef struct {
	Table   Table
	Columns []ColumnDef
}

// ColumnDef is a column name and its SQL type in the backend's dialect.
type ColumnDef struct {
	Name string
	Type string
}

// QuoteIdent quotes name as an SQL identifier (a schema, table or column
// name): in double quotes, with any double quote doubled. Every template
// writes identifiers through it (the template function ident).
func QuoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}
