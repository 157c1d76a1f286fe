package transform

import (
	"context"
	"database/sql"
	"embed"
	"strconv"
	"strings"
	"sync"
	"text/template"

	"github.com/grpipe/grpipe/internal/duckdb"
	"github.com/grpipe/grpipe/internal/warehouse/driver"
)

// The transform's DuckDB statements are templates in sql/*.sql, written
// like the warehouse's (identifiers through ident, file names through
// paths and str: DuckDB binds no parameter in read_csv, read_parquet or a
// COPY target). fragments.sql holds the pieces several statements share.
//
//go:embed sql/*.sql
var sqlFiles embed.FS

// statements parses the templates once; they are read-only afterwards.
var statements = sync.OnceValues(func() (*driver.Statements, error) {
	return duckdb.ParseStatements(sqlFiles, "sql/*.sql", template.FuncMap{"ints": joinInts, "int": strconv.Itoa, "codec": copyOptions})
})

// exec renders the statement name (sql/<name>.sql) with data and executes
// it on x.
func exec(ctx context.Context, x driver.Execer, name string, data any) (sql.Result, error) {
	s, err := statements()
	if err != nil {
		return nil, err
	}
	return s.Exec(ctx, x, name, data)
}

// query renders the statement name with data and runs it on conn, scanning
// each row with scan.
func query(ctx context.Context, conn *sql.Conn, name string, data any, scan func(*sql.Rows) error) error {
	s, err := statements()
	if err != nil {
		return err
	}
	q, err := s.Render(name, data)
	if err != nil {
		return err
	}
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return rows.Close()
}

// csvColumn is one column of a read_csv column list: its name and DuckDB type.
type csvColumn struct{ Name, Type string }

// tsvFiles are files the validation pass wrote (tab-separated, unquoted),
// read by read_csv with fragments.sql's tsv_options.
type tsvFiles struct {
	Files       []string
	FileColumns []csvColumn
	// MaxLine bounds a line and Buffer is the reader's buffer; 0 leaves
	// DuckDB's default.
	MaxLine, Buffer int
}

func joinInts(v []int64) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.FormatInt(n, 10)
	}
	return strings.Join(s, ", ")
}
