package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/grpipe/grpipe/internal/warehouse"
)

// Warehouse is the embedded default warehouse: a DuckDB file.
type Warehouse struct {
	db *sql.DB
}

var (
	_ warehouse.Driver        = (*Warehouse)(nil)
	_ warehouse.ParquetStager = (*Warehouse)(nil)
)

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

// StageParquet makes def a view over the Parquet files (columns cast to
// def's types), or an empty table when there are none: staging then costs
// no copy, and the upsert reads the files directly.
func (w *Warehouse) StageParquet(ctx context.Context, def warehouse.TableDef, files []string) (int64, error) {
	schema, name, _ := strings.Cut(def.Table, ".")
	var kind string
	err := w.db.QueryRowContext(ctx, `SELECT 'VIEW' FROM duckdb_views() WHERE schema_name = $1 AND view_name = $2
UNION ALL SELECT 'TABLE' FROM duckdb_tables() WHERE schema_name = $1 AND table_name = $2`, schema, name).Scan(&kind)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return 0, err
	default:
		if _, err := w.db.ExecContext(ctx, "DROP "+kind+" "+def.Table); err != nil {
			return 0, err
		}
	}
	cols := make([]string, len(def.Columns))
	for i, c := range def.Columns {
		cols[i] = fmt.Sprintf("%s %s", c.Name, c.Type)
	}
	if len(files) == 0 {
		_, err := w.db.ExecContext(ctx, fmt.Sprintf("CREATE TABLE %s (%s)", def.Table, strings.Join(cols, ", ")))
		return 0, err
	}
	for i, c := range def.Columns {
		cols[i] = fmt.Sprintf("CAST(%s AS %s) AS %s", c.Name, c.Type, c.Name)
	}
	if _, err := w.db.ExecContext(ctx, fmt.Sprintf("CREATE VIEW %s AS SELECT %s FROM read_parquet(%s)", def.Table, strings.Join(cols, ", "), QuoteList(files))); err != nil {
		return 0, err
	}
	var n int64
	if err := w.db.QueryRowContext(ctx, fmt.Sprintf("SELECT count(*) FROM read_parquet(%s)", QuoteList(files))).Scan(&n); err != nil {
		return 0, err
	}
	return n, nil
}

// Close closes the database.
func (w *Warehouse) Close() error { return w.db.Close() }
