// Package warehouse is the portable warehouse loader: staging, the
// newer-wins upsert, data-quality checks and the analytics tables are written
// once here, in SQL that DuckDB, PostgreSQL and Redshift accept. A backend
// (a Driver) supplies only its connection, its dialect and its bulk-load path.
package warehouse

import (
	"bytes"
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"text/template"
	"time"

	grpipe "github.com/grpipe/grpipe"
)

//go:embed sql/*.sql
var sqlFiles embed.FS

// Driver is a warehouse backend.
type Driver interface {
	// DB is the backend's connection pool.
	DB() *sql.DB
	// Dialect names the backend's types.
	Dialect() Dialect
	// LoadParquet appends the rows of local Parquet files to table, whose
	// columns are given in file order, and returns the number of rows loaded.
	LoadParquet(ctx context.Context, table string, columns []string, files []string) (int64, error)
	// Close closes the backend.
	Close() error
}

// Explainer is implemented by drivers that can turn their errors into ones
// that say what to do (a server down, a refused login, a lost connection).
// The warehouse passes every statement's error through it.
type Explainer interface {
	Explain(err error) error
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

// Dialect holds what differs between backends in DDL.
type Dialect struct {
	// Name is the backend's name: duckdb, postgres.
	Name string
	// Text is the type of text columns.
	Text string
}

// TypeName returns the dialect's name for a column type.
func (d Dialect) TypeName(t grpipe.ColumnType) string {
	if t == grpipe.Text {
		return d.Text
	}
	return t.SQL()
}

// Warehouse is a portable warehouse over a Driver.
type Warehouse struct {
	drv  Driver
	db   *sql.DB
	tmpl *template.Template
	log  *slog.Logger
}

// New returns a warehouse over drv.
func New(drv Driver, log *slog.Logger) (*Warehouse, error) {
	t, err := template.New("sql").Option("missingkey=error").ParseFS(sqlFiles, "sql/*.sql")
	if err != nil {
		return nil, fmt.Errorf("parse warehouse sql: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Warehouse{drv: drv, db: drv.DB(), tmpl: t, log: log}, nil
}

// Dialect returns the backend's dialect.
func (w *Warehouse) Dialect() Dialect { return w.drv.Dialect() }

// DB returns the backend's connection pool.
func (w *Warehouse) DB() *sql.DB { return w.db }

// Close closes the backend.
func (w *Warehouse) Close() error { return w.drv.Close() }

// stmt renders the named SQL template: sql/<name>.<dialect>.sql when the
// backend needs its own form of the statement, else the portable
// sql/<name>.sql.
func (w *Warehouse) stmt(name string, data any) (string, error) {
	file := name + ".sql"
	if t := w.tmpl.Lookup(name + "." + w.Dialect().Name + ".sql"); t != nil {
		file = t.Name()
	}
	var b bytes.Buffer
	if err := w.tmpl.ExecuteTemplate(&b, file, data); err != nil {
		return "", fmt.Errorf("render %s: %w", file, err)
	}
	return b.String(), nil
}

// explain passes err through the driver's Explainer, if it has one.
func (w *Warehouse) explain(err error) error {
	if x, ok := w.drv.(Explainer); ok && err != nil {
		return x.Explain(err)
	}
	return err
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func (w *Warehouse) exec(ctx context.Context, x execer, name string, data any, args ...any) (int64, error) {
	q, err := w.stmt(name, data)
	if err != nil {
		return 0, err
	}
	r, err := x.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, w.explain(err))
	}
	n, _ := r.RowsAffected()
	return n, nil
}

// TableDef is a table's name and columns.
type TableDef struct {
	Table   string
	Columns []ColumnDef
}

// ColumnDef is a column name and its SQL type.
type ColumnDef struct {
	Name string
	Type string
}

func (w *Warehouse) entityDef(schema string, e grpipe.Entity) TableDef {
	d := TableDef{Table: schema + "." + e.Name}
	for _, c := range e.Columns {
		d.Columns = append(d.Columns, ColumnDef{Name: c.Name, Type: w.Dialect().TypeName(c.Type)})
	}
	return d
}

func (w *Warehouse) qualityDefs() []TableDef {
	t := w.Dialect().Text
	return []TableDef{
		{Table: "goodreads_quality.rejected_rows", Columns: []ColumnDef{
			{"run_id", t}, {"entity", t}, {"source_file", t}, {"line", "BIGINT"},
			{"column_name", t}, {"reason", t}, {"raw", t}}},
		{Table: "goodreads_quality.loaded_batches", Columns: []ColumnDef{
			{"batch_id", t}, {"entity", t}, {"read_rows", "BIGINT"}, {"rejected", "BIGINT"},
			{"superseded", "BIGINT"}, {"staged", "BIGINT"}, {"inserted", "BIGINT"}, {"updated", "BIGINT"},
			{"stale", "BIGINT"}, {"loaded_at", "TIMESTAMP"}}},
	}
}

// rejectsDef is the staging table of a batch's rejected rows (the columns of
// the transform's rejects Parquet).
func (w *Warehouse) rejectsDef() TableDef {
	t := w.Dialect().Text
	return TableDef{Table: "goodreads_staging.rejected_rows", Columns: []ColumnDef{
		{"source_file", t}, {"line", "BIGINT"}, {"column_name", t}, {"reason", t}, {"raw", t}}}
}

// Setup creates the schemas and the warehouse and quality tables if missing.
func (w *Warehouse) Setup(ctx context.Context) error {
	for _, s := range []string{"goodreads_staging", "goodreads_warehouse", "goodreads_quality"} {
		if _, err := w.exec(ctx, w.db, "schema", map[string]string{"Schema": s}); err != nil {
			return fmt.Errorf("warehouse setup: %w", err)
		}
	}
	defs := append(w.qualityDefs(), w.sourceKeysDef())
	for _, e := range grpipe.Entities() {
		defs = append(defs, w.entityDef("goodreads_warehouse", e))
	}
	for _, d := range defs {
		if _, err := w.exec(ctx, w.db, "create_table", d); err != nil {
			return fmt.Errorf("warehouse setup: %w", err)
		}
	}
	return nil
}

// Loaded returns the ledger recorded when batch's rows of entity were
// committed, and whether they were.
func (w *Warehouse) Loaded(ctx context.Context, batch string, e grpipe.Entity) (grpipe.Ledger, bool, error) {
	q, err := w.stmt("batch_get", nil)
	if err != nil {
		return grpipe.Ledger{}, false, err
	}
	var l grpipe.Ledger
	err = w.db.QueryRowContext(ctx, q, batch, e.Name).Scan(&l.Read, &l.Rejected, &l.Superseded, &l.Staged, &l.Inserted, &l.Updated, &l.Stale)
	if errors.Is(err, sql.ErrNoRows) {
		return grpipe.Ledger{}, false, nil
	}
	if err != nil {
		return grpipe.Ledger{}, false, fmt.Errorf("loaded batches: %w", w.explain(err))
	}
	return l, true, nil
}

// Stage recreates entity e's staging table and the staging table of
// rejected rows, and bulk-loads them from local Parquet (parquet: the staged
// rows, rejects: the rejected rows; either may be empty). The row counts must
// match the transform's ledger.
func (w *Warehouse) Stage(ctx context.Context, e grpipe.Entity, parquet, rejects string, ledger grpipe.Ledger) error {
	staging := w.entityDef("goodreads_staging", e)
	if ps, ok := w.drv.(ParquetStager); ok {
		for _, st := range []struct {
			def  TableDef
			file string
			want int64
		}{{staging, parquet, ledger.Staged}, {w.rejectsDef(), rejects, ledger.Rejected}} {
			var files []string
			if st.file != "" {
				files = []string{st.file}
			}
			n, err := ps.StageParquet(ctx, st.def, files)
			if err != nil {
				return fmt.Errorf("stage %s: %w", st.def.Table, err)
			}
			if st.file != "" && n != st.want {
				return fmt.Errorf("stage %s: %d rows in %s, expected %d", st.def.Table, n, st.file, st.want)
			}
		}
		return nil
	}
	if err := w.recreate(ctx, staging); err != nil {
		return err
	}
	if parquet != "" {
		n, err := w.drv.LoadParquet(ctx, staging.Table, e.ColumnNames(), []string{parquet})
		if err != nil {
			return fmt.Errorf("load %s: %w", staging.Table, err)
		}
		if n != ledger.Staged {
			return fmt.Errorf("load %s: %d rows loaded from %s, expected %d", staging.Table, n, parquet, ledger.Staged)
		}
	}
	rdef := w.rejectsDef()
	if err := w.recreate(ctx, rdef); err != nil {
		return err
	}
	if rejects != "" {
		n, err := w.drv.LoadParquet(ctx, rdef.Table, []string{"source_file", "line", "column_name", "reason", "raw"}, []string{rejects})
		if err != nil {
			return fmt.Errorf("load %s: %w", rdef.Table, err)
		}
		if n != ledger.Rejected {
			return fmt.Errorf("load %s: %d rejected rows in %s, expected %d", rdef.Table, n, rejects, ledger.Rejected)
		}
	}
	return nil
}

// Upsert applies the staged rows of entity e to the warehouse in one
// transaction, together with the batch's rejected rows and the record that
// the batch was loaded. A stored row is replaced only by a staged version
// whose record_create_timestamp is newer or equal. ledger carries the
// transform's counts; Upsert fills Inserted, Updated and Stale.
func (w *Warehouse) Upsert(ctx context.Context, batch string, e grpipe.Entity, ledger grpipe.Ledger) (grpipe.Ledger, error) {
	return w.upsert(ctx, batch, e, ledger, false)
}

func (w *Warehouse) upsert(ctx context.Context, batch string, e grpipe.Entity, ledger grpipe.Ledger, keys bool) (grpipe.Ledger, error) {
	data := struct {
		Name, Key, ColumnList string
		Keys                  bool
	}{e.Name, e.Key, strings.Join(e.ColumnNames(), ", "), keys}
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return ledger, fmt.Errorf("upsert %s: %w", e.Name, w.explain(err))
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var collided int64
	if keys {
		q, err := w.stmt("source_keys_collisions", nil)
		if err != nil {
			return ledger, err
		}
		if err := tx.QueryRowContext(ctx, q, e.Name).Scan(&collided); err != nil {
			return ledger, fmt.Errorf("upsert %s: source keys: %w", e.Name, w.explain(err))
		}
	}
	replaced, err := w.exec(ctx, tx, "upsert_delete", data)
	if err != nil {
		return ledger, fmt.Errorf("upsert %s: %w", e.Name, err)
	}
	added, err := w.exec(ctx, tx, "upsert_insert", data)
	if err != nil {
		return ledger, fmt.Errorf("upsert %s: %w", e.Name, err)
	}
	if _, err := w.exec(ctx, tx, "rejected_delete", nil, batch, e.Name); err != nil {
		return ledger, fmt.Errorf("upsert %s: %w", e.Name, err)
	}
	if _, err := w.exec(ctx, tx, "rejected_insert", nil, batch, e.Name); err != nil {
		return ledger, fmt.Errorf("upsert %s: %w", e.Name, err)
	}
	if keys {
		if collided > 0 {
			if _, err := w.exec(ctx, tx, "source_keys_reject", nil, batch, e.Name, e.Key); err != nil {
				return ledger, fmt.Errorf("upsert %s: %w", e.Name, err)
			}
			w.log.Warn("derived ids collide with stored keys: rows quarantined", "table", e.Name, "rows", collided)
			ledger.Rejected += collided
			ledger.Staged -= collided
		}
		if _, err := w.exec(ctx, tx, "source_keys_insert", nil, e.Name); err != nil {
			return ledger, fmt.Errorf("upsert %s: %w", e.Name, err)
		}
	}
	ledger.Updated = replaced
	ledger.Inserted = added - replaced
	ledger.Stale = ledger.Staged - added
	if _, err := w.exec(ctx, tx, "batch_put", nil, batch, e.Name, ledger.Read, ledger.Rejected, ledger.Superseded,
		ledger.Staged, ledger.Inserted, ledger.Updated, ledger.Stale, time.Now().UTC()); err != nil {
		return ledger, fmt.Errorf("upsert %s: %w", e.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return ledger, fmt.Errorf("upsert %s: commit: %w", e.Name, w.explain(err))
	}
	w.log.Info("upserted", "table", e.Name, "batch", batch, "staged", ledger.Staged,
		"inserted", ledger.Inserted, "updated", ledger.Updated, "stale", ledger.Stale, "rejected", ledger.Rejected)
	return ledger, nil
}

// recreate drops and creates a staging table.
func (w *Warehouse) recreate(ctx context.Context, d TableDef) error {
	if _, err := w.exec(ctx, w.db, "drop_table", d); err != nil {
		return err
	}
	_, err := w.exec(ctx, w.db, "create_staging", d)
	return err
}

// Count returns the number of rows of a table ("schema.table").
func (w *Warehouse) Count(ctx context.Context, table string) (int64, error) {
	q, err := w.stmt("check_row_count", map[string]string{"Table": table})
	if err != nil {
		return 0, err
	}
	var n int64
	if err := w.db.QueryRowContext(ctx, q).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s: %w", table, w.explain(err))
	}
	return n, nil
}

func (w *Warehouse) countOf(ctx context.Context, name string, data any) (int64, error) {
	q, err := w.stmt(name, data)
	if err != nil {
		return 0, err
	}
	var n int64
	if err := w.db.QueryRowContext(ctx, q).Scan(&n); err != nil {
		return 0, fmt.Errorf("%s: %w", name, w.explain(err))
	}
	return n, nil
}
