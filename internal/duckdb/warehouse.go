package duckdb

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/grpipe/grpipe/internal/warehouse"
)

// Warehouse is the embedded default warehouse: a DuckDB file.
type Warehouse struct {
	db *sql.DB
}

var _ warehouse.Driver = (*Warehouse)(nil)

// OpenWarehouse opens (creating if missing) the DuckDB warehouse file at path.
func OpenWarehouse(ctx context.Context, path string, opts Options) (*Warehouse, error) {
	db, err := Open(ctx, path, opts)
	if err != nil {
		return nil, err
	}
	return &Warehouse{db: db}, nil
}

// DB returns the connection pool.
func (w *Warehouse) DB() *sql.DB { return w.db }

// Dialect returns DuckDB's dialect.
func (w *Warehouse) Dialect() warehouse.Dialect {
	return warehouse.Dialect{Name: "duckdb", Text: "VARCHAR"}
}

// LoadParquet inserts the rows of local Parquet files into table.
func (w *Warehouse) LoadParquet(ctx context.Context, table string, columns []string, files []string) (int64, error) {
	cols := strings.Join(columns, ", ")
	q := fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM read_parquet(%s)", table, cols, cols, QuoteList(files))
	r, err := w.db.ExecContext(ctx, q)
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

// Close closes the database.
func (w *Warehouse) Close() error { return w.db.Close() }
