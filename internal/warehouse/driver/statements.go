package driver

import (
	"bytes"
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"strings"
	"text/template"
)

//go:embed sql/*.sql
var commonFiles embed.FS

// Statements are SQL statement templates (text/template), one statement
// per file, rendered for one dialect. Rules every template follows:
//   - identifiers (schema, table and column names) are written through the
//     function ident, or idents for a list, never pasted bare;
//   - values are bound parameters ($1, $2, ...), never rendered into the
//     text. (DuckDB's table functions cannot bind file names: the duckdb
//     package renders those with its own function, paths, which quotes them
//     as string literals.)
type Statements struct {
	t       *template.Template
	dialect string
}

// ParseStatements parses the templates in fsys matching pattern, for
// dialect. A template may call: ident (quotes a name, or a Table as
// "schema"."name"), idents (quotes a list of names and joins them with
// ", "), the functions in funcs, and the fragments of this package's
// sql/common.sql (column_defs: the column list of a TableDef).
func ParseStatements(fsys fs.FS, pattern, dialect string, funcs template.FuncMap) (*Statements, error) {
	t := template.New("sql").Option("missingkey=error").Funcs(template.FuncMap{"ident": ident, "idents": idents})
	if funcs != nil {
		t = t.Funcs(funcs)
	}
	t, err := t.ParseFS(commonFiles, "sql/*.sql")
	if err != nil {
		return nil, fmt.Errorf("parse common sql templates: %w", err)
	}
	if t, err = t.ParseFS(fsys, pattern); err != nil {
		return nil, fmt.Errorf("parse sql templates: %w", err)
	}
	return &Statements{t: t, dialect: dialect}, nil
}

// Render renders the statement name: the template <name>.<dialect>.sql when
// the dialect has its own form of the statement, else <name>.sql.
func (s *Statements) Render(name string, data any) (string, error) {
	file := name + ".sql"
	if t := s.t.Lookup(name + "." + s.dialect + ".sql"); t != nil {
		file = t.Name()
	}
	var b bytes.Buffer
	if err := s.t.ExecuteTemplate(&b, file, data); err != nil {
		return "", fmt.Errorf("render %s: %w", file, err)
	}
	return b.String(), nil
}

// Execer runs a statement: a *sql.DB, *sql.Conn or *sql.Tx.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Exec renders the statement name with data and executes it on x with
// args. A database error is returned as the database gave it: the caller
// maps it and names the statement.
func (s *Statements) Exec(ctx context.Context, x Execer, name string, data any, args ...any) (sql.Result, error) {
	q, err := s.Render(name, data)
	if err != nil {
		return nil, err
	}
	return x.ExecContext(ctx, q, args...)
}

func ident(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return QuoteIdent(x), nil
	case Table:
		return x.Quoted(), nil
	}
	return "", fmt.Errorf("ident: %T %v is not a name", v, v)
}

func idents(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = QuoteIdent(n)
	}
	return strings.Join(q, ", ")
}
